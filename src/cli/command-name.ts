// Which command a `ringfence` command line runs. No imports: bin/ringfence.cjs loads this before
// anything else to pick the bundled entry of a hot command (see scripts/copy-assets.mjs).

/** Global options that take a value, so their values are not mistaken for the command name. */
const GLOBAL_WITH_VALUE = new Set(['--config', '--env']);

/**
 * The first positional argument: the command being run, if any.
 * @example commandName(['--env', 'prod', 'sandbox', 'exec']) // 'sandbox'
 */
export function commandName(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (GLOBAL_WITH_VALUE.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

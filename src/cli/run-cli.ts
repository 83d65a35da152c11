// The `ringfence` program: root options, the registration of the command being run, and the
// mapping of ringfence errors to `ringfence: ...` lines and exit codes. Shared by both entries.
import { Command } from 'commander';
import { RingfenceError, ConfigError, formatIssues } from '../errors.js';
import { commandName } from './command-name.js';

export type Register = (program: Command) => void;

/** Top-level command name → loader of the module that registers it. */
export type CommandLoaders = Record<string, () => Promise<Register>>;

/**
 * Registers the command named on the command line (every command when none or an unknown one
 * is named, so help and "unknown command" list them all), runs it, and turns a ConfigError into
 * `path: message` lines with exit 2 and any other RingfenceError into `code: message`, exit 1.
 */
export async function runCli(argv: readonly string[], commands: CommandLoaders): Promise<void> {
  const program = new Command();
  program
    .name('ringfence')
    .description('Run AI agents in layered, ephemeral sandboxes')
    .version('0.1.0')
    .option(
      '--config <file>',
      'config file (default: RINGFENCE_CONFIG, ./ringfence.yaml, built-in)',
    )
    .option('--env <tier>', 'tier: dev, staging or prod (default: RINGFENCE_ENV or dev)');

  const wanted = commandName(argv.slice(2));
  const loaders =
    wanted && wanted in commands ? [commands[wanted]!] : [...new Set(Object.values(commands))];
  const registered = new Set<Register>();
  for (const load of loaders) {
    const register = await load();
    if (!registered.has(register)) register(program);
    registered.add(register);
  }

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ringfence: ${err.message}\n${formatIssues(err.issues)}\n`);
      process.exit(2);
    }
    if (err instanceof RingfenceError) {
      process.stderr.write(`ringfence: ${err.code}: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

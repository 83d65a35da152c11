// The `ringfence` command line. Each sub-command lives in its own module; only the module of the
// command being run is loaded, so `ringfence sandbox exec` does not pay for the model SDKs.
import { Command } from 'commander';
import { RingfenceError, ConfigError, formatIssues } from '../errors.js';

type Register = (program: Command) => void;

/** Top-level command name → loader of the module that registers it. */
const COMMANDS: Record<string, () => Promise<Register>> = {
  config: async () => (await import('./config-command.js')).registerConfigCommand,
  sandbox: async () => (await import('./sandbox-command.js')).registerSandboxCommand,
  doctor: async () => (await import('./doctor-command.js')).registerDoctorCommand,
  audit: async () => (await import('./audit-command.js')).registerAuditCommand,
  model: async () => (await import('./model-command.js')).registerModelCommand,
  canary: async () => (await import('./model-command.js')).registerModelCommand,
  demo: async () => (await import('./demo-command.js')).registerDemoCommand,
  image: async () => (await import('./image-command.js')).registerImageCommand,
  run: async () => (await import('./run-command.js')).registerRunCommand,
  keys: async () => (await import('./keys-command.js')).registerKeysCommand,
  serve: async () => (await import('./serve-command.js')).registerServeCommand,
  worker: async () => (await import('./serve-command.js')).registerServeCommand,
};

/** Global options that take a value, so their values are not mistaken for the command name. */
const GLOBAL_WITH_VALUE = new Set(['--config', '--env']);

/** The first positional argument: the command being run, if any. */
export function commandName(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (GLOBAL_WITH_VALUE.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

const program = new Command();
program
  .name('ringfence')
  .description('Run AI agents in layered, ephemeral sandboxes')
  .version('0.1.0')
  .option('--config <file>', 'config file (default: RINGFENCE_CONFIG, ./ringfence.yaml, built-in)')
  .option('--env <tier>', 'tier: dev, staging or prod (default: RINGFENCE_ENV or dev)');

const wanted = commandName(process.argv.slice(2));
const loaders =
  wanted && wanted in COMMANDS ? [COMMANDS[wanted]!] : [...new Set(Object.values(COMMANDS))];
const registered = new Set<Register>();
for (const load of loaders) {
  const register = await load();
  if (!registered.has(register)) register(program);
  registered.add(register);
}

try {
  await program.parseAsync(process.argv);
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

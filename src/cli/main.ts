// The `ringfence` command line. Each sub-command lives in its own module; only the module of the
// command being run is loaded, so `ringfence sandbox exec` does not pay for the model SDKs.
import { runCli, type CommandLoaders } from './run-cli.js';

/** Top-level command name → loader of the module that registers it. */
const COMMANDS: CommandLoaders = {
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

await runCli(process.argv, COMMANDS);

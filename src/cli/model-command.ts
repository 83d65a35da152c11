// `ringfence model serve --script F [--port P]` runs the scripted model server standalone;
// `ringfence canary status [--dir D]` prints the persisted canary state.
import type { Command } from 'commander';
import { RingfenceError } from '../errors.js';
import { loadScript } from '../models/scripted/script-schema.js';
import { ScriptedServer } from '../models/scripted/scripted-server.js';
import { readCanaryStates } from '../models/canary/canary-store.js';

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) {
    throw new RingfenceError('invalid_request', `--port must be 0..65535, got ${v}`);
  }
  return n;
}

export function registerModelCommand(program: Command): void {
  const model = program.command('model').description('model gateway tools');
  model
    .command('serve')
    .description('serve the Anthropic Messages API from a YAML script (the scripted model)')
    .requiredOption('--script <file>', 'YAML script of turns')
    .option('--port <port>', 'port (default: an ephemeral one)', parsePort)
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .action(async (opts: { script: string; port?: number; host: string }) => {
      const server = new ScriptedServer({
        script: loadScript(opts.script),
        host: opts.host,
        ...(opts.port === undefined ? {} : { port: opts.port }),
      });
      const url = await server.start();
      process.stdout.write(`${url}\n`);
      process.stderr.write(`scripted model listening; use ANTHROPIC_BASE_URL=${url}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          void server.close().then(resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });

  const canary = program.command('canary').description('canary routing');
  canary
    .command('status')
    .description('print the persisted canary state of every tier as JSON')
    .requiredOption('--dir <dir>', 'canary state directory (the gateway canary stateDir)')
    .action((opts: { dir: string }) => {
      process.stdout.write(`${JSON.stringify(readCanaryStates(opts.dir), null, 2)}\n`);
    });
}

// `ringfence serve`: the API + in-process workers on the data directory's SQLite (one command
// brings up a working service); `ringfence worker`: the workers alone. SIGTERM drains gracefully.
import type { Command } from 'commander';
import { loadConfig, resolveTier } from '../config/load-config.js';
import { ConfigError } from '../errors.js';
import { RingfenceService } from '../service/ringfence-service.js';
import type { StorageLogger } from '../storage/storage-logger.js';
import { globalOptions } from './config-command.js';
import { runServeDemo } from './serve-demo.js';

interface ServeFlags {
  port?: string;
  host?: string;
  workers?: string;
  dataDir?: string;
  drainMs?: string;
  visibilityMs?: string;
  verbose?: boolean;
  demo?: boolean;
}

function intFlag(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigError('invalid options', [
      { path: name, message: `must be an integer >= ${min}` },
    ]);
  return n;
}

/** Debug output to stderr only (never stdout: stdout carries the URL and the first key). */
function stderrLogger(verbose: boolean): StorageLogger {
  const line = (level: string) => (obj: unknown, msg?: string) => {
    const text =
      typeof obj === 'string'
        ? obj
        : `${msg ?? ''} ${JSON.stringify(obj, (_k, v: unknown) => (v instanceof Error ? v.message : v))}`;
    process.stderr.write(`ringfence ${level}: ${text}\n`);
  };
  const noop = (): void => undefined;
  return {
    debug: verbose ? line('debug') : noop,
    info: verbose ? line('info') : noop,
    warn: line('warn'),
    error: line('error'),
  };
}

function addOptions(cmd: Command, api: boolean): Command {
  if (api) {
    cmd
      .option('--port <port>', 'API port (default 8080; 0 picks a free one)')
      .option('--host <host>', 'API listen address (default 127.0.0.1)');
  }
  return cmd
    .option('--workers <n>', 'sessions run at once by in-process workers (default 2)')
    .option(
      '--data-dir <dir>',
      "data directory (default: the config's, RINGFENCE_HOME or ~/.ringfence)",
    )
    .option('--drain-ms <ms>', 'SIGTERM: how long running turns may finish (default 30000)')
    .option('--visibility-ms <ms>', 'lease lifetime without a heartbeat (default 30000)')
    .option('--verbose', 'debug logs on stderr')
    .option('--demo', 'after start, run one demo session over the HTTP API and print it');
}

async function serve(flags: ServeFlags, cmd: Command, api: boolean): Promise<void> {
  const g = globalOptions(cmd);
  const { config, path } = loadConfig(g.configPath);
  const home = resolveTier(config, g.env, path);
  const dataDir = flags.dataDir ?? home.dataDir;
  const resolve = (name: string) => ({ ...resolveTier(config, name, path), dataDir });
  const visibilityMs = intFlag('--visibility-ms', flags.visibilityMs, 1000);
  const service = new RingfenceService({
    dataDir,
    resolveTier: resolve,
    defaultTier: home.name,
    tiers: Object.keys(config.tiers),
    api,
    workers: intFlag('--workers', flags.workers, 0) ?? 2,
    port: intFlag('--port', flags.port, 0) ?? 8080,
    host: flags.host ?? '127.0.0.1',
    logger: stderrLogger(flags.verbose === true),
    ...(visibilityMs === undefined
      ? {}
      : { visibilityMs, heartbeatIntervalMs: Math.max(200, Math.floor(visibilityMs / 3)) }),
  });
  const drainMs = intFlag('--drain-ms', flags.drainMs, 0);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`ringfence: ${signal}: draining (a second signal exits at once)\n`);
    service.close(drainMs).then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`ringfence: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await service.start();
  if (api) {
    const keys = service.stores.keys;
    if ((await keys.listTenants()).length === 0) {
      const created = await keys.createKey('default', 'admin');
      process.stdout.write(`admin key for tenant default (shown once): ${created.key}\n`);
    }
    process.stdout.write(
      `ringfence serve: listening on ${service.url ?? ''} (env ${home.name}, data ${dataDir})\n`,
    );
    if (flags.demo === true && service.url) {
      // A key of its own, so the demo never needs the admin key shown once above.
      const demoKey = await keys.createKey('default', 'submit');
      const ok = await runServeDemo(service.url, demoKey.key, process.stdout);
      process.stdout.write(
        `demo: ${ok ? 'succeeded' : 'did not succeed'}; the service keeps running (Ctrl-C stops it)\n`,
      );
    }
  } else {
    process.stdout.write(`ringfence worker: ${service.workers.length} workers on ${dataDir}\n`);
  }
}

export function registerServeCommand(program: Command): void {
  addOptions(
    program.command('serve').description('run the service: HTTP API + workers on SQLite'),
    true,
  ).action(async (flags: ServeFlags, cmd: Command) => serve(flags, cmd, true));
  addOptions(
    program
      .command('worker')
      .description('run service workers only (no API) on the data directory'),
    false,
  ).action(async (flags: ServeFlags, cmd: Command) => serve(flags, cmd, false));
}

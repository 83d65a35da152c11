// `ringfence serve`: the API + in-process workers on the data directory's SQLite (one command
// brings up a working service); `ringfence worker`: the workers alone. SIGTERM drains gracefully.
import type { Command } from 'commander';
import { loadConfig, resolveTier } from '../config/load-config.js';
import { ConfigError } from '../errors.js';
import type { RateLimitConfig } from '../server/rate-limits.js';
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
  tenantCap?: string[];
  defaultTenantCap?: string;
  maxConcurrentSessions?: string;
  sessionsPerMin?: string;
  requestsPerSec?: string;
  requestBurst?: string;
}

/** The per-tenant limits of `serve` / `worker` flags (absent flags keep the defaults). */
export interface ServiceLimits {
  limits: Partial<RateLimitConfig>;
  tenantCaps?: Record<string, number>;
  defaultTenantCap?: number;
}

const TENANT_CAP = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})=(\d+)$/;

/**
 * Parses the limit flags; throws ConfigError naming the flag.
 * @example serviceLimitsFromFlags({ tenantCap: ['acme=4'], sessionsPerMin: '30' })
 */
export function serviceLimitsFromFlags(
  flags: Pick<
    ServeFlags,
    | 'tenantCap'
    | 'defaultTenantCap'
    | 'maxConcurrentSessions'
    | 'sessionsPerMin'
    | 'requestsPerSec'
    | 'requestBurst'
  >,
): ServiceLimits {
  const limits: Partial<RateLimitConfig> = {};
  const set = (key: keyof RateLimitConfig, flag: string, raw: string | undefined): void => {
    const n = intFlag(flag, raw, 1);
    if (n !== undefined) limits[key] = n;
  };
  set('maxConcurrentSessions', '--max-concurrent-sessions', flags.maxConcurrentSessions);
  set('sessionsPerMin', '--sessions-per-min', flags.sessionsPerMin);
  set('requestsPerSec', '--requests-per-sec', flags.requestsPerSec);
  set('requestBurst', '--request-burst', flags.requestBurst);
  const out: ServiceLimits = { limits };
  for (const raw of flags.tenantCap ?? []) {
    const m = TENANT_CAP.exec(raw);
    const n = Number(m?.[2]);
    if (m?.[1] === undefined || !Number.isSafeInteger(n) || n < 1) {
      throw new ConfigError('invalid options', [
        { path: '--tenant-cap', message: `"${raw}" must be TENANT=N with N >= 1` },
      ]);
    }
    out.tenantCaps = { ...out.tenantCaps, [m[1]]: n };
  }
  const def = intFlag('--default-tenant-cap', flags.defaultTenantCap, 1);
  if (def !== undefined) out.defaultTenantCap = def;
  return out;
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
    .option(
      '--tenant-cap <tenant=n>',
      'sessions of TENANT run at once by the workers (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--default-tenant-cap <n>', 'the same for tenants without --tenant-cap (default: none)')
    .option('--max-concurrent-sessions <n>', 'API: queued+running sessions per tenant (default 20)')
    .option('--sessions-per-min <n>', 'API: new sessions per tenant per minute (default 60)')
    .option('--requests-per-sec <n>', 'API: sustained requests/s per tenant (default 50)')
    .option('--request-burst <n>', 'API: request burst per tenant (default 100)')
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
  const limits = serviceLimitsFromFlags(flags);
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
    limits: limits.limits,
    ...(limits.tenantCaps === undefined ? {} : { tenantCaps: limits.tenantCaps }),
    ...(limits.defaultTenantCap === undefined ? {} : { defaultTenantCap: limits.defaultTenantCap }),
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

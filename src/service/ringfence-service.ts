// The embedded service of `ringfence serve`: API + N in-process workers running the real agent
// loop + retention + sandbox reaper, all on one SQLite data directory. close() drains gracefully.
import type { FastifyInstance } from 'fastify';
import { openAuditLog } from '../audit/open-audit.js';
import type { ResolvedTier } from '../config/load-config.js';
import type { AgentEvent } from '../agent/agent-events.js';
import { buildApiServer } from '../server/api-server.js';
import type { ApiContext } from '../server/api-context.js';
import {
  DEFAULT_RATE_LIMITS,
  TenantRateLimiter,
  type RateLimitConfig,
} from '../server/rate-limits.js';
import { ServiceMetrics } from '../server/service-metrics.js';
import { SessionControl } from '../server/session-control.js';
import { SloMonitor, type MonitoredTier } from '../monitoring/slo-monitor.js';
import { SqliteAlertStore } from '../monitoring/sqlite/sqlite-alert-store.js';
import { Reaper } from '../sandbox/reaper.js';
import { silentLogger, type StorageLogger } from '../storage/storage-logger.js';
import { AgentSessionRunner } from '../worker/agent-session-runner.js';
import { RetentionJob } from '../worker/retention-job.js';
import { SessionWorker } from '../worker/session-worker.js';
import { DRAIN_DEADLINE_MS } from '../worker/worker-options.js';
import { openServiceStores, type ServiceStores } from './service-stores.js';
import { TierRuntimes } from './tier-runtimes.js';

export const DEFAULT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export interface RingfenceServiceOptions {
  dataDir: string;
  /** Resolves a tier by name (throws when not configured). */
  resolveTier: (name: string) => ResolvedTier;
  /** Tier of sessions that name none. */
  defaultTier: string;
  /** Tiers a session may ask for; absent: any `resolveTier` accepts. */
  tiers?: readonly string[];
  /** false: workers only (`ringfence worker`). Default true. */
  api?: boolean;
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** In-process workers, one session each at a time. Default 2; 0: API only. */
  workers?: number;
  limits?: Partial<RateLimitConfig>;
  /** Per-tenant caps on sessions run at once by the workers (fair share). Absent: none. */
  tenantCaps?: Readonly<Record<string, number>>;
  /** Cap of tenants not in `tenantCaps`. Absent: only the worker count bounds a tenant. */
  defaultTenantCap?: number;
  /** SLO monitoring of tiers with a `monitoring` config: env of webhook secrets, retry base. */
  monitoring?: { env?: NodeJS.ProcessEnv; webhookBaseDelayMs?: number };
  retentionMs?: number;
  /** Lease timings (tests shorten them). */
  visibilityMs?: number;
  heartbeatIntervalMs?: number;
  pollIntervalMs?: number;
  approvalTimeoutMs?: number;
  /** Periodic reaper of sandboxes a crashed process left. Default true. */
  reaper?: boolean;
  onEvent?: (sessionId: string, event: AgentEvent) => void;
  logger?: StorageLogger;
}

export class RingfenceService {
  readonly #o: RingfenceServiceOptions;
  readonly stores: ServiceStores;
  readonly metrics = new ServiceMetrics({ defaultMetrics: true });
  readonly control = new SessionControl();
  readonly workers: SessionWorker[] = [];
  #app: FastifyInstance | undefined;
  #runtimes: TierRuntimes;
  #audit: ReturnType<typeof openAuditLog>;
  #retention: RetentionJob;
  #reaper: Reaper | undefined;
  #monitor: SloMonitor | undefined;
  #url: string | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: RingfenceServiceOptions) {
    this.#o = Object.freeze({ ...options });
    const log = options.logger ?? silentLogger;
    this.stores = openServiceStores({ dataDir: options.dataDir, logger: log });
    this.#audit = openAuditLog({ dataDir: options.dataDir, logger: log });
    this.#runtimes = new TierRuntimes(options.resolveTier);
    this.#retention = new RetentionJob({
      store: this.stores.store,
      retentionMs: options.retentionMs ?? DEFAULT_RETENTION_MS,
      logger: log,
    });
  }

  /** The API's base URL once started (undefined without API). */
  get url(): string | undefined {
    return this.#url;
  }

  get app(): FastifyInstance | undefined {
    return this.#app;
  }

  /** The SLO monitor once started; undefined when no tier configures `monitoring`. */
  get monitor(): SloMonitor | undefined {
    return this.#monitor;
  }

  /** Tiers whose config has `monitoring` (a tier that does not resolve is skipped). */
  #monitoredTiers(): MonitoredTier[] {
    const out: MonitoredTier[] = [];
    for (const name of this.#o.tiers ?? [this.#o.defaultTier]) {
      let tier: ResolvedTier;
      try {
        tier = this.#o.resolveTier(name);
      } catch {
        continue;
      }
      if (tier.monitoring !== undefined) out.push({ tier: name, config: tier.monitoring });
    }
    return out;
  }

  /** Starts workers, retention, the reaper and the API (listening). */
  async start(): Promise<void> {
    const o = this.#o;
    const log = o.logger ?? silentLogger;
    const monitored = this.#monitoredTiers();
    if (monitored.length > 0) {
      // Throws (ConfigError) before anything starts when a webhook secret is missing.
      this.#monitor = new SloMonitor({
        tiers: monitored,
        store: new SqliteAlertStore({ db: this.stores.db }),
        logger: log,
        ...(o.monitoring?.env === undefined ? {} : { env: o.monitoring.env }),
        ...(o.monitoring?.webhookBaseDelayMs === undefined
          ? {}
          : { webhookBaseDelayMs: o.monitoring.webhookBaseDelayMs }),
      });
      this.#monitor.start();
    }
    const monitor = this.#monitor;
    if (o.reaper !== false) {
      this.#reaper = new Reaper({ logger: log });
      await this.#reaper.start().catch((err: unknown) => log.warn({ err }, 'reaper failed'));
    }
    const runner = new AgentSessionRunner({
      store: this.stores.store,
      runtimes: this.#runtimes,
      dataDir: o.dataDir,
      audit: this.#audit.log,
      logger: log,
      ...(o.approvalTimeoutMs === undefined ? {} : { approvalTimeoutMs: o.approvalTimeoutMs }),
      onEvent: (sessionId, event, session) => {
        o.onEvent?.(sessionId, event);
        monitor?.observe(session.tier, sessionId, event);
      },
    });
    for (let i = 0; i < (o.workers ?? 2); i++) {
      const w = new SessionWorker({
        queue: this.stores.queue,
        store: this.stores.store,
        runner,
        control: this.control,
        metrics: this.metrics,
        concurrency: 1,
        logger: log,
        ...(monitor === undefined
          ? {}
          : { onSessionEnd: (s, status) => monitor.recordSession(s.tier, status) }),
        ...(o.tenantCaps === undefined ? {} : { tenantCaps: o.tenantCaps }),
        ...(o.defaultTenantCap === undefined ? {} : { defaultTenantCap: o.defaultTenantCap }),
        ...(o.visibilityMs === undefined ? {} : { visibilityMs: o.visibilityMs }),
        ...(o.heartbeatIntervalMs === undefined
          ? {}
          : { heartbeatIntervalMs: o.heartbeatIntervalMs }),
        ...(o.pollIntervalMs === undefined ? {} : { pollIntervalMs: o.pollIntervalMs }),
      });
      this.workers.push(w);
      w.start();
    }
    this.#retention.start();
    if (o.api === false) return;
    const ctx: ApiContext = {
      store: this.stores.store,
      queue: this.stores.queue,
      keys: this.stores.keys,
      uploads: this.stores.uploads,
      metrics: this.metrics,
      control: this.control,
      limiter: new TenantRateLimiter({ ...DEFAULT_RATE_LIMITS, ...o.limits }),
      defaultTier: o.defaultTier,
      ...(o.tiers === undefined ? {} : { tiers: o.tiers }),
      audit: { store: this.#audit.store, publicKeyPem: this.#audit.publicKeyPem },
      readiness: async () => {
        const store = this.stores.writable();
        let driver: { ok: boolean; detail?: string } = { ok: true };
        try {
          const rt = await this.#runtimes.get(o.defaultTier);
          const probe = await rt.driver.probe();
          driver = probe.usable ? { ok: true } : { ok: false, detail: probe.problems.join('; ') };
        } catch (err) {
          driver = { ok: false, detail: err instanceof Error ? err.message : String(err) };
        }
        return { ok: store && driver.ok, checks: { store: { ok: store }, driver } };
      },
      ...(monitor === undefined ? {} : { alerts: monitor }),
      sseHeartbeatMs: 15_000,
      ssePollMs: 250,
    };
    this.#app = buildApiServer(ctx);
    this.#url = await this.#app.listen({ port: o.port ?? 8080, host: o.host ?? '127.0.0.1' });
  }

  /**
   * Graceful shutdown: stop leasing, let running turns finish up to `drainMs`, release the rest
   * (another worker resumes them), then close the API and the stores. Idempotent.
   */
  close(drainMs: number = DRAIN_DEADLINE_MS): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled(this.workers.map((w) => w.close(drainMs)));
      const steps: Promise<unknown>[] = [
        this.#app === undefined ? Promise.resolve() : this.#app.close().then(() => undefined),
        this.#retention.close(),
        this.#monitor?.close() ?? Promise.resolve(),
        this.#runtimes.close(),
        this.#audit.log.close(),
      ];
      await Promise.allSettled(steps);
      this.#reaper?.stop();
      await this.stores.close();
    })();
    return this.#closing;
  }
}

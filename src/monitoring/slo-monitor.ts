// The service's error-budget monitor: one SloTracker per monitored tier fed by real outcomes
// (sessions, tool results, model calls), evaluated on a timer; new alerts are stored and sent.
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { silentLogger, type StorageLogger } from '../storage/storage-logger.js';
import type { AlertStore, StoredAlert } from './alert-store.js';
import { deliverWebhook } from './alert-webhook.js';
import { SloTracker, type BurnAlert } from './burn-rate.js';
import { SessionOutcomes, type ObservedEvent } from './session-outcomes.js';
import type { MonitoringConfig, SloName } from './slo-schema.js';

export interface MonitoredTier {
  tier: string;
  config: MonitoringConfig;
}

export interface SloMonitorOptions {
  tiers: readonly MonitoredTier[];
  store: AlertStore;
  /** Where webhook secrets (`webhook.secretEnv`) are read. Default process.env. */
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  fetchImpl?: typeof fetch;
  /** Webhook retry base delay. Default 500 ms. */
  webhookBaseDelayMs?: number;
  logger?: StorageLogger;
}

interface TierState {
  config: MonitoringConfig;
  tracker: SloTracker;
  secret: string | undefined;
  /** Rules firing at the last evaluation: an alert is sent when a rule starts firing. */
  firing: Set<string>;
  timer: NodeJS.Timeout | undefined;
}

const ruleKey = (a: BurnAlert): string =>
  `${a.slo}|${a.severity}|${a.longMs}|${a.shortMs}|${a.threshold}`;

export class SloMonitor {
  readonly #o: SloMonitorOptions;
  readonly #log: StorageLogger;
  readonly #tiers = new Map<string, TierState>();
  readonly #outcomes = new SessionOutcomes();
  readonly #deliveries = new Set<Promise<void>>();
  #evaluating: Promise<StoredAlert[]> | undefined;
  #closing: Promise<void> | undefined;

  /** Throws ConfigError when a tier's webhook names a secret env var that is not set. */
  constructor(options: SloMonitorOptions) {
    this.#o = Object.freeze({ ...options });
    this.#log = options.logger ?? silentLogger;
    const env = options.env ?? process.env;
    for (const { tier, config } of options.tiers) {
      const secretEnv = config.webhook?.secretEnv;
      const secret = secretEnv === undefined ? undefined : env[secretEnv];
      if (secretEnv !== undefined && (secret === undefined || secret === '')) {
        throw new ConfigError('monitoring webhook secret missing', [
          {
            path: `tiers.${tier}.monitoring.webhook.secretEnv`,
            message: `environment variable ${secretEnv} is not set`,
          },
        ]);
      }
      this.#tiers.set(tier, {
        config,
        tracker: new SloTracker(config, options.now),
        secret,
        firing: new Set(),
        timer: undefined,
      });
    }
  }

  /** Whether sessions of `tier` are monitored. */
  monitors(tier: string): boolean {
    return this.#tiers.has(tier);
  }

  /** Records one outcome of a monitored tier (ignored for other tiers). */
  record(tier: string, slo: SloName, bad: boolean): void {
    this.#tiers.get(tier)?.tracker.record(slo, bad);
  }

  /** A session task ended (the worker's outcome): succeeded is good, failed is bad. */
  recordSession(tier: string, status: 'succeeded' | 'failed' | 'cancelled'): void {
    if (status === 'cancelled') return; // a caller's decision, not a failure of the service
    this.record(tier, 'session_success', status === 'failed');
  }

  /** An agent event of a running session: tool results and model calls become outcomes. */
  observe(tier: string, sessionId: string, event: ObservedEvent): void {
    if (!this.#tiers.has(tier)) return;
    for (const o of this.#outcomes.classify(sessionId, event)) this.record(tier, o.slo, o.bad);
  }

  /** Evaluates every monitored tier now: stores and sends alerts for rules that started firing. */
  evaluateNow(): Promise<StoredAlert[]> {
    this.#evaluating ??= this.#evaluate().finally(() => {
      this.#evaluating = undefined;
    });
    return this.#evaluating;
  }

  /** Alerts for GET /v1/alerts, newest first. */
  list(limit: number): Promise<StoredAlert[]> {
    return this.#o.store.list(limit);
  }

  /** Starts each tier's evaluation timer (`evaluateEveryMs`); idempotent. */
  start(): void {
    for (const [tier, state] of this.#tiers) {
      if (state.timer !== undefined) continue;
      state.timer = setInterval(() => {
        this.evaluateNow().catch((err: unknown) =>
          this.#log.error({ err, tier }, 'monitoring: evaluation failed'),
        );
      }, state.config.evaluateEveryMs);
      state.timer.unref();
    }
  }

  /** Stops the timers and waits for in-flight evaluation and deliveries; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const state of this.#tiers.values()) clearInterval(state.timer);
      await this.#evaluating?.catch(() => undefined);
      await Promise.allSettled([...this.#deliveries]);
    })();
    return this.#closing;
  }

  async #evaluate(): Promise<StoredAlert[]> {
    const fired: StoredAlert[] = [];
    for (const [tier, state] of this.#tiers) {
      const now = (this.#o.now ?? Date.now)();
      const current = state.tracker.evaluate();
      const keys = new Set(current.map(ruleKey));
      for (const a of current) {
        if (state.firing.has(ruleKey(a))) continue;
        const alert: StoredAlert = {
          ...a,
          id: `alr_${randomBytes(8).toString('hex')}`,
          tier,
          firedAt: now,
          delivered: false,
        };
        await this.#o.store.insert(alert);
        this.#log.warn({ tier, slo: a.slo, severity: a.severity }, 'monitoring: SLO alert fired');
        fired.push(alert);
        this.#send(state, alert);
      }
      state.firing = keys;
    }
    return fired;
  }

  #send(state: TierState, alert: StoredAlert): void {
    const hook = state.config.webhook;
    if (hook === undefined || state.secret === undefined || this.#closing !== undefined) return;
    const { delivered: _delivered, ...fields } = alert;
    const payload = {
      type: 'slo_alert',
      ...fields,
      firedAt: new Date(alert.firedAt).toISOString(),
    };
    const p = deliverWebhook(payload, {
      url: hook.url,
      secret: state.secret,
      maxAttempts: hook.maxAttempts,
      ...(this.#o.webhookBaseDelayMs === undefined
        ? {}
        : { baseDelayMs: this.#o.webhookBaseDelayMs }),
      ...(this.#o.fetchImpl === undefined ? {} : { fetchImpl: this.#o.fetchImpl }),
    })
      .then(async (ok) => {
        if (ok) await this.#o.store.markDelivered(alert.id);
        else this.#log.error({ id: alert.id }, 'monitoring: webhook delivery failed');
      })
      .catch((err: unknown) => this.#log.error({ err }, 'monitoring: webhook delivery failed'))
      .finally(() => this.#deliveries.delete(p));
    this.#deliveries.add(p);
  }
}

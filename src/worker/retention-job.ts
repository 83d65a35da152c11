// Periodic retention: deletes transcripts and workspace snapshots of sessions finished longer
// than `retentionMs` ago (the session row stays, audit is never touched). Sandboxes are not
// kept at all: runners destroy them when a task ends.
import type { RetentionResult, SessionStore } from '../sessions/session-store.js';
import { silentLogger, type StorageLogger } from '../storage/storage-logger.js';

export const RETENTION_INTERVAL_MS = 60 * 60 * 1000;

export interface RetentionJobOptions {
  store: SessionStore;
  /** Keep finished sessions' transcripts and snapshots this long. */
  retentionMs: number;
  intervalMs?: number;
  now?: () => number;
  logger?: StorageLogger;
}

export class RetentionJob {
  readonly #o: RetentionJobOptions;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<RetentionResult> | undefined;

  constructor(options: RetentionJobOptions) {
    this.#o = Object.freeze({ ...options });
  }

  /** One pass now. */
  runOnce(): Promise<RetentionResult> {
    this.#inFlight ??= this.#o.store
      .deleteExpired((this.#o.now ?? Date.now)() - this.#o.retentionMs)
      .finally(() => {
        this.#inFlight = undefined;
      });
    return this.#inFlight;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      this.runOnce().catch((err: unknown) =>
        (this.#o.logger ?? silentLogger).error({ err }, 'retention: pass failed'),
      );
    }, this.#o.intervalMs ?? RETENTION_INTERVAL_MS);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight?.catch(() => undefined);
  }
}

// Client-side rate limiter per provider+model: requests/min and tokens/min over a sliding minute.
// Callers queue in FIFO order and wait (never fail) unless the wait would pass `maxQueueMs`.
import { RingfenceError } from '../../errors.js';
import type { Clock } from './clock.js';

export const RATE_WINDOW_MS = 60_000;

export interface RateLimiterOptions {
  /** Requests per minute; absent: unlimited. */
  requestsPerMinute?: number | undefined;
  /** Input+output tokens per minute; absent: unlimited. */
  tokensPerMinute?: number | undefined;
  /** Longest a caller may be made to wait; beyond it acquire() fails with rate_limited. */
  maxQueueMs: number;
}

interface Grant {
  atMs: number;
  tokens: number;
}

interface Waiter {
  tokens: number;
  resolve: (g: RateGrant) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  enqueuedAtMs: number;
}

/** A granted slot; call `settle(actualTokens)` once the real usage is known. */
export interface RateGrant {
  waitedMs: number;
  settle(actualTokens: number): void;
}

export class RateLimiter {
  readonly #opts: Readonly<RateLimiterOptions>;
  readonly #clock: Clock;
  #grants: Grant[] = [];
  #queue: Waiter[] = [];
  #pumping = false;

  constructor(opts: RateLimiterOptions, clock: Clock) {
    this.#opts = Object.freeze({ ...opts });
    this.#clock = clock;
  }

  /** Requests granted in the last minute (for metrics and tests). */
  get inWindow(): { requests: number; tokens: number } {
    this.#prune();
    return {
      requests: this.#grants.length,
      tokens: this.#grants.reduce((n, g) => n + g.tokens, 0),
    };
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Waits for a slot for a request estimated at `tokens`; `onWait` is told how long it will wait. */
  acquire(
    tokens: number,
    signal?: AbortSignal,
    onWait?: (waitMs: number) => void,
  ): Promise<RateGrant> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const tpm = this.#opts.tokensPerMinute;
    const cost = tpm === undefined ? tokens : Math.min(tokens, tpm);
    return new Promise<RateGrant>((resolve, reject) => {
      const w: Waiter = {
        tokens: cost,
        resolve,
        reject,
        signal,
        enqueuedAtMs: this.#clock.nowMs(),
      };
      this.#queue.push(w);
      signal?.addEventListener(
        'abort',
        () => {
          if (this.#queue.includes(w)) {
            this.#queue = this.#queue.filter((q) => q !== w);
            reject(signal.reason as Error);
          }
        },
        { once: true },
      );
      const waitMs = this.#waitMsFor(cost);
      if (waitMs > 0 || this.#queue.length > 1) onWait?.(waitMs);
      void this.#pump();
    });
  }

  #prune(): void {
    const nowMs = this.#clock.nowMs();
    this.#grants = this.#grants.filter((g) => nowMs - g.atMs < RATE_WINDOW_MS);
  }

  /** Milliseconds until a request of `tokens` fits the window (0 = now). */
  #waitMsFor(tokens: number): number {
    this.#prune();
    const nowMs = this.#clock.nowMs();
    let waitMs = 0;
    const rpm = this.#opts.requestsPerMinute;
    if (rpm !== undefined && this.#grants.length >= rpm) {
      const oldest = this.#grants[this.#grants.length - rpm];
      if (oldest) waitMs = Math.max(waitMs, oldest.atMs + RATE_WINDOW_MS - nowMs);
    }
    const tpm = this.#opts.tokensPerMinute;
    if (tpm !== undefined) {
      let used = this.#grants.reduce((n, g) => n + g.tokens, 0);
      for (const g of this.#grants) {
        if (used + tokens <= tpm) break;
        used -= g.tokens;
        waitMs = Math.max(waitMs, g.atMs + RATE_WINDOW_MS - nowMs);
      }
    }
    return waitMs;
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        const head = this.#queue[0];
        if (!head) break;
        const waitMs = this.#waitMsFor(head.tokens);
        const nowMs = this.#clock.nowMs();
        if (waitMs === 0) {
          this.#queue.shift();
          const grant: Grant = { atMs: nowMs, tokens: head.tokens };
          this.#grants.push(grant);
          head.resolve({
            waitedMs: nowMs - head.enqueuedAtMs,
            settle: (actual) => {
              grant.tokens = Math.max(0, actual);
            },
          });
          continue;
        }
        if (nowMs + waitMs - head.enqueuedAtMs > this.#opts.maxQueueMs) {
          this.#queue.shift();
          head.reject(
            new RingfenceError(
              'rate_limited',
              `rate limit wait of ${waitMs} ms exceeds maxQueueMs`,
              {
                details: { waitMs },
              },
            ),
          );
          continue;
        }
        await this.#clock.sleep(waitMs);
      }
    } finally {
      this.#pumping = false;
    }
  }
}

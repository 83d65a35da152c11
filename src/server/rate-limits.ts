// Per-tenant admission control: API requests/s (token bucket) and sessions/min (sliding window).
// Concurrent sessions are counted from the store by the caller; all answers are 429 + retry-after.
import { RingfenceError } from '../errors.js';

export interface RateLimitConfig {
  /** Sustained API requests per second per tenant. */
  requestsPerSec: number;
  /** Bucket size: requests allowed in a burst. */
  requestBurst: number;
  /** New sessions (POST /sessions, messages) per tenant per minute. */
  sessionsPerMin: number;
  /** Sessions queued or running at once per tenant. */
  maxConcurrentSessions: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitConfig = Object.freeze({
  requestsPerSec: 50,
  requestBurst: 100,
  sessionsPerMin: 60,
  maxConcurrentSessions: 20,
});

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimitedError extends RingfenceError {
  constructor(what: string, retryAfterSec: number) {
    super('rate_limited', `rate limit exceeded: ${what}`, {
      details: { limit: what, retryAfterSec },
    });
  }
}

export class TenantRateLimiter {
  readonly #config: RateLimitConfig;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #starts = new Map<string, number[]>();

  constructor(config: RateLimitConfig, now: () => number = Date.now) {
    this.#config = Object.freeze({ ...config });
    this.#now = now;
  }

  get config(): RateLimitConfig {
    return this.#config;
  }

  /** Takes one request token; throws RateLimitedError when the bucket is empty. */
  takeRequest(tenantId: string): void {
    const now = this.#now();
    const { requestsPerSec: rate, requestBurst: burst } = this.#config;
    const b = this.#buckets.get(tenantId) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    this.#buckets.set(tenantId, b);
    if (b.tokens < 1) {
      throw new RateLimitedError('requests_per_sec', Math.max(1, Math.ceil((1 - b.tokens) / rate)));
    }
    b.tokens -= 1;
  }

  /** Records a session start; throws when the tenant started `sessionsPerMin` in the last minute. */
  takeSessionStart(tenantId: string, concurrentNow: number): void {
    if (concurrentNow >= this.#config.maxConcurrentSessions) {
      throw new RateLimitedError('concurrent_sessions', 5);
    }
    const now = this.#now();
    const recent = (this.#starts.get(tenantId) ?? []).filter((t) => t > now - 60_000);
    if (recent.length >= this.#config.sessionsPerMin) {
      const oldest = recent[0] ?? now;
      throw new RateLimitedError(
        'sessions_per_min',
        Math.max(1, Math.ceil((oldest + 60_000 - now) / 1000)),
      );
    }
    recent.push(now);
    this.#starts.set(tenantId, recent);
  }
}

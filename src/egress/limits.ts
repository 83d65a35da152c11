// Per-session limits: concurrent tunnels, new connections per second (token bucket), total
// bytes and idle timeout. Each session owns its counters, so one session never starves another.
import type { Denial } from './reasons.js';

export interface SessionLimits {
  /** Concurrent CONNECT tunnels. Default 256. */
  maxTunnels: number;
  /** Sustained new upstream connections per second. Default 50. */
  connectionsPerSecond: number;
  /** Burst of new upstream connections above the rate. Default 200. */
  connectionBurst: number;
  /** Bytes in + out over the session's lifetime. Default 10 GiB. */
  maxBytes: number;
  /** A connection with no traffic for this long is closed. Default 120 s. */
  idleTimeoutMs: number;
  /** Concurrent client connections on the session socket. Default 1024. */
  maxClientConnections: number;
}

export const DEFAULT_LIMITS: Readonly<SessionLimits> = Object.freeze({
  maxTunnels: 256,
  connectionsPerSecond: 50,
  connectionBurst: 200,
  maxBytes: 10 * 1024 ** 3,
  idleTimeoutMs: 120_000,
  maxClientConnections: 1024,
});

/** A classic token bucket; `now` is injectable so the arithmetic is testable without timers. */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(ratePerSecond: number, burst: number, now: () => number = Date.now) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = Math.max(1, burst);
    this.#now = now;
    this.#tokens = this.#burst;
    this.#at = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#ratePerMs);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** Counters of one session. `acquireTunnel` pairs with `releaseTunnel`. */
export class SessionLimiter {
  readonly limits: Readonly<SessionLimits>;
  readonly #bucket: TokenBucket;
  #tunnels = 0;
  #bytes = 0;

  constructor(limits: Readonly<SessionLimits>, now: () => number = Date.now) {
    this.limits = limits;
    this.#bucket = new TokenBucket(limits.connectionsPerSecond, limits.connectionBurst, now);
  }

  get tunnels(): number {
    return this.#tunnels;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Checks bytes and the rate for one new upstream connection. */
  newConnection(): Denial | undefined {
    if (this.#bytes >= this.limits.maxBytes) return { reason: 'bytes_exceeded' };
    if (!this.#bucket.take()) return { reason: 'rate_limited' };
    return undefined;
  }

  acquireTunnel(): Denial | undefined {
    if (this.#tunnels >= this.limits.maxTunnels) return { reason: 'too_many_tunnels' };
    const denial = this.newConnection();
    if (denial) return denial;
    this.#tunnels += 1;
    return undefined;
  }

  releaseTunnel(): void {
    this.#tunnels = Math.max(0, this.#tunnels - 1);
  }

  /** Counts transferred bytes; false once the cap is reached (the caller closes). */
  addBytes(n: number): boolean {
    this.#bytes += n;
    return this.#bytes <= this.limits.maxBytes;
  }
}

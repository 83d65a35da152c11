// Circuit breaker per provider+model: opens after N consecutive failures or an error rate over a
// sliding window, lets one half-open probe through after `openMs`, closes on the probe's success.
import type { Clock } from './clock.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. */
  consecutiveFailures: number;
  /** Error rate (0..1) over the window that opens the breaker, once `minRequests` were seen. */
  errorRate: number;
  windowMs: number;
  minRequests: number;
  /** How long the breaker stays open before a half-open probe is allowed. */
  openMs: number;
}

export interface BreakerTransition {
  from: BreakerState;
  to: BreakerState;
  reason: string;
}

export class CircuitBreaker {
  readonly #opts: Readonly<CircuitBreakerOptions>;
  readonly #clock: Clock;
  readonly #onChange: (t: BreakerTransition) => void;
  #state: BreakerState = 'closed';
  #consecutive = 0;
  #openedAtMs = 0;
  #probeInFlight = false;
  #outcomes: { atMs: number; ok: boolean }[] = [];

  constructor(
    opts: CircuitBreakerOptions,
    clock: Clock,
    onChange: (t: BreakerTransition) => void = () => {},
  ) {
    this.#opts = Object.freeze({ ...opts });
    this.#clock = clock;
    this.#onChange = onChange;
  }

  /** The state now (an open breaker whose time is up reports half_open). */
  get state(): BreakerState {
    if (this.#state === 'open' && this.#clock.nowMs() - this.#openedAtMs >= this.#opts.openMs) {
      this.#move('half_open', 'open time elapsed');
    }
    return this.#state;
  }

  /** Milliseconds until an open breaker allows a probe (0 when not open). */
  get retryInMs(): number {
    if (this.state !== 'open') return 0;
    return Math.max(0, this.#openedAtMs + this.#opts.openMs - this.#clock.nowMs());
  }

  /** Asks to send a request: true when closed, or when this is the single half-open probe. */
  tryAcquire(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'half_open' && !this.#probeInFlight) {
      this.#probeInFlight = true;
      return true;
    }
    return false;
  }

  recordSuccess(): void {
    this.#record(true);
    this.#consecutive = 0;
    if (this.#state === 'half_open') {
      this.#probeInFlight = false;
      this.#outcomes = [];
      this.#move('closed', 'probe succeeded');
    }
  }

  recordFailure(): void {
    this.#record(false);
    this.#consecutive += 1;
    if (this.#state === 'half_open') {
      this.#probeInFlight = false;
      this.#open('probe failed');
      return;
    }
    if (this.#state !== 'closed') return;
    if (this.#consecutive >= this.#opts.consecutiveFailures) {
      this.#open(`${this.#consecutive} consecutive failures`);
      return;
    }
    const n = this.#outcomes.length;
    const failures = this.#outcomes.filter((o) => !o.ok).length;
    if (n >= this.#opts.minRequests && failures / n >= this.#opts.errorRate) {
      this.#open(`error rate ${(failures / n).toFixed(2)} over ${n} requests`);
    }
  }

  /** Releases a half-open probe slot that ended without a verdict (e.g. aborted by the caller). */
  releaseProbe(): void {
    this.#probeInFlight = false;
  }

  #record(ok: boolean): void {
    const nowMs = this.#clock.nowMs();
    this.#outcomes.push({ atMs: nowMs, ok });
    this.#outcomes = this.#outcomes.filter((o) => nowMs - o.atMs < this.#opts.windowMs);
  }

  #open(reason: string): void {
    this.#openedAtMs = this.#clock.nowMs();
    this.#move('open', reason);
  }

  #move(to: BreakerState, reason: string): void {
    if (to === this.#state && to !== 'open') return;
    const from = this.#state;
    this.#state = to;
    if (from !== to) this.#onChange({ from, to, reason });
  }
}

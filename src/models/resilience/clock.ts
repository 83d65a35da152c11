// Time as a dependency: the gateway's limiter, breaker, backoff and pause read `nowMs()` and wait
// with `sleep()`, so tests inject a manual clock and never assert on wall time.
import { setTimeout as sleepTimer } from 'node:timers/promises';

export interface Clock {
  nowMs(): number;
  /** Resolves after `ms`; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  sleep: async (ms, signal) => {
    await sleepTimer(Math.max(0, ms), undefined, signal ? { signal } : {});
  },
};

interface Sleeper {
  wakeAtMs: number;
  resolve: () => void;
}

/** A clock that only moves when told to: `advance(ms)` wakes every sleeper due by then. */
export class ManualClock implements Clock {
  #nowMs: number;
  #sleepers: Sleeper[] = [];

  constructor(startMs = 0) {
    this.#nowMs = startMs;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  /** Number of pending sleeps (lets a test wait until callers are parked). */
  get pendingSleeps(): number {
    return this.#sleepers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = { wakeAtMs: this.#nowMs + Math.max(0, ms), resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener(
        'abort',
        () => {
          this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
          reject(signal.reason as Error);
        },
        { once: true },
      );
    });
  }

  /** Moves time forward and wakes due sleepers in wake-time order, letting each settle. */
  async advance(ms: number): Promise<void> {
    const targetMs = this.#nowMs + ms;
    for (;;) {
      const due = this.#sleepers
        .filter((s) => s.wakeAtMs <= targetMs)
        .sort((a, b) => a.wakeAtMs - b.wakeAtMs)[0];
      if (!due) break;
      this.#sleepers = this.#sleepers.filter((s) => s !== due);
      this.#nowMs = Math.max(this.#nowMs, due.wakeAtMs);
      due.resolve();
      await flushMicrotasks();
    }
    this.#nowMs = targetMs;
    await flushMicrotasks();
  }
}

/** Lets pending promise chains run (a few macrotask turns). */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise<void>((r) => setImmediate(r));
}

/**
 * A virtual clock whose sleeps return at once and move its time forward by the slept amount:
 * retry and pause logic runs at full speed while every delay it asked for is recorded.
 */
export class InstantClock implements Clock {
  #nowMs: number;
  readonly sleptMs: number[] = [];

  constructor(startMs = 0) {
    this.#nowMs = startMs;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  advance(ms: number): void {
    this.#nowMs += ms;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason as Error;
    this.sleptMs.push(ms);
    this.#nowMs += Math.max(0, ms);
    await new Promise<void>((r) => setImmediate(r));
  }
}

// A clock tests move by hand, injected into queue and session-store backends.
import type { Clock } from '../../src/storage/storage-logger.js';

export class ManualClock implements Clock {
  #now: number;
  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}

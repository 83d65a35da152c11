// Multi-window burn-rate evaluation over timestamped good/bad outcomes kept in memory:
// an alert fires for a rule when both its long and short window burn faster than `burnRate`.
import type { MonitoringConfig, SloName } from './slo-schema.js';

export interface BurnAlert {
  slo: SloName;
  severity: 'page' | 'ticket';
  burnRateLong: number;
  burnRateShort: number;
  threshold: number;
  longMs: number;
  shortMs: number;
}

/** Ring of (time, bad) outcomes per SLO, pruned to the longest window. */
export class SloTracker {
  readonly #config: MonitoringConfig;
  readonly #now: () => number;
  readonly #events = new Map<SloName, { at: number; bad: boolean }[]>();

  constructor(config: MonitoringConfig, now: () => number = Date.now) {
    this.#config = config;
    this.#now = now;
  }

  /** Records one outcome: a session finished, a tool ran, a model call returned. */
  record(slo: SloName, bad: boolean): void {
    const list = this.#events.get(slo) ?? [];
    list.push({ at: this.#now(), bad });
    this.#events.set(slo, list);
  }

  /** Error rate / error budget over the last `windowMs`; 0 with no data. */
  burnRate(slo: SloName, windowMs: number): number {
    const since = this.#now() - windowMs;
    const list = (this.#events.get(slo) ?? []).filter((e) => e.at >= since);
    if (list.length === 0) return 0;
    const errorRate = list.filter((e) => e.bad).length / list.length;
    return errorRate / (1 - this.#config.slos[slo]);
  }

  /** Every rule firing now. */
  evaluate(): BurnAlert[] {
    this.#prune();
    const out: BurnAlert[] = [];
    for (const slo of this.#events.keys()) {
      for (const w of this.#config.windows) {
        const long = this.burnRate(slo, w.longMs);
        const short = this.burnRate(slo, w.shortMs);
        if (long > w.burnRate && short > w.burnRate) {
          out.push({
            slo,
            severity: w.severity,
            burnRateLong: long,
            burnRateShort: short,
            threshold: w.burnRate,
            longMs: w.longMs,
            shortMs: w.shortMs,
          });
        }
      }
    }
    return out;
  }

  #prune(): void {
    const longest = Math.max(...this.#config.windows.map((w) => w.longMs));
    const since = this.#now() - longest;
    for (const [slo, list] of this.#events) {
      this.#events.set(
        slo,
        list.filter((e) => e.at >= since),
      );
    }
  }
}

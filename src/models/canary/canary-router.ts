// Canary routing: a sticky weighted split per session (hash of the session id), per-arm metrics,
// rollback when the canary's error rate beats the baseline's by a margin, staged promotion.
import { createHash } from 'node:crypto';
import type { ModelRoute } from '../../config/config-schema.js';
import type { CanaryConfig } from '../gateway-config.js';
import { routeKey } from '../providers/model-provider.js';
import type { Clock } from '../resilience/clock.js';
import {
  emptyArm,
  loadCanaryState,
  saveCanaryState,
  type ArmMetrics,
  type CanaryState,
} from './canary-store.js';

export type CanaryArm = 'baseline' | 'canary';

/** Bucket 0..9999 of a session id: the same session always lands in the same bucket. */
export function sessionBucket(sessionId: string): number {
  return createHash('sha256').update(sessionId).digest().readUInt32BE(0) % 10_000;
}

export interface CanaryOutcome {
  ok: boolean;
  latencyMs: number;
  costUsd: number | undefined;
}

export class CanaryRouter {
  readonly #cfg: Readonly<CanaryConfig>;
  readonly #baseline: readonly ModelRoute[];
  readonly #clock: Clock;
  #state: CanaryState;

  constructor(cfg: CanaryConfig, baseline: readonly ModelRoute[], clock: Clock) {
    this.#cfg = Object.freeze({ ...cfg });
    this.#baseline = baseline;
    this.#clock = clock;
    const first = baseline[0];
    const stored = loadCanaryState(cfg.stateDir, cfg.name);
    const canaryRoute = routeKey(cfg.route);
    this.#state =
      stored && stored.canaryRoute === canaryRoute
        ? stored
        : {
            name: cfg.name,
            baselineRoute: first ? routeKey(first) : '',
            canaryRoute,
            status: 'running',
            stageIndex: 0,
            weightPercent: cfg.stages[0] ?? 0,
            metrics: { baseline: emptyArm(), canary: emptyArm() },
            history: [{ atMs: clock.nowMs(), event: `started at ${cfg.stages[0] ?? 0}%` }],
          };
    this.#persist();
  }

  get state(): Readonly<CanaryState> {
    return structuredClone(this.#state);
  }

  /** The arm of a session: canary when its bucket falls under the current weight. */
  armFor(sessionId: string): CanaryArm {
    if (this.#state.status === 'rolled_back') return 'baseline';
    return sessionBucket(sessionId) < this.#state.weightPercent * 100 ? 'canary' : 'baseline';
  }

  /** Route chain of an arm: the canary falls back to the baseline chain. */
  routesFor(arm: CanaryArm): ModelRoute[] {
    return arm === 'canary' ? [this.#cfg.route, ...this.#baseline] : [...this.#baseline];
  }

  /** Records one model call of an arm, then decides rollback or promotion. */
  recordCall(arm: CanaryArm, outcome: CanaryOutcome): void {
    const m = this.#state.metrics[arm];
    m.calls += 1;
    if (!outcome.ok) m.errors += 1;
    m.latencyMsTotal += outcome.latencyMs;
    m.costUsd += outcome.costUsd ?? 0;
    this.#evaluate();
    this.#persist();
  }

  /** Records a tool result of a session on its arm (the tool-error rate metric). */
  recordToolResult(sessionId: string, isError: boolean): void {
    const m = this.#state.metrics[this.armFor(sessionId)];
    m.toolResults += 1;
    if (isError) m.toolErrors += 1;
    this.#persist();
  }

  #evaluate(): void {
    if (this.#state.status !== 'running') return;
    const { baseline, canary } = this.#state.metrics;
    if (canary.calls < this.#cfg.minSample) return;
    const rate = (a: ArmMetrics): number => (a.calls === 0 ? 0 : a.errors / a.calls);
    const diffPts = (rate(canary) - rate(baseline)) * 100;
    if (diffPts > this.#cfg.errorMarginPct) {
      this.#state.status = 'rolled_back';
      this.#state.weightPercent = 0;
      this.#log(
        `rolled back: canary error rate ${(rate(canary) * 100).toFixed(1)}% vs baseline ${(rate(baseline) * 100).toFixed(1)}%`,
      );
      return;
    }
    const next = this.#state.stageIndex + 1;
    const nextWeight = this.#cfg.stages[next];
    if (nextWeight === undefined) {
      this.#state.status = 'promoted';
      this.#log(`promoted: ${this.#state.weightPercent}% stage healthy`);
      return;
    }
    this.#state.stageIndex = next;
    this.#state.weightPercent = nextWeight;
    this.#state.metrics = { baseline: emptyArm(), canary: emptyArm() };
    this.#log(`stage ${next}: ${nextWeight}%`);
  }

  #log(event: string): void {
    this.#state.history.push({ atMs: this.#clock.nowMs(), event });
  }

  #persist(): void {
    saveCanaryState(this.#cfg.stateDir, this.#state);
  }
}

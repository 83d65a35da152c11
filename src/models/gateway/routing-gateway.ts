// The ModelGateway implementation: picks the route chain (canary or baseline), walks it with
// breakers and fallbacks, pauses while every route is down, and accounts tokens and cost.
import type { ModelRoute } from '../../config/config-schema.js';
import { CanaryRouter, type CanaryArm } from '../canary/canary-router.js';
import { InMemoryCostLedger, checkBudget, usageOf, type CostLedger } from '../cost/cost-ledger.js';
import { PriceTable } from '../cost/price-table.js';
import {
  gatewayConfigSchema,
  type GatewayConfig,
  type GatewayConfigInput,
} from '../gateway-config.js';
import type {
  GatewayCallContext,
  GatewayEvent,
  GatewayResult,
  ModelGateway,
  StreamCallContext,
} from '../model-gateway.js';
import { ModelError } from '../model-errors.js';
import { createProvider, type ProviderCredentials } from '../providers/provider-factory.js';
import { routeKey, type MessageParams, type ModelProvider } from '../providers/model-provider.js';
import { CircuitBreaker } from '../resilience/circuit-breaker.js';
import { systemClock, type Clock } from '../resilience/clock.js';
import { RateLimiter } from '../resilience/rate-limiter.js';
import { attemptRoute } from './route-attempt.js';

export interface RoutingGatewayOptions {
  /** The tier's model: one route or a fallback chain [primary, fallback...]. */
  routes: ModelRoute | ModelRoute[];
  config?: GatewayConfigInput;
  credentials?: ProviderCredentials;
  /** Absent: providers built by `createProvider`. */
  providerFactory?: (route: ModelRoute) => ModelProvider;
  ledger?: CostLedger;
  clock?: Clock;
  random?: () => number;
}

interface RouteState {
  provider: ModelProvider;
  breaker: CircuitBreaker;
  limiter: RateLimiter | undefined;
}

export class RoutingGateway implements ModelGateway {
  readonly #config: GatewayConfig;
  readonly #baseline: readonly ModelRoute[];
  readonly #routes = new Map<string, RouteState>();
  readonly #listeners = new Set<(e: GatewayEvent) => void>();
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #prices: PriceTable;
  readonly #factory: (route: ModelRoute) => ModelProvider;
  readonly #canary: CanaryRouter | undefined;
  readonly ledger: CostLedger;
  #closing: Promise<void> | undefined;

  constructor(opts: RoutingGatewayOptions) {
    this.#config = gatewayConfigSchema.parse(opts.config ?? {});
    this.#baseline = Object.freeze(Array.isArray(opts.routes) ? [...opts.routes] : [opts.routes]);
    this.#clock = opts.clock ?? systemClock;
    this.#random = opts.random ?? Math.random;
    this.#prices = new PriceTable(this.#config.prices);
    const creds = opts.credentials ?? {};
    this.#factory = opts.providerFactory ?? ((r) => createProvider(r, creds));
    this.ledger = opts.ledger ?? new InMemoryCostLedger();
    this.#canary = this.#config.canary
      ? new CanaryRouter(this.#config.canary, this.#baseline, this.#clock)
      : undefined;
  }

  recordToolOutcome(sessionId: string, isError: boolean): void {
    this.#canary?.recordToolResult(sessionId, isError);
  }

  /** The canary router, when a canary is configured (for status and tool-error metrics). */
  get canary(): CanaryRouter | undefined {
    return this.#canary;
  }

  subscribe(listener: (e: GatewayEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  createMessage(params: MessageParams, ctx: GatewayCallContext): Promise<GatewayResult> {
    return this.#call(params, ctx, false);
  }

  streamMessage(params: MessageParams, ctx: StreamCallContext): Promise<GatewayResult> {
    return this.#call(params, ctx, true);
  }

  close(): Promise<void> {
    this.#closing ??= Promise.allSettled(
      [...this.#routes.values()].map((r) => r.provider.close()),
    ).then(() => {});
    return this.#closing;
  }

  #route(route: ModelRoute): RouteState {
    const key = routeKey(route);
    let state = this.#routes.get(key);
    if (!state) {
      const limits = this.#config.rateLimits[key] ?? this.#config.rateLimits['*'];
      state = {
        provider: this.#factory(route),
        breaker: new CircuitBreaker(this.#config.breaker, this.#clock, (t) =>
          this.#broadcast({ type: 'breaker', route: key, ...t }),
        ),
        limiter: limits ? new RateLimiter(limits, this.#clock) : undefined,
      };
      this.#routes.set(key, state);
    }
    return state;
  }

  #broadcast(e: GatewayEvent): void {
    for (const l of this.#listeners) l(e);
  }

  #checkBudget(ctx: GatewayCallContext): void {
    if (ctx.maxBudgetUsd === undefined) return;
    const check = checkBudget(this.ledger.sessionTotals(ctx.sessionId), ctx.maxBudgetUsd);
    if (!check.ok) {
      throw new ModelError(
        'budget_exceeded',
        `session ${ctx.sessionId} spent $${check.spentUsd.toFixed(4)} of its $${ctx.maxBudgetUsd} budget`,
      );
    }
  }

  async #call(
    params: MessageParams,
    ctx: StreamCallContext,
    streaming: boolean,
  ): Promise<GatewayResult> {
    if (this.#closing) throw new ModelError('aborted', 'gateway is closed');
    this.#checkBudget(ctx);
    const emit = (e: GatewayEvent): void => ctx.onEvent?.(e);
    const arm: CanaryArm = this.#canary ? this.#canary.armFor(ctx.sessionId) : 'baseline';
    const chain = this.#canary ? this.#canary.routesFor(arm) : [...this.#baseline];
    if (this.#canary)
      emit({ type: 'canary', arm, route: routeKey(chain[0] ?? this.#baseline[0]!) });
    const pauseStartMs = this.#clock.nowMs();
    let attempts = 0;
    for (;;) {
      let lastError: ModelError | undefined;
      for (const [i, route] of chain.entries()) {
        const state = this.#route(route);
        const next = chain[i + 1];
        const startMs = this.#clock.nowMs();
        if (!state.breaker.tryAcquire()) {
          lastError = new ModelError(
            'breaker_open',
            `${state.provider.key}: circuit breaker open`,
            {
              route: state.provider.key,
            },
          );
        } else {
          const outcome = await attemptRoute(
            { ...state, config: this.#config, clock: this.#clock, random: this.#random },
            params,
            ctx,
            streaming,
          );
          attempts += outcome.attempts;
          const isCanaryRoute = this.#canary !== undefined && arm === 'canary' && i === 0;
          if (outcome.ok) {
            const usage = usageOf(outcome.message.usage);
            const costUsd = this.#prices.costUsd(route.model, usage);
            this.ledger.record({
              sessionId: ctx.sessionId,
              tenantId: ctx.tenantId,
              route: state.provider.key,
              usage,
              costUsd,
            });
            if (this.#canary && (isCanaryRoute || arm === 'baseline')) {
              this.#canary.recordCall(arm, {
                ok: true,
                latencyMs: this.#clock.nowMs() - startMs,
                costUsd,
              });
            }
            return {
              message: outcome.message,
              route: state.provider.key,
              usage,
              costUsd,
              attempts,
            };
          }
          if (this.#canary && (isCanaryRoute || (arm === 'baseline' && i === 0))) {
            this.#canary.recordCall(arm, {
              ok: false,
              latencyMs: this.#clock.nowMs() - startMs,
              costUsd: undefined,
            });
          }
          lastError = outcome.error;
        }
        if (next)
          emit({
            type: 'fallback',
            from: state.provider.key,
            to: routeKey(next),
            reason: lastError.message,
          });
      }
      // Every route is down: pause (not fail) until one recovers or the pause budget is spent.
      const pausedMs = this.#clock.nowMs() - pauseStartMs;
      const leftMs = this.#config.pause.maxPauseMs - pausedMs;
      if (leftMs <= 0) {
        throw new ModelError(
          'all_routes_down',
          `every model route is down: ${lastError?.message ?? 'no route'}`,
          {
            cause: lastError,
          },
        );
      }
      const reopenMs = Math.min(...chain.map((r) => this.#route(r).breaker.retryInMs));
      const waitMs = Math.min(leftMs, reopenMs > 0 ? reopenMs : this.#config.pause.checkEveryMs);
      emit({
        type: 'wait',
        reason: 'all_routes_down',
        waitMs,
        route: undefined,
        detail: lastError?.message ?? '',
      });
      await this.#clock.sleep(waitMs, ctx.signal);
    }
  }
}

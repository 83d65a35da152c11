// One route's share of a call: rate-limit slot, provider call, retries with backoff honouring
// retry-after, breaker bookkeeping. Returns the message or the error that ends this route.
import type { GatewayConfig } from '../gateway-config.js';
import type { GatewayEvent, StreamCallContext } from '../model-gateway.js';
import { ModelError, toModelError } from '../model-errors.js';
import type { Message, MessageParams, ModelProvider } from '../providers/model-provider.js';
import { backoffMs } from '../resilience/backoff.js';
import type { CircuitBreaker } from '../resilience/circuit-breaker.js';
import type { Clock } from '../resilience/clock.js';
import type { RateLimiter } from '../resilience/rate-limiter.js';
import { estimateInputTokens } from '../scripted/scripted-reply.js';

export interface RouteDeps {
  provider: ModelProvider;
  breaker: CircuitBreaker;
  limiter: RateLimiter | undefined;
  config: GatewayConfig;
  clock: Clock;
  random: () => number;
}

export type RouteOutcome =
  | { ok: true; message: Message; attempts: number }
  | { ok: false; error: ModelError; attempts: number };

/** Runs the call on one route; the breaker slot must already be acquired by the caller. */
export async function attemptRoute(
  deps: RouteDeps,
  params: MessageParams,
  ctx: StreamCallContext,
  streaming: boolean,
): Promise<RouteOutcome> {
  const { provider, breaker, limiter, config, clock } = deps;
  const emit = (e: GatewayEvent): void => ctx.onEvent?.(e);
  const estimate = estimateInputTokens(params);
  let lastError: ModelError | undefined;
  for (let attempt = 1; attempt <= config.retry.maxAttempts; attempt += 1) {
    const grant = await limiter?.acquire(estimate, ctx.signal, (waitMs) =>
      emit({
        type: 'wait',
        reason: 'rate_limit',
        waitMs,
        route: provider.key,
        detail: 'client-side rate limit',
      }),
    );
    let delivered = 0;
    try {
      const opts = {
        signal: ctx.signal,
        timeoutMs: config.timeoutMs,
        onEvent: (e: Parameters<NonNullable<StreamCallContext['onStreamEvent']>>[0]) => {
          delivered += 1;
          ctx.onStreamEvent?.(e);
        },
      };
      const message = streaming
        ? await provider.stream(params, opts)
        : await provider.create(params, opts);
      grant?.settle(message.usage.input_tokens + message.usage.output_tokens);
      trackBreaker(breaker, provider.key, emit, 'request succeeded', () => breaker.recordSuccess());
      return { ok: true, message, attempts: attempt };
    } catch (err) {
      let error = toModelError(err, provider.key, clock.nowMs(), ctx.signal);
      if (streaming && delivered > 0 && error.kind === 'connection') {
        error = new ModelError(
          'stream_interrupted',
          `${provider.key}: stream cut after ${delivered} events`,
          {
            route: provider.key,
            cause: err,
          },
        );
      }
      lastError = error;
      if (!error.retryable) {
        // Aborts and other 4xx say nothing about the provider's health.
        breaker.releaseProbe();
        throw error;
      }
      trackBreaker(breaker, provider.key, emit, error.message, () => breaker.recordFailure());
      if (breaker.state !== 'closed') return { ok: false, error, attempts: attempt };
      if (attempt === config.retry.maxAttempts) break;
      if (streaming && delivered > 0 && ctx.restartable === false)
        return { ok: false, error, attempts: attempt };
      const delayMs =
        error.retryAfterMs !== undefined
          ? Math.min(error.retryAfterMs, config.retry.maxRetryAfterMs)
          : backoffMs(attempt - 1, config.retry, deps.random);
      emit({
        type: 'retry',
        route: provider.key,
        attempt,
        delayMs,
        kind: error.kind,
        status: error.status,
        restartStream: streaming && delivered > 0,
      });
      await clock.sleep(delayMs, ctx.signal);
    }
  }
  return {
    ok: false,
    error: lastError ?? toModelError(new Error('no attempt made'), provider.key, clock.nowMs()),
    attempts: config.retry.maxAttempts,
  };
}

/** Runs a breaker update and tells the session when it changed the breaker's state. */
function trackBreaker(
  breaker: CircuitBreaker,
  route: string,
  emit: (e: GatewayEvent) => void,
  reason: string,
  update: () => void,
): void {
  const from = breaker.state;
  update();
  const to = breaker.state;
  if (from !== to) emit({ type: 'breaker', route, from, to, reason });
}

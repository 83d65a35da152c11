// The model gateway contract: every model call of ringfence (in-process agent loop and the HTTP
// gateway for hosted Claude Code) goes through `ModelGateway`, which returns the final Message + cost.
import type { BreakerState } from './resilience/circuit-breaker.js';
import type { ModelErrorKind } from './model-errors.js';
import type { Message, MessageParams, StreamEvent } from './providers/model-provider.js';
import type { TokenUsage } from './cost/price-table.js';

/** What a session sees while the gateway works for it. */
export type GatewayEvent =
  | {
      type: 'retry';
      route: string;
      /** 1-based number of the attempt that failed. */
      attempt: number;
      delayMs: number;
      kind: ModelErrorKind;
      status: number | undefined;
      /** Streaming: events of the failed attempt were already delivered and must be discarded. */
      restartStream: boolean;
    }
  | { type: 'breaker'; route: string; from: BreakerState; to: BreakerState; reason: string }
  | { type: 'fallback'; from: string; to: string; reason: string }
  | {
      type: 'wait';
      reason: 'rate_limit' | 'all_routes_down';
      waitMs: number;
      route: string | undefined;
      detail: string;
    }
  | { type: 'canary'; arm: 'baseline' | 'canary'; route: string };

export interface GatewayCallContext {
  sessionId: string;
  tenantId?: string | undefined;
  signal?: AbortSignal | undefined;
  onEvent?: ((e: GatewayEvent) => void) | undefined;
  /** The session stops with `budget_exceeded` once its known spend reaches this. Absent: no budget. */
  maxBudgetUsd?: number | undefined;
}

export interface StreamCallContext extends GatewayCallContext {
  /** Every raw stream event of the attempt in progress. */
  onStreamEvent?: ((e: StreamEvent) => void) | undefined;
  /**
   * Whether a stream cut after events were delivered may be retried from the start (the caller
   * discards partial output on a `retry` event with restartStream). Absent: true.
   */
  restartable?: boolean | undefined;
}

export interface GatewayResult {
  message: Message;
  /** Route key (`provider:model`) that answered. */
  route: string;
  usage: TokenUsage;
  /** undefined when the model's price is unknown. */
  costUsd: number | undefined;
  /** Attempts made over every route. */
  attempts: number;
}

export interface ModelGateway {
  createMessage(params: MessageParams, ctx: GatewayCallContext): Promise<GatewayResult>;
  streamMessage(params: MessageParams, ctx: StreamCallContext): Promise<GatewayResult>;
  /** A tool call of `sessionId` ended; feeds per-route tool-error rates (canary). Optional. */
  recordToolOutcome?(sessionId: string, isError: boolean): void;
  /** Gateway-wide events (breaker changes from every session); returns an unsubscribe function. */
  subscribe(listener: (e: GatewayEvent) => void): () => void;
  /** Idempotent; stops scripted servers and flushes canary state. */
  close(): Promise<void>;
}

// Typed model failures: every provider's native error is mapped to one ModelError with a `kind`
// that decides retry (429, 529, 5xx, connection, timeout, stream cut) versus fail (other 4xx).
import Anthropic from '@anthropic-ai/sdk';
import { RingfenceError } from '../errors.js';
import { retryAfterMsFromHeaders } from './resilience/backoff.js';

export type ModelErrorKind =
  | 'rate_limited'
  | 'overloaded'
  | 'server'
  | 'connection'
  | 'timeout'
  | 'stream_interrupted'
  | 'client'
  | 'aborted'
  | 'breaker_open'
  | 'all_routes_down'
  | 'budget_exceeded';

const RETRYABLE: ReadonlySet<ModelErrorKind> = new Set([
  'rate_limited',
  'overloaded',
  'server',
  'connection',
  'timeout',
  'stream_interrupted',
]);

export interface ModelErrorFields {
  status?: number | undefined;
  retryAfterMs?: number | undefined;
  route?: string | undefined;
  cause?: unknown;
}

export class ModelError extends RingfenceError {
  readonly kind: ModelErrorKind;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(kind: ModelErrorKind, message: string, fields: ModelErrorFields = {}) {
    super(kind === 'budget_exceeded' ? 'forbidden' : 'model_error', message, {
      cause: fields.cause,
      details: {
        kind,
        status: fields.status,
        route: fields.route,
        retryAfterMs: fields.retryAfterMs,
      },
    });
    this.kind = kind;
    this.status = fields.status;
    this.retryAfterMs = fields.retryAfterMs;
  }

  /** True for 429, 529, 5xx, connection errors, timeouts and cut streams; never other 4xx. */
  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }
}

function kindOfStatus(status: number): ModelErrorKind {
  if (status === 429) return 'rate_limited';
  if (status === 529) return 'overloaded';
  if (status >= 500) return 'server';
  return 'client';
}

/** Maps anything a provider call threw to a ModelError (SDK errors, aborts, cut streams). */
export function toModelError(
  err: unknown,
  route: string,
  nowMs: number,
  signal?: AbortSignal,
): ModelError {
  if (err instanceof ModelError) return err;
  if (signal?.aborted || err instanceof Anthropic.APIUserAbortError) {
    return new ModelError('aborted', 'request aborted by the caller', { route, cause: err });
  }
  if (err instanceof Anthropic.APIConnectionTimeoutError) {
    return new ModelError('timeout', `${route}: request timed out`, { route, cause: err });
  }
  if (err instanceof Anthropic.APIConnectionError) {
    return new ModelError('connection', `${route}: connection error: ${err.message}`, {
      route,
      cause: err,
    });
  }
  if (err instanceof Anthropic.APIError && typeof err.status === 'number') {
    const headers = err.headers as Headers | undefined;
    const retryAfterMs = headers
      ? retryAfterMsFromHeaders((n) => headers.get(n), nowMs)
      : undefined;
    return new ModelError(kindOfStatus(err.status), `${route}: ${err.status} ${err.message}`, {
      route,
      status: err.status,
      retryAfterMs,
      cause: err,
    });
  }
  // Anything else from the transport (socket closed mid-body, malformed SSE) is a cut stream.
  const message = err instanceof Error ? err.message : String(err);
  return new ModelError('stream_interrupted', `${route}: stream interrupted: ${message}`, {
    route,
    cause: err,
  });
}

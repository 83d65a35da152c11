// Asks the approval callback about one call, with a timeout and the caller's abort signal.
// Unanswered, aborted or failing requests are denials; every request is announced as an event.
import { randomUUID } from 'node:crypto';
import type {
  ApprovalCallback,
  ApprovalRequest,
  ApprovalResponse,
  PermissionEvent,
  ToolCall,
} from './types.js';

/** Default time a human has to answer: 5 minutes. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 300_000;

export type GateOutcome =
  | { outcome: 'answered'; response: ApprovalResponse; requestId: string }
  | { outcome: 'timeout' | 'aborted' | 'error'; requestId: string; error?: unknown };

export interface ApprovalGateOptions {
  callback: ApprovalCallback;
  timeoutMs: number;
  emit: (event: PermissionEvent) => void;
  newRequestId?: () => string;
}

export class ApprovalGate {
  readonly #opts: ApprovalGateOptions;

  constructor(opts: ApprovalGateOptions) {
    this.#opts = opts;
  }

  /** Resolves with the answer or the reason there is none; never rejects. */
  async request(
    call: ToolCall,
    reason: string,
    rule: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<GateOutcome> {
    const requestId = (this.#opts.newRequestId ?? randomUUID)();
    const request: ApprovalRequest = {
      requestId,
      tool: call.tool,
      input: call.input,
      toolUseId: call.toolUseId,
      reason,
      ...(rule === undefined ? {} : { rule }),
    };
    this.#opts.emit({
      type: 'approval_requested',
      requestId,
      tool: call.tool,
      input: call.input,
      toolUseId: call.toolUseId,
      reason,
    });
    const outcome = await this.#ask(request, signal);
    const behavior =
      outcome.outcome === 'answered' && outcome.response.behavior === 'allow' ? 'allow' : 'deny';
    this.#opts.emit({ type: 'approval_resolved', requestId, behavior, outcome: outcome.outcome });
    return outcome;
  }

  async #ask(request: ApprovalRequest, signal: AbortSignal | undefined): Promise<GateOutcome> {
    const { requestId } = request;
    if (signal?.aborted) return { outcome: 'aborted', requestId };
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const stop = new Promise<GateOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ outcome: 'timeout', requestId }), this.#opts.timeoutMs);
      onAbort = () => resolve({ outcome: 'aborted', requestId });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    const answer = (async (): Promise<GateOutcome> => {
      try {
        const response = await this.#opts.callback(request, { signal: controller.signal });
        if (!isResponse(response)) {
          return { outcome: 'error', requestId, error: new TypeError('malformed approval') };
        }
        return { outcome: 'answered', response, requestId };
      } catch (error) {
        return { outcome: 'error', requestId, error };
      }
    })();
    try {
      return await Promise.race([answer, stop]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      // Tell the approver the request is over (timed out, aborted or answered).
      controller.abort();
    }
  }
}

function isResponse(r: unknown): r is ApprovalResponse {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  if (o['behavior'] === 'deny') return true;
  if (o['behavior'] !== 'allow') return false;
  const u = o['updatedInput'];
  return u === undefined || (typeof u === 'object' && u !== null && !Array.isArray(u));
}

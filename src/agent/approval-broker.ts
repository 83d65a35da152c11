// Holds approval requests waiting for `respond(requestId, ...)`; the permission engine's gate
// times them out (deny) and aborts them, which removes them here.
import type { ApprovalCallback, ApprovalRequest, ApprovalResponse } from './permissions/index.js';

export class ApprovalBroker {
  readonly #pending = new Map<string, (r: ApprovalResponse) => void>();

  /** The engine's approval callback: waits for `respond` (or the engine's timeout/abort). */
  readonly callback: ApprovalCallback = (request: ApprovalRequest, ctx) =>
    new Promise<ApprovalResponse>((resolve) => {
      const done = (): void => {
        this.#pending.delete(request.requestId);
      };
      this.#pending.set(request.requestId, (r) => {
        done();
        resolve(r);
      });
      ctx.signal.addEventListener('abort', done, { once: true });
    });

  respond(requestId: string, response: ApprovalResponse): boolean {
    const answer = this.#pending.get(requestId);
    if (!answer) return false;
    answer(response);
    return true;
  }

  get pending(): string[] {
    return [...this.#pending.keys()];
  }
}

// In-process control channel between the API and the workers of one service: approval answers
// and cancellation reach the running session's handle. (The fleet issue moves this to Redis.)

export interface ApprovalAnswer {
  behavior: 'allow' | 'deny';
  updatedInput?: Record<string, unknown>;
  message?: string;
}

/** What a worker registers for the session it runs. */
export interface RunningSessionHandle {
  /** false when no such approval request is waiting. */
  respond(requestId: string, answer: ApprovalAnswer): boolean;
  abort(reason: string): void;
}

export class SessionControl {
  readonly #running = new Map<string, RunningSessionHandle>();

  /** Registers the handle of a session this process runs; returns the unregister function. */
  register(sessionId: string, handle: RunningSessionHandle): () => void {
    this.#running.set(sessionId, handle);
    return () => {
      if (this.#running.get(sessionId) === handle) this.#running.delete(sessionId);
    };
  }

  respond(sessionId: string, requestId: string, answer: ApprovalAnswer): boolean {
    return this.#running.get(sessionId)?.respond(requestId, answer) ?? false;
  }

  /** true when the session runs here and was told to stop. */
  abort(sessionId: string, reason: string): boolean {
    const h = this.#running.get(sessionId);
    if (h === undefined) return false;
    h.abort(reason);
    return true;
  }

  get runningIds(): string[] {
    return [...this.#running.keys()];
  }
}

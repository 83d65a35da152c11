// In-process live feed of appended transcript events, keyed by session (feeds SSE).
// A throwing listener is logged and removed; it never breaks the writer or other listeners.
import type { StorageLogger } from '../storage/storage-logger.js';
import type { SessionEvent, SessionEventListener } from './session-store.js';

export class SessionEventFeed {
  readonly #listeners = new Map<string, Set<SessionEventListener>>();
  readonly #logger: StorageLogger;

  constructor(logger: StorageLogger) {
    this.#logger = logger;
  }

  subscribe(sessionId: string, listener: SessionEventListener): () => void {
    let set = this.#listeners.get(sessionId);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(sessionId, set);
    }
    set.add(listener);
    return () => this.#remove(sessionId, listener);
  }

  publish(event: SessionEvent): void {
    const set = this.#listeners.get(event.sessionId);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch (err) {
        this.#logger.warn({ err, sessionId: event.sessionId }, 'sessions: listener threw; removed');
        this.#remove(event.sessionId, listener);
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }

  #remove(sessionId: string, listener: SessionEventListener): void {
    const set = this.#listeners.get(sessionId);
    if (set === undefined) return;
    set.delete(listener);
    if (set.size === 0) this.#listeners.delete(sessionId);
  }
}

// The allowed session status transitions, and the error for a forbidden one.
// Finished sessions may be queued again (continued with a new message); cancelled is final.
import { RingfenceError } from '../errors.js';
import type { SessionStatus } from './session-store.js';

const ALLOWED: Readonly<Record<SessionStatus, readonly SessionStatus[]>> = {
  queued: ['running', 'cancelled', 'failed'],
  // running → queued: the worker released the session (shutdown) or its lease expired.
  running: ['waiting_approval', 'paused', 'succeeded', 'failed', 'cancelled', 'queued'],
  waiting_approval: ['running', 'paused', 'failed', 'cancelled', 'queued'],
  paused: ['queued', 'running', 'cancelled', 'failed'],
  succeeded: ['queued'],
  failed: ['queued'],
  cancelled: [],
};

export function canTransition(from: SessionStatus, to: SessionStatus): boolean {
  return ALLOWED[from].includes(to);
}

export class InvalidTransitionError extends RingfenceError {
  constructor(sessionId: string, from: SessionStatus, to: SessionStatus) {
    super('conflict', `session ${sessionId} cannot go from ${from} to ${to}`, {
      details: { sessionId, from, to },
    });
  }
}

// How the API turns a session into queue work: one task per start or continuation message,
// ids `<sessionId>.<n>`; and the lookup of a session's live tasks (for cancel).
import { randomBytes } from 'node:crypto';
import type { Task, TaskQueue } from '../queue/queue.js';
import type { SessionStatus } from '../sessions/session-store.js';

/** Statuses that count against a tenant's concurrent-session limit. */
export const ACTIVE_STATUSES: readonly SessionStatus[] = [
  'queued',
  'running',
  'waiting_approval',
  'paused',
];

/** The payload workers read from a task. */
export interface SessionTaskPayload {
  kind: 'session';
  /** The prompt of this task: the session prompt, or the continuation message. */
  prompt: string;
}

export async function enqueueSessionTask(
  queue: TaskQueue,
  input: { sessionId: string; tenantId: string; prompt: string; priority?: number },
): Promise<Task> {
  const payload: SessionTaskPayload = { kind: 'session', prompt: input.prompt };
  return queue.enqueue({
    id: `${input.sessionId}.${randomBytes(4).toString('hex')}`,
    tenantId: input.tenantId,
    sessionId: input.sessionId,
    payload,
    ...(input.priority === undefined ? {} : { priority: input.priority }),
  });
}

/** Waiting or leased tasks of a session. */
export async function findSessionTasks(queue: TaskQueue, sessionId: string): Promise<Task[]> {
  const out: Task[] = [];
  for (const status of ['waiting', 'leased'] as const) {
    for (const t of await queue.list(status, { limit: 10_000 })) {
      if (t.sessionId === sessionId) out.push(t);
    }
  }
  return out;
}

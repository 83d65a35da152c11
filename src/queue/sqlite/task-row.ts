// Maps a queue_tasks row to the public Task shape (JSON payload, undefined for NULL).
// Kept apart so the queue and the session store's lease fence read rows the same way.
import type { Task, TaskStatus } from '../queue.js';

export interface TaskRow {
  seq: number;
  id: string;
  tenant_id: string;
  session_id: string;
  priority: number;
  payload: string;
  status: TaskStatus;
  attempts: number;
  max_attempts: number;
  lease_count: number;
  epoch: number;
  worker_id: string | null;
  lease_until: number | null;
  available_at: number;
  enqueued_at: number;
  updated_at: number;
  last_error: string | null;
}

export function taskFromRow(row: TaskRow): Task {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    sessionId: row.session_id,
    priority: row.priority,
    payload: JSON.parse(row.payload) as unknown,
    status: row.status,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    leaseCount: row.lease_count,
    epoch: row.epoch,
    workerId: row.worker_id ?? undefined,
    leaseUntil: row.lease_until ?? undefined,
    availableAt: row.available_at,
    enqueuedAt: row.enqueued_at,
    updatedAt: row.updated_at,
    lastError: row.last_error ?? undefined,
  };
}

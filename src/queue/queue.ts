// The TaskQueue contract: leases with a fencing epoch, heartbeats, retries, cancellation,
// fair scheduling across tenants. Backends: sqlite/ (embedded); a BullMQ one comes later.

/** Lifecycle of a task. `dead` = retries exhausted (dead letter); `failed` = non-retryable. */
export type TaskStatus = 'waiting' | 'leased' | 'completed' | 'failed' | 'dead' | 'cancelled';

export const TASK_STATUSES: readonly TaskStatus[] = [
  'waiting',
  'leased',
  'completed',
  'failed',
  'dead',
  'cancelled',
];

export interface EnqueueInput {
  /** Unique task id chosen by the caller (a second enqueue with the same id is a conflict). */
  id: string;
  tenantId: string;
  /** The session this task runs; at most one task of a session is leased at a time. */
  sessionId: string;
  /** Higher runs first; default 0. Within one priority, tenants take turns. */
  priority?: number;
  /** JSON-serialisable task data. */
  payload?: unknown;
  /** Failures allowed before dead-lettering (>= 1); default 3. Lease expiry never counts. */
  maxAttempts?: number;
  /** Do not lease before this time (ms since epoch); default now. */
  availableAt?: number;
}

export interface Task {
  id: string;
  tenantId: string;
  sessionId: string;
  priority: number;
  payload: unknown;
  status: TaskStatus;
  /** Failed attempts so far (fail() calls); crash recovery does not count. */
  attempts: number;
  maxAttempts: number;
  /** Times the task was handed to a worker, including after a lease expired. */
  leaseCount: number;
  /** Current fencing epoch; 0 before the first lease. */
  epoch: number;
  workerId: string | undefined;
  leaseUntil: number | undefined;
  availableAt: number;
  enqueuedAt: number;
  updatedAt: number;
  lastError: string | undefined;
}

export interface Lease {
  task: Task;
  /** Fencing token: present it on every heartbeat, completion and session-store write. */
  epoch: number;
  leaseUntil: number;
}

export interface LeaseOptions {
  /** How long the lease lasts without a heartbeat. */
  visibilityMs: number;
  /** Max concurrently leased tasks per tenant; a tenant absent here uses `defaultTenantCap`. */
  tenantCaps?: Readonly<Record<string, number>>;
  /** Cap for tenants not in `tenantCaps`; absent means unlimited. */
  defaultTenantCap?: number;
}

export interface FailOptions {
  /** true: retry with backoff until maxAttempts, then dead-letter; false: fail at once. */
  retryable: boolean;
}

export interface FailOutcome {
  status: 'waiting' | 'dead' | 'failed';
  /** When the retry becomes leasable (status `waiting` only). */
  availableAt: number | undefined;
}

export interface QueueStats {
  byStatus: Record<TaskStatus, number>;
  /** Age of the oldest leasable waiting task, ms; undefined when none waits. */
  oldestWaitMs: number | undefined;
}

export interface TaskQueue {
  enqueue(input: EnqueueInput): Promise<Task>;
  get(taskId: string): Promise<Task | undefined>;
  /** Takes the next task atomically (fairly across tenants); undefined when nothing is ready. */
  lease(workerId: string, options: LeaseOptions): Promise<Lease | undefined>;
  /** Extends the lease; throws StaleEpochError if the lease moved, ended or was cancelled. */
  heartbeat(taskId: string, epoch: number, visibilityMs: number): Promise<{ leaseUntil: number }>;
  complete(taskId: string, epoch: number): Promise<void>;
  fail(taskId: string, epoch: number, error: string, options: FailOptions): Promise<FailOutcome>;
  /** Graceful shutdown: back to the queue at once, no attempt used. */
  release(taskId: string, epoch: number): Promise<void>;
  /** Cancels a waiting or leased task; a leased task's epoch stops being valid. false if already finished. */
  cancel(taskId: string): Promise<boolean>;
  /** Tasks in one status, oldest first (dead letters, for example). */
  list(status: TaskStatus, options?: { limit?: number }): Promise<Task[]>;
  stats(): Promise<QueueStats>;
  /** Idempotent; returns the in-flight promise on repeated calls. */
  close(): Promise<void>;
}

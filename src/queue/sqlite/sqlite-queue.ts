// The embedded TaskQueue on SQLite: every state change is one BEGIN IMMEDIATE transaction,
// so two processes on one file never lease the same task and epochs fence stale workers.
import { z } from 'zod';
import { RingfenceError } from '../../errors.js';
import { openSqliteDb, runMigrations, type SqliteDatabase } from '../../storage/sqlite-db.js';
import {
  silentLogger,
  systemClock,
  type Clock,
  type StorageLogger,
} from '../../storage/storage-logger.js';
import { backoff, DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_CAP_MS } from '../backoff.js';
import {
  TASK_STATUSES,
  type EnqueueInput,
  type FailOptions,
  type FailOutcome,
  type Lease,
  type LeaseOptions,
  type QueueStats,
  type Task,
  type TaskQueue,
  type TaskStatus,
} from '../queue.js';
import { StaleEpochError } from '../stale-epoch-error.js';
import { QUEUE_MIGRATIONS } from './queue-migrations.js';
import { PICK_NEXT_SQL } from './pick-next-sql.js';
import { taskFromRow, type TaskRow } from './task-row.js';

export const DEFAULT_MAX_ATTEMPTS = 3;

export interface SqliteQueueOptions {
  /** Opens <dataDir>/ringfence.db (owned and closed by the queue) unless `db` is given. */
  dataDir?: string;
  /** A shared connection; the queue does not close it. */
  db?: SqliteDatabase;
  clock?: Clock;
  logger?: StorageLogger;
  backoffBaseMs?: number;
  backoffCapMs?: number;
}

const enqueueSchema = z.object({
  id: z.string().min(1).max(200).describe('unique task id'),
  tenantId: z.string().min(1).max(200),
  sessionId: z.string().min(1).max(200),
  priority: z.number().int().default(0),
  payload: z.unknown(),
  maxAttempts: z.number().int().min(1).default(DEFAULT_MAX_ATTEMPTS),
  availableAt: z.number().int().nonnegative().optional(),
});

export class SqliteQueue implements TaskQueue {
  readonly #db: SqliteDatabase;
  readonly #ownsDb: boolean;
  readonly #clock: Clock;
  readonly #logger: StorageLogger;
  readonly #backoffBaseMs: number;
  readonly #backoffCapMs: number;
  #closing: Promise<void> | undefined;

  constructor(options: SqliteQueueOptions) {
    if (options.db === undefined && options.dataDir === undefined) {
      throw new RingfenceError('invalid_request', 'SqliteQueue needs dataDir or db');
    }
    this.#logger = options.logger ?? silentLogger;
    this.#ownsDb = options.db === undefined;
    this.#db = options.db ?? openSqliteDb({ dataDir: options.dataDir ?? '', logger: this.#logger });
    this.#clock = options.clock ?? systemClock;
    this.#backoffBaseMs = options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
    this.#backoffCapMs = options.backoffCapMs ?? DEFAULT_BACKOFF_CAP_MS;
    runMigrations(this.#db, 'queue_', QUEUE_MIGRATIONS);
  }

  async enqueue(input: EnqueueInput): Promise<Task> {
    const parsed = enqueueSchema.safeParse(input);
    if (!parsed.success) {
      const msg = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new RingfenceError('invalid_request', `invalid task: ${msg}`);
    }
    const t = parsed.data;
    const now = this.#clock.now();
    const payload = JSON.stringify(t.payload ?? null);
    return this.#write(() => {
      const exists = this.#db.prepare('SELECT 1 FROM queue_tasks WHERE id = ?').get(t.id);
      if (exists !== undefined) {
        throw new RingfenceError('conflict', `task ${t.id} already exists`, {
          details: { taskId: t.id },
        });
      }
      this.#db
        .prepare(
          `INSERT INTO queue_tasks (id, tenant_id, session_id, priority, payload, status,
             max_attempts, available_at, enqueued_at, updated_at)
           VALUES (?, ?, ?, ?, ?, 'waiting', ?, ?, ?, ?)`,
        )
        .run(
          t.id,
          t.tenantId,
          t.sessionId,
          t.priority,
          payload,
          t.maxAttempts,
          t.availableAt ?? now,
          now,
          now,
        );
      return this.#mustGet(t.id);
    });
  }

  async get(taskId: string): Promise<Task | undefined> {
    const row = this.#row(taskId);
    return row === undefined ? undefined : taskFromRow(row);
  }

  async lease(workerId: string, options: LeaseOptions): Promise<Lease | undefined> {
    if (!(options.visibilityMs > 0)) {
      throw new RingfenceError('invalid_request', 'visibilityMs must be > 0');
    }
    return this.#write(() => {
      const now = this.#clock.now();
      const pick = this.#db
        .prepare<unknown[], { id: string; session_id: string; tenant_id: string }>(PICK_NEXT_SQL)
        .get({
          now,
          caps: JSON.stringify(options.tenantCaps ?? {}),
          defaultCap: options.defaultTenantCap ?? null,
        });
      if (pick === undefined) return undefined;
      const leaseUntil = now + options.visibilityMs;
      // The epoch is per session (max over its tasks + 1): a new task of a continued session
      // never reuses an epoch a stale worker of an older task might still hold.
      this.#db
        .prepare(
          `UPDATE queue_tasks
              SET status = 'leased', worker_id = ?, lease_until = ?, updated_at = ?,
                  lease_count = lease_count + 1,
                  epoch = (SELECT MAX(epoch) FROM queue_tasks WHERE session_id = ?) + 1
            WHERE id = ?`,
        )
        .run(workerId, leaseUntil, now, pick.session_id, pick.id);
      this.#db
        .prepare(
          `INSERT INTO queue_tenants (tenant_id, last_served)
           VALUES (?, (SELECT COALESCE(MAX(last_served), 0) + 1 FROM queue_tenants))
           ON CONFLICT (tenant_id) DO UPDATE SET last_served = excluded.last_served`,
        )
        .run(pick.tenant_id);
      const task = this.#mustGet(pick.id);
      this.#logger.debug({ taskId: task.id, workerId, epoch: task.epoch }, 'queue: leased');
      return { task, epoch: task.epoch, leaseUntil };
    });
  }

  async heartbeat(
    taskId: string,
    epoch: number,
    visibilityMs: number,
  ): Promise<{ leaseUntil: number }> {
    return this.#write(() => {
      this.#assertLease(taskId, epoch);
      const now = this.#clock.now();
      const leaseUntil = now + visibilityMs;
      this.#db
        .prepare('UPDATE queue_tasks SET lease_until = ?, updated_at = ? WHERE id = ?')
        .run(leaseUntil, now, taskId);
      return { leaseUntil };
    });
  }

  async complete(taskId: string, epoch: number): Promise<void> {
    this.#write(() => {
      this.#assertLease(taskId, epoch);
      this.#finish(taskId, 'completed', null);
    });
  }

  async fail(
    taskId: string,
    epoch: number,
    error: string,
    options: FailOptions,
  ): Promise<FailOutcome> {
    return this.#write(() => {
      const row = this.#assertLease(taskId, epoch);
      const attempts = row.attempts + 1;
      const now = this.#clock.now();
      const message = error.slice(0, 4_000);
      if (options.retryable && attempts < row.max_attempts) {
        const availableAt = now + backoff(attempts, this.#backoffBaseMs, this.#backoffCapMs);
        this.#db
          .prepare(
            `UPDATE queue_tasks SET status = 'waiting', attempts = ?, available_at = ?, worker_id = NULL,
               lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ?`,
          )
          .run(attempts, availableAt, message, now, taskId);
        return { status: 'waiting', availableAt };
      }
      const status = options.retryable ? 'dead' : 'failed';
      this.#db.prepare('UPDATE queue_tasks SET attempts = ? WHERE id = ?').run(attempts, taskId);
      this.#finish(taskId, status, message);
      this.#logger.info({ taskId, status, attempts }, 'queue: task finished unsuccessfully');
      return { status, availableAt: undefined };
    });
  }

  async release(taskId: string, epoch: number): Promise<void> {
    this.#write(() => {
      this.#assertLease(taskId, epoch);
      const now = this.#clock.now();
      this.#db
        .prepare(
          `UPDATE queue_tasks SET status = 'waiting', worker_id = NULL, lease_until = NULL,
             available_at = ?, updated_at = ? WHERE id = ?`,
        )
        .run(now, now, taskId);
    });
  }

  async cancel(taskId: string): Promise<boolean> {
    return this.#write(() => {
      const row = this.#row(taskId);
      if (row === undefined) throw new RingfenceError('not_found', `task ${taskId} not found`);
      if (row.status !== 'waiting' && row.status !== 'leased') return false;
      this.#finish(taskId, 'cancelled', null);
      return true;
    });
  }

  async list(status: TaskStatus, options: { limit?: number } = {}): Promise<Task[]> {
    const rows = this.#db
      .prepare<[string, number], TaskRow>(
        'SELECT * FROM queue_tasks WHERE status = ? ORDER BY seq LIMIT ?',
      )
      .all(status, Math.min(Math.max(options.limit ?? 100, 1), 1_000));
    return rows.map(taskFromRow);
  }

  async stats(): Promise<QueueStats> {
    const now = this.#clock.now();
    const byStatus = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<
      TaskStatus,
      number
    >;
    const counts = this.#db
      .prepare<[], { status: TaskStatus; n: number }>(
        'SELECT status, COUNT(*) AS n FROM queue_tasks GROUP BY status',
      )
      .all();
    for (const c of counts) byStatus[c.status] = c.n;
    const oldest = this.#db
      .prepare<[number], { t: number | null }>(
        `SELECT MIN(available_at) AS t FROM queue_tasks WHERE status = 'waiting' AND available_at <= ?`,
      )
      .get(now);
    const t = oldest?.t ?? null;
    return { byStatus, oldestWaitMs: t === null ? undefined : now - t };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#ownsDb && this.#db.open) this.#db.close();
    })();
    return this.#closing;
  }

  /** Runs `fn` in BEGIN IMMEDIATE: the write lock is taken before the first read. */
  #write<T>(fn: () => T): T {
    if (this.#closing !== undefined) throw new RingfenceError('internal', 'queue is closed');
    return this.#db.transaction(fn).immediate();
  }

  #row(taskId: string): TaskRow | undefined {
    return this.#db
      .prepare<[string], TaskRow>('SELECT * FROM queue_tasks WHERE id = ?')
      .get(taskId);
  }

  #mustGet(taskId: string): Task {
    const row = this.#row(taskId);
    if (row === undefined) throw new RingfenceError('not_found', `task ${taskId} not found`);
    return taskFromRow(row);
  }

  /** The task must be leased with exactly this epoch (an expired but not yet moved lease still counts). */
  #assertLease(taskId: string, epoch: number): TaskRow {
    const row = this.#row(taskId);
    if (row === undefined) throw new RingfenceError('not_found', `task ${taskId} not found`);
    if (row.epoch !== epoch) {
      throw new StaleEpochError(`task ${taskId}`, epoch, row.epoch, 'lease moved to a newer epoch');
    }
    if (row.status !== 'leased') {
      throw new StaleEpochError(`task ${taskId}`, epoch, row.epoch, `task is ${row.status}`);
    }
    return row;
  }

  #finish(taskId: string, status: TaskStatus, error: string | null): void {
    this.#db
      .prepare(
        `UPDATE queue_tasks SET status = ?, worker_id = NULL, lease_until = NULL,
           last_error = COALESCE(?, last_error), updated_at = ? WHERE id = ?`,
      )
      .run(status, error, this.#clock.now(), taskId);
  }
}

// The embedded SessionStore on SQLite: each write checks the lease fence (queue_tasks in the
// same file) and writes in one BEGIN IMMEDIATE transaction; snapshots are blobs on disk.
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { RingfenceError } from '../../errors.js';
import { assertSessionFence } from '../../queue/sqlite/sqlite-lease-fence.js';
import { QUEUE_MIGRATIONS } from '../../queue/sqlite/queue-migrations.js';
import { openSqliteDb, runMigrations, type SqliteDatabase } from '../../storage/sqlite-db.js';
import {
  silentLogger,
  systemClock,
  type Clock,
  type StorageLogger,
} from '../../storage/storage-logger.js';
import { SessionEventFeed } from '../event-feed.js';
import {
  FINISHED_STATUSES,
  type CreateSessionInput,
  type FenceOptions,
  type ListSessionsFilter,
  type RetentionResult,
  type SessionEvent,
  type SessionEventInput,
  type SessionEventListener,
  type SessionPage,
  type SessionRecord,
  type SessionStatus,
  type SessionStore,
  type SessionUsage,
  type SnapshotRef,
  type StatusChange,
} from '../session-store.js';
import { SnapshotBlobs } from '../snapshot-blobs.js';
import { canTransition, InvalidTransitionError } from '../status-transitions.js';
import { SESSION_MIGRATIONS } from './session-migrations.js';
import { purgeFinishedSessions, removeBlobIfUnreferenced } from './session-retention.js';
import {
  decodeCursor,
  encodeCursor,
  eventFromRow,
  sessionFromRow,
  snapshotFromRow,
  type EventRow,
  type SessionRow,
  type SnapshotRow,
} from './session-row.js';

export interface SqliteSessionStoreOptions {
  /** Holds ringfence.db (unless `db` is given) and the snapshot blobs (unless `blobDir`). */
  dataDir: string;
  /** A shared connection; the store does not close it. */
  db?: SqliteDatabase;
  /** Default <dataDir>/snapshots. */
  blobDir?: string;
  maxSnapshotBytes?: number;
  clock?: Clock;
  logger?: StorageLogger;
}

const EMPTY_USAGE: SessionUsage = { inputTokens: 0, outputTokens: 0, costUsd: 0 };
const DEFAULT_PAGE = 50;
const MAX_PAGE = 200;
const DEFAULT_EVENTS = 500;
const MAX_EVENTS = 5_000;

const createSchema = z.object({
  id: z.string().min(1).max(200),
  tenantId: z.string().min(1).max(200),
  prompt: z.string(),
  tier: z.string().min(1),
  role: z.string().min(1),
  mode: z.string().min(1),
  options: z.record(z.unknown()).default({}),
  metadata: z.record(z.unknown()).default({}),
});

export class SqliteSessionStore implements SessionStore {
  readonly #db: SqliteDatabase;
  readonly #ownsDb: boolean;
  readonly #blobs: SnapshotBlobs;
  readonly #clock: Clock;
  readonly #logger: StorageLogger;
  readonly #feed: SessionEventFeed;
  /** Prepared once per SQL text: the hot paths (events, status) run a few per call. */
  readonly #statements = new Map<string, Database.Statement<unknown[]>>();
  #closing: Promise<void> | undefined;

  constructor(options: SqliteSessionStoreOptions) {
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    this.#ownsDb = options.db === undefined;
    this.#db = options.db ?? openSqliteDb({ dataDir: options.dataDir, logger: this.#logger });
    this.#blobs = new SnapshotBlobs(
      options.blobDir ?? join(options.dataDir, 'snapshots'),
      options.maxSnapshotBytes,
    );
    this.#feed = new SessionEventFeed(this.#logger);
    // The fence reads queue_tasks, so its schema must exist even before a queue opens.
    runMigrations(this.#db, 'queue_', QUEUE_MIGRATIONS);
    runMigrations(this.#db, 'sessions_', SESSION_MIGRATIONS);
  }

  async create(input: CreateSessionInput): Promise<SessionRecord> {
    const parsed = createSchema.safeParse(input);
    if (!parsed.success) {
      const msg = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new RingfenceError('invalid_request', `invalid session: ${msg}`);
    }
    const s = parsed.data;
    const now = this.#clock.now();
    return this.#write(() => {
      if (this.#row(s.id) !== undefined) {
        throw new RingfenceError('conflict', `session ${s.id} already exists`, {
          details: { sessionId: s.id },
        });
      }
      this.#stmt(
        `INSERT INTO sessions (id, tenant_id, status, prompt, tier, role, mode, options, metadata,
           created_at, updated_at, usage)
         VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        s.id,
        s.tenantId,
        s.prompt,
        s.tier,
        s.role,
        s.mode,
        JSON.stringify(s.options),
        JSON.stringify(s.metadata),
        now,
        now,
        JSON.stringify(EMPTY_USAGE),
      );
      return sessionFromRow(this.#mustRow(s.id));
    });
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const row = this.#row(id);
    return row === undefined ? undefined : sessionFromRow(row);
  }

  async list(filter: ListSessionsFilter = {}): Promise<SessionPage> {
    const limit = Math.min(Math.max(Math.floor(filter.limit ?? DEFAULT_PAGE), 1), MAX_PAGE);
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.tenantId !== undefined) {
      where.push('tenant_id = ?');
      params.push(filter.tenantId);
    }
    if (filter.status !== undefined) {
      const statuses: readonly SessionStatus[] =
        typeof filter.status === 'string' ? [filter.status] : filter.status;
      if (statuses.length === 0) return { sessions: [], nextCursor: undefined };
      where.push(`status IN (${statuses.map(() => '?').join(', ')})`);
      params.push(...statuses);
    }
    if (filter.cursor !== undefined) {
      where.push('seq < ?');
      params.push(decodeCursor(filter.cursor));
    }
    const sql = `SELECT * FROM sessions ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
                 ORDER BY seq DESC LIMIT ?`;
    const rows = this.#db.prepare<unknown[], SessionRow>(sql).all(...params, limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      sessions: page.map(sessionFromRow),
      nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last.seq) : undefined,
    };
  }

  async updateStatus(
    id: string,
    status: SessionStatus,
    change: StatusChange = {},
  ): Promise<SessionRecord> {
    return this.#write(() => {
      const row = this.#mustRow(id);
      // Cancelling is an operator action: allowed while a worker holds the lease.
      assertSessionFence(this.#db, id, change.epoch, status === 'cancelled');
      if (row.status !== status && !canTransition(row.status, status)) {
        throw new InvalidTransitionError(id, row.status, status);
      }
      const now = this.#clock.now();
      const finished = FINISHED_STATUSES.includes(status) ? now : null;
      this.#stmt(
        `UPDATE sessions SET status = ?, updated_at = ?, finished_at = ?,
           result = COALESCE(?, result), usage = COALESCE(?, usage),
           last_completed_turn = COALESCE(?, last_completed_turn)
         WHERE id = ?`,
      ).run(
        status,
        now,
        finished,
        change.result === undefined ? null : JSON.stringify(change.result),
        change.usage === undefined ? null : JSON.stringify(change.usage),
        change.lastCompletedTurn ?? null,
        id,
      );
      return sessionFromRow(this.#mustRow(id));
    });
  }

  async recordTurn(
    id: string,
    turn: number,
    usage: SessionUsage | undefined,
    fence: FenceOptions = {},
  ): Promise<SessionRecord> {
    return this.#write(() => {
      this.#mustRow(id);
      assertSessionFence(this.#db, id, fence.epoch);
      this.#stmt(
        `UPDATE sessions SET last_completed_turn = MAX(last_completed_turn, ?),
           usage = COALESCE(?, usage), updated_at = ? WHERE id = ?`,
      ).run(turn, usage === undefined ? null : JSON.stringify(usage), this.#clock.now(), id);
      return sessionFromRow(this.#mustRow(id));
    });
  }

  async appendEvent(
    sessionId: string,
    event: SessionEventInput,
    fence: FenceOptions = {},
  ): Promise<SessionEvent> {
    const data = JSON.stringify(event.data ?? null);
    const stored = this.#write(() => {
      // Existence first (same error as before), without reading the whole row.
      if (this.#stmt('SELECT 1 FROM sessions WHERE id = ?').get(sessionId) === undefined)
        throw new RingfenceError('not_found', `session ${sessionId} not found`);
      assertSessionFence(this.#db, sessionId, fence.epoch);
      const now = this.#clock.now();
      const next = this.#stmt(
        `UPDATE sessions SET last_event_seq = last_event_seq + 1, updated_at = ?
          WHERE id = ? RETURNING last_event_seq`,
      ).get(now, sessionId) as { last_event_seq: number } | undefined;
      if (next === undefined)
        throw new RingfenceError('not_found', `session ${sessionId} not found`);
      const row: EventRow = {
        session_id: sessionId,
        seq: next.last_event_seq,
        type: event.type,
        data,
        epoch: fence.epoch ?? null,
        created_at: now,
      };
      this.#stmt(
        `INSERT INTO session_events (session_id, seq, type, data, epoch, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(row.session_id, row.seq, row.type, row.data, row.epoch, row.created_at);
      return eventFromRow(row);
    });
    this.#feed.publish(stored);
    return stored;
  }

  async events(
    sessionId: string,
    options: { afterSeq?: number; limit?: number } = {},
  ): Promise<SessionEvent[]> {
    const limit = Math.min(Math.max(Math.floor(options.limit ?? DEFAULT_EVENTS), 1), MAX_EVENTS);
    const rows = this.#db
      .prepare<[string, number, number], EventRow>(
        'SELECT * FROM session_events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      )
      .all(sessionId, options.afterSeq ?? 0, limit);
    return rows.map(eventFromRow);
  }

  subscribe(sessionId: string, listener: SessionEventListener): () => void {
    return this.#feed.subscribe(sessionId, listener);
  }

  async putSnapshot(
    sessionId: string,
    turn: number,
    data: Buffer | Readable,
    fence: FenceOptions = {},
  ): Promise<SnapshotRef> {
    if (!Number.isSafeInteger(turn) || turn < 0)
      throw new RingfenceError('invalid_request', 'turn must be >= 0');
    const staged = await this.#blobs.stage(data);
    try {
      return this.#write(() => {
        this.#mustRow(sessionId);
        assertSessionFence(this.#db, sessionId, fence.epoch);
        const previous = this.#db
          .prepare<[string, number], SnapshotRow>(
            'SELECT * FROM session_snapshots WHERE session_id = ? AND turn = ?',
          )
          .get(sessionId, turn);
        // Blob moves into place inside the write lock, so retention cannot delete it meanwhile.
        this.#blobs.commit(staged);
        const row: SnapshotRow = {
          session_id: sessionId,
          turn,
          sha256: staged.sha256,
          size_bytes: staged.sizeBytes,
          created_at: this.#clock.now(),
        };
        this.#db
          .prepare(
            `INSERT OR REPLACE INTO session_snapshots (session_id, turn, sha256, size_bytes, created_at)
             VALUES (@session_id, @turn, @sha256, @size_bytes, @created_at)`,
          )
          .run(row);
        if (previous !== undefined && previous.sha256 !== row.sha256)
          removeBlobIfUnreferenced(this.#db, this.#blobs, previous.sha256);
        return snapshotFromRow(row);
      });
    } finally {
      this.#blobs.discard(staged);
    }
  }

  async latestSnapshot(sessionId: string): Promise<SnapshotRef | undefined> {
    const row = this.#db
      .prepare<[string], SnapshotRow>(
        'SELECT * FROM session_snapshots WHERE session_id = ? ORDER BY turn DESC LIMIT 1',
      )
      .get(sessionId);
    return row === undefined ? undefined : snapshotFromRow(row);
  }

  async readSnapshot(ref: SnapshotRef): Promise<Buffer> {
    return this.#blobs.read(ref.sha256);
  }

  async deleteExpired(before: number): Promise<RetentionResult> {
    return this.#write(() => {
      const result = purgeFinishedSessions(this.#db, this.#blobs, before, this.#clock.now());
      this.#logger.info({ ...result, before }, 'sessions: retention');
      return result;
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#feed.clear();
      if (this.#ownsDb && this.#db.open) this.#db.close();
    })();
    return this.#closing;
  }

  #write<T>(fn: () => T): T {
    if (this.#closing !== undefined)
      throw new RingfenceError('internal', 'session store is closed');
    return this.#db.transaction(fn).immediate();
  }

  #row(id: string): SessionRow | undefined {
    return this.#stmt('SELECT * FROM sessions WHERE id = ?').get(id) as SessionRow | undefined;
  }

  #stmt(sql: string): Database.Statement<unknown[]> {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare<unknown[]>(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  #mustRow(id: string): SessionRow {
    const row = this.#row(id);
    if (row === undefined) throw new RingfenceError('not_found', `session ${id} not found`);
    return row;
  }
}

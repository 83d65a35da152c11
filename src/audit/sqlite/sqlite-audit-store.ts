// AuditStore on SQLite (better-sqlite3, WAL, synchronous=FULL per sync append) in ringfence.db.
// Rows are read in rowid (insertion) order so a reordered or renumbered row stays visible.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AuditError } from '../../errors.js';
import {
  DB_FILE_NAME,
  openSqliteDb,
  runMigrations,
  type SqliteDatabase,
} from '../../storage/sqlite-db.js';
import { silentLogger, type StorageLogger } from '../../storage/storage-logger.js';
import { canonicalize } from '../canonical-json.js';
import type { AuditCheckpoint, AuditRecord } from '../audit-record.js';
import type { AppendDurability, AuditHead, AuditStore, StoredEntry } from '../audit-store.js';
import { AUDIT_MIGRATIONS } from './sqlite-audit-schema.js';

export interface SqliteAuditStoreOptions {
  /** Directory of ringfence.db (created 0700 unless `readonly`). */
  dataDir: string;
  /** Open an existing database for verification only; never creates or migrates. */
  readonly?: boolean;
  busyTimeoutMs?: number;
  logger?: StorageLogger;
}

export class SqliteAuditStore implements AuditStore {
  readonly kind = 'sqlite';
  readonly #db: SqliteDatabase;
  /** Prepared once per SQL text: compiling a statement costs more than running it. */
  readonly #statements = new Map<string, Database.Statement>();
  /** The connection's current `synchronous` setting (writers only). */
  #synchronous: 'FULL' | 'NORMAL' = 'FULL';
  #closed = false;

  constructor(options: SqliteAuditStoreOptions) {
    const logger = options.logger ?? silentLogger;
    if (options.readonly === true) {
      const file = join(options.dataDir, DB_FILE_NAME);
      if (!existsSync(file)) throw new AuditError(`no audit database at ${file}`);
      try {
        this.#db = new Database(file, { readonly: true, fileMustExist: true });
        this.#db.prepare('SELECT 1 FROM audit_records LIMIT 1').get();
      } catch (cause) {
        throw new AuditError(`cannot open audit database ${file}`, { cause });
      }
      return;
    }
    try {
      this.#db = openSqliteDb({
        dataDir: options.dataDir,
        synchronous: 'FULL',
        logger,
        ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
      });
      runMigrations(this.#db, 'audit_', AUDIT_MIGRATIONS);
    } catch (cause) {
      throw new AuditError(`cannot open audit database in ${options.dataDir}`, { cause });
    }
  }

  async appendRecord(record: AuditRecord, durability: AppendDurability = {}): Promise<void> {
    this.#run('append audit record', () => {
      // WAL durability: synchronous=FULL fsyncs the WAL at every commit (survives power loss);
      // NORMAL only writes the frames to the OS (survives a process crash) and leaves the
      // fsync to the next FULL commit, which flushes the whole WAL file, these frames included
      // (also those of other connections to ringfence.db, e.g. transcript events).
      this.#setSynchronous(durability.sync === false ? 'NORMAL' : 'FULL');
      this.#insertRecord(record);
    });
  }

  async appendCheckpoint(checkpoint: AuditCheckpoint, record: AuditRecord): Promise<void> {
    this.#run('append audit checkpoint', () => {
      this.#setSynchronous('FULL');
      this.#db
        .transaction(() => {
          this.#stmt(
            'INSERT INTO audit_checkpoints (log_id, idx, seq, checkpoint) VALUES (?, ?, ?, ?)',
          ).run(checkpoint.logId, checkpoint.index, checkpoint.seq, canonicalize(checkpoint));
          this.#insertRecord(record);
        })
        .immediate();
    });
  }

  async head(logId: string): Promise<AuditHead> {
    return this.#run('read audit head', () => {
      const rec = this.#stmt(
        'SELECT record FROM audit_records WHERE log_id = ? ORDER BY seq DESC LIMIT 1',
      ).get(logId) as { record: string } | undefined;
      const cp = this.#stmt(
        'SELECT checkpoint FROM audit_checkpoints WHERE log_id = ? ORDER BY idx DESC LIMIT 1',
      ).get(logId) as { checkpoint: string } | undefined;
      const head: AuditHead = {};
      if (rec !== undefined) head.last = JSON.parse(rec.record) as AuditRecord;
      if (cp !== undefined) head.lastCheckpoint = JSON.parse(cp.checkpoint) as AuditCheckpoint;
      return head;
    });
  }

  async readRecords(logId: string): Promise<StoredEntry[]> {
    return this.#run('read audit records', () =>
      this.#db
        .prepare<[string], { text: string; position: number }>(
          'SELECT record AS text, rowid AS position FROM audit_records WHERE log_id = ? ORDER BY rowid',
        )
        .all(logId),
    );
  }

  async readCheckpoints(logId: string): Promise<StoredEntry[]> {
    return this.#run('read audit checkpoints', () =>
      this.#db
        .prepare<[string], { text: string; position: number }>(
          'SELECT checkpoint AS text, rowid AS position FROM audit_checkpoints WHERE log_id = ? ORDER BY rowid',
        )
        .all(logId),
    );
  }

  async listLogs(): Promise<string[]> {
    return this.#run('list audit logs', () =>
      this.#db
        .prepare<[], { logId: string }>(
          `SELECT log_id AS logId FROM audit_records UNION
           SELECT log_id AS logId FROM audit_checkpoints ORDER BY logId`,
        )
        .all()
        .map((r) => r.logId),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  #insertRecord(record: AuditRecord): void {
    this.#stmt(
      'INSERT INTO audit_records (log_id, seq, type, ts, hash, record) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(record.logId, record.seq, record.type, record.ts, record.hash, canonicalize(record));
  }

  #stmt(sql: string): Database.Statement {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  #setSynchronous(mode: 'FULL' | 'NORMAL'): void {
    if (this.#synchronous === mode) return;
    this.#db.pragma(`synchronous = ${mode}`);
    this.#synchronous = mode;
  }

  /** Maps every driver failure (closed, busy, read-only, constraint) to AuditError. */
  #run<T>(what: string, fn: () => T): T {
    if (this.#closed) throw new AuditError(`cannot ${what}: audit store is closed`);
    try {
      return fn();
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new AuditError(`cannot ${what}: ${reason}`, { cause });
    }
  }
}

// Opens <dataDir>/ringfence.db (better-sqlite3, WAL) and runs each module's migrations.
// Modules (sessions_, queue_, audit_ ...) share one file so a check-and-write spans their tables.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RingfenceError } from '../errors.js';
import { silentLogger, type StorageLogger } from './storage-logger.js';

export type SqliteDatabase = Database.Database;

/** File name of the shared database inside the data directory. */
export const DB_FILE_NAME = 'ringfence.db';
/** How long a writer waits for another connection's write lock before SQLITE_BUSY. */
export const DEFAULT_BUSY_TIMEOUT_MS = 10_000;

export interface OpenSqliteOptions {
  /** Directory holding ringfence.db; created (mode 0700) if missing. */
  dataDir: string;
  busyTimeoutMs?: number;
  /** `NORMAL` (default, WAL-safe) or `FULL` for stores that must survive power loss per commit. */
  synchronous?: 'NORMAL' | 'FULL';
  logger?: StorageLogger;
}

/**
 * Opens the shared database with WAL, busy_timeout, foreign keys and synchronous=NORMAL.
 * @example const db = openSqliteDb({ dataDir: '/var/lib/ringfence' });
 */
export function openSqliteDb(options: OpenSqliteOptions): SqliteDatabase {
  const logger = options.logger ?? silentLogger;
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const file = join(options.dataDir, DB_FILE_NAME);
  let db: SqliteDatabase;
  try {
    db = new Database(file);
  } catch (cause) {
    throw new RingfenceError('internal', `cannot open database ${file}`, { cause });
  }
  try {
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') logger.warn({ file, mode }, 'sqlite: WAL mode not available');
    db.pragma('foreign_keys = ON');
    db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  } catch (cause) {
    db.close();
    throw new RingfenceError('internal', `cannot configure database ${file}`, { cause });
  }
  logger.debug({ file }, 'sqlite: opened');
  return db;
}

/** One schema step. `id` starts with the owning module's prefix (`sessions_`, `queue_`). */
export interface Migration {
  id: string;
  /** SQL run inside the migration's transaction. */
  sql: string;
}

const MIGRATION_ID = /^[a-z][a-z0-9]*_[a-z0-9_]+$/;

/**
 * Applies the migrations not yet recorded in `schema_migrations`, each in its own
 * BEGIN IMMEDIATE transaction, so concurrent openers of one file apply each step once.
 */
export function runMigrations(
  db: SqliteDatabase,
  prefix: string,
  migrations: readonly Migration[],
): number {
  db.exec(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
       id TEXT PRIMARY KEY,
       applied_at INTEGER NOT NULL
     )`,
  );
  const seen = new Set<string>();
  for (const m of migrations) {
    if (!MIGRATION_ID.test(m.id) || !m.id.startsWith(prefix)) {
      throw new RingfenceError('internal', `migration id ${m.id} must start with ${prefix}`);
    }
    if (seen.has(m.id)) throw new RingfenceError('internal', `duplicate migration id ${m.id}`);
    seen.add(m.id);
  }
  const has = db.prepare<[string], { id: string }>('SELECT id FROM schema_migrations WHERE id = ?');
  const mark = db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)');
  let applied = 0;
  for (const m of migrations) {
    const step = db.transaction(() => {
      if (has.get(m.id) !== undefined) return;
      db.exec(m.sql);
      mark.run(m.id, Date.now());
      applied += 1;
    });
    step.immediate();
  }
  return applied;
}

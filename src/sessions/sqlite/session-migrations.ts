// Schema of the embedded session store: sessions, the append-only transcript, snapshot refs.
// Migration ids start with `sessions_`; never edit a released step, add a new one.
import type { Migration } from '../../storage/sqlite-db.js';

export const SESSION_MIGRATIONS: readonly Migration[] = [
  {
    id: 'sessions_001_init',
    sql: `
      CREATE TABLE sessions (
        seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
        id                  TEXT NOT NULL UNIQUE,
        tenant_id           TEXT NOT NULL,
        status              TEXT NOT NULL CHECK (status IN ('queued','running','waiting_approval',
                              'paused','succeeded','failed','cancelled')),
        prompt              TEXT NOT NULL,
        tier                TEXT NOT NULL,
        role                TEXT NOT NULL,
        mode                TEXT NOT NULL,
        options             TEXT NOT NULL,
        metadata            TEXT NOT NULL,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL,
        finished_at         INTEGER,
        result              TEXT,
        usage               TEXT NOT NULL,
        last_completed_turn INTEGER NOT NULL DEFAULT -1,
        last_event_seq      INTEGER NOT NULL DEFAULT 0,
        purged_at           INTEGER
      );
      CREATE INDEX sessions_by_tenant ON sessions (tenant_id, seq);
      CREATE INDEX sessions_by_status ON sessions (status, seq);
      CREATE INDEX sessions_by_finish ON sessions (finished_at) WHERE finished_at IS NOT NULL;
      CREATE TABLE session_events (
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        seq        INTEGER NOT NULL,
        type       TEXT NOT NULL,
        data       TEXT NOT NULL,
        epoch      INTEGER,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (session_id, seq)
      ) WITHOUT ROWID;
      CREATE TABLE session_snapshots (
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        turn       INTEGER NOT NULL,
        sha256     TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (session_id, turn)
      );
      CREATE INDEX session_snapshots_by_hash ON session_snapshots (sha256);
    `,
  },
];

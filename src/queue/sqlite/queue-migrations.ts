// Schema of the embedded queue: tasks (with fencing epoch) and the tenant round-robin state.
// Migration ids start with `queue_`; never edit a released step, add a new one.
import type { Migration } from '../../storage/sqlite-db.js';

export const QUEUE_MIGRATIONS: readonly Migration[] = [
  {
    id: 'queue_001_tasks',
    sql: `
      CREATE TABLE queue_tasks (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        id           TEXT NOT NULL UNIQUE,
        tenant_id    TEXT NOT NULL,
        session_id   TEXT NOT NULL,
        priority     INTEGER NOT NULL DEFAULT 0,
        payload      TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN
                       ('waiting','leased','completed','failed','dead','cancelled')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
        lease_count  INTEGER NOT NULL DEFAULT 0,
        epoch        INTEGER NOT NULL DEFAULT 0,
        worker_id    TEXT,
        lease_until  INTEGER,
        available_at INTEGER NOT NULL,
        enqueued_at  INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL,
        last_error   TEXT
      );
      CREATE INDEX queue_tasks_ready ON queue_tasks (status, available_at);
      CREATE INDEX queue_tasks_session ON queue_tasks (session_id, status);
      CREATE TABLE queue_tenants (
        tenant_id   TEXT PRIMARY KEY,
        last_served INTEGER NOT NULL
      );
    `,
  },
];

// Schema of the audit tables in ringfence.db: records and checkpoints, with triggers that
// RAISE on UPDATE and DELETE so the SQL path cannot rewrite history.
import type { Migration } from '../../storage/sqlite-db.js';

export const AUDIT_MIGRATIONS: readonly Migration[] = [
  {
    id: 'audit_001_records_checkpoints',
    sql: `
      CREATE TABLE audit_records (
        log_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        ts TEXT NOT NULL,
        hash TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (log_id, seq)
      );
      CREATE TABLE audit_checkpoints (
        log_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        checkpoint TEXT NOT NULL,
        PRIMARY KEY (log_id, idx)
      );
      CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
        BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
      CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
        BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
      CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
        BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
      CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
        BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
    `,
  },
];

// AlertStore on the shared ringfence.db connection: rows of the server_alerts table (created by
// the server migrations, run here too so the store works on its own).
import { runMigrations, type SqliteDatabase } from '../../storage/sqlite-db.js';
import { SERVER_MIGRATIONS } from '../../server/sqlite/server-migrations.js';
import type { AlertStore, StoredAlert } from '../alert-store.js';

interface AlertRow {
  id: string;
  data: string;
  fired_at: number;
  delivered: number;
}

export class SqliteAlertStore implements AlertStore {
  readonly #db: SqliteDatabase;

  /** `db` is shared and not closed by this store. */
  constructor(options: { db: SqliteDatabase }) {
    this.#db = options.db;
    runMigrations(this.#db, 'server_', SERVER_MIGRATIONS);
  }

  insert(alert: StoredAlert): Promise<void> {
    const { id, slo, severity, firedAt, delivered, ...rest } = alert;
    this.#db
      .prepare(
        'INSERT INTO server_alerts (id, slo, severity, data, fired_at, delivered) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(
        id,
        slo,
        severity,
        JSON.stringify({ slo, severity, ...rest }),
        firedAt,
        delivered ? 1 : 0,
      );
    return Promise.resolve();
  }

  markDelivered(id: string): Promise<void> {
    this.#db.prepare('UPDATE server_alerts SET delivered = 1 WHERE id = ?').run(id);
    return Promise.resolve();
  }

  list(limit: number): Promise<StoredAlert[]> {
    const rows = this.#db
      .prepare('SELECT id, data, fired_at, delivered FROM server_alerts ORDER BY seq DESC LIMIT ?')
      .all(Math.max(1, Math.min(1000, Math.floor(limit)))) as AlertRow[];
    return Promise.resolve(
      rows.map((r) => ({
        ...(JSON.parse(r.data) as Omit<StoredAlert, 'id' | 'firedAt' | 'delivered'>),
        id: r.id,
        firedAt: r.fired_at,
        delivered: r.delivered === 1,
      })),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

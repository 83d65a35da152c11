// Schema of the API server's own tables in ringfence.db: tenants, API keys, alerts.
// Migration ids start with `server_`; never edit a released step, add a new one.
import type { Migration } from '../../storage/sqlite-db.js';

export const SERVER_MIGRATIONS: readonly Migration[] = [
  {
    id: 'server_001_init',
    sql: `
      CREATE TABLE server_tenants (
        id         TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE server_api_keys (
        id         TEXT PRIMARY KEY,
        tenant_id  TEXT NOT NULL REFERENCES server_tenants (id),
        role       TEXT NOT NULL CHECK (role IN ('admin','submit','read')),
        key_sha256 TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE INDEX server_api_keys_by_tenant ON server_api_keys (tenant_id);
      CREATE TABLE server_alerts (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT NOT NULL UNIQUE,
        slo        TEXT NOT NULL,
        severity   TEXT NOT NULL,
        data       TEXT NOT NULL,
        fired_at   INTEGER NOT NULL,
        delivered  INTEGER NOT NULL DEFAULT 0
      );
    `,
  },
];

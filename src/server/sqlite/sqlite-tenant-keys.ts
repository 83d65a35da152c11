// TenantKeyStore on the shared SQLite file: keys stored as sha256 only, compared by hash lookup.
// The plaintext key exists once, in the CreatedKey returned to the caller.
import { RingfenceError } from '../../errors.js';
import { openSqliteDb, runMigrations, type SqliteDatabase } from '../../storage/sqlite-db.js';
import {
  generateApiKey,
  hashApiKey,
  keyIdOf,
  type ApiKeyInfo,
  type ApiRole,
  type CreatedKey,
  type Principal,
  type Tenant,
  type TenantKeyStore,
} from '../tenant-keys.js';
import { SERVER_MIGRATIONS } from './server-migrations.js';

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

interface KeyRow {
  id: string;
  tenant_id: string;
  role: ApiRole;
  created_at: number;
  revoked_at: number | null;
}

export interface SqliteTenantKeysOptions {
  dataDir?: string;
  /** A shared connection; not closed by this store. */
  db?: SqliteDatabase;
}

export class SqliteTenantKeys implements TenantKeyStore {
  readonly #db: SqliteDatabase;
  readonly #ownsDb: boolean;
  #closed = false;

  constructor(options: SqliteTenantKeysOptions) {
    if (options.db === undefined && options.dataDir === undefined) {
      throw new RingfenceError('internal', 'SqliteTenantKeys needs dataDir or db');
    }
    this.#ownsDb = options.db === undefined;
    this.#db = options.db ?? openSqliteDb({ dataDir: options.dataDir ?? '' });
    runMigrations(this.#db, 'server_', SERVER_MIGRATIONS);
  }

  /** The connection, for other server_ tables (alerts) sharing it. */
  get db(): SqliteDatabase {
    return this.#db;
  }

  ensureTenant(tenantId: string): Promise<Tenant> {
    if (!TENANT_ID.test(tenantId)) {
      return Promise.reject(
        new RingfenceError('invalid_request', `invalid tenant id ${JSON.stringify(tenantId)}`),
      );
    }
    this.#db
      .prepare('INSERT OR IGNORE INTO server_tenants (id, created_at) VALUES (?, ?)')
      .run(tenantId, Date.now());
    const row = this.#db
      .prepare<[string], { id: string; created_at: number }>(
        'SELECT id, created_at FROM server_tenants WHERE id = ?',
      )
      .get(tenantId);
    if (row === undefined) return Promise.reject(new RingfenceError('internal', 'tenant lost'));
    return Promise.resolve({ id: row.id, createdAt: row.created_at });
  }

  listTenants(): Promise<Tenant[]> {
    const rows = this.#db
      .prepare<[], { id: string; created_at: number }>(
        'SELECT id, created_at FROM server_tenants ORDER BY id',
      )
      .all();
    return Promise.resolve(rows.map((r) => ({ id: r.id, createdAt: r.created_at })));
  }

  async createKey(tenantId: string, role: ApiRole): Promise<CreatedKey> {
    await this.ensureTenant(tenantId);
    const { id, key } = generateApiKey();
    const now = Date.now();
    this.#db
      .prepare(
        `INSERT INTO server_api_keys (id, tenant_id, role, key_sha256, created_at)
         VALUES (?, ?, ?, ?, ?)`,
      )
      .run(id, tenantId, role, hashApiKey(key), now);
    return { key, info: { id, tenantId, role, createdAt: now, revokedAt: undefined } };
  }

  revokeKey(keyId: string): Promise<boolean> {
    const r = this.#db
      .prepare('UPDATE server_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
      .run(Date.now(), keyId);
    return Promise.resolve(r.changes > 0);
  }

  listKeys(tenantId: string): Promise<ApiKeyInfo[]> {
    const rows = this.#db
      .prepare<[string], KeyRow>(
        `SELECT id, tenant_id, role, created_at, revoked_at FROM server_api_keys
          WHERE tenant_id = ? ORDER BY created_at`,
      )
      .all(tenantId);
    return Promise.resolve(rows.map(infoOf));
  }

  authenticate(key: string): Promise<Principal | undefined> {
    if (keyIdOf(key) === undefined) return Promise.resolve(undefined);
    const row = this.#db
      .prepare<[string], KeyRow>(
        `SELECT id, tenant_id, role, created_at, revoked_at FROM server_api_keys
          WHERE key_sha256 = ?`,
      )
      .get(hashApiKey(key));
    if (row === undefined || row.revoked_at !== null) return Promise.resolve(undefined);
    return Promise.resolve({ tenantId: row.tenant_id, role: row.role, keyId: row.id });
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      if (this.#ownsDb) this.#db.close();
    }
    return Promise.resolve();
  }
}

function infoOf(r: KeyRow): ApiKeyInfo {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    role: r.role,
    createdAt: r.created_at,
    revokedAt: r.revoked_at ?? undefined,
  };
}

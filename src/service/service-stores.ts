// Opens everything the service keeps in <dataDir>: one ringfence.db connection (WAL) shared by
// the session store, the queue and the tenant keys (fencing spans their tables), plus uploads.
import { join } from 'node:path';
import { SqliteQueue } from '../queue/sqlite/sqlite-queue.js';
import type { TaskQueue } from '../queue/queue.js';
import type { TenantKeyStore } from '../server/tenant-keys.js';
import { SqliteTenantKeys } from '../server/sqlite/sqlite-tenant-keys.js';
import { UploadStore } from '../server/upload-store.js';
import { SqliteSessionStore } from '../sessions/sqlite/sqlite-session-store.js';
import type { SessionStore } from '../sessions/session-store.js';
import { openSqliteDb, type SqliteDatabase } from '../storage/sqlite-db.js';
import type { StorageLogger } from '../storage/storage-logger.js';

export interface ServiceStores {
  dataDir: string;
  db: SqliteDatabase;
  store: SessionStore;
  queue: TaskQueue;
  keys: TenantKeyStore;
  uploads: UploadStore;
  /** true when a write transaction can be taken (for /readyz). */
  writable(): boolean;
  /** Closes the stores, then the connection; idempotent. */
  close(): Promise<void>;
}

/** @example const s = openServiceStores({ dataDir }); ...; await s.close(); */
export function openServiceStores(options: {
  dataDir: string;
  logger?: StorageLogger;
}): ServiceStores {
  const { dataDir } = options;
  const log = options.logger === undefined ? {} : { logger: options.logger };
  const db = openSqliteDb({ dataDir, ...log });
  const store = new SqliteSessionStore({ dataDir, db, ...log });
  const queue = new SqliteQueue({ db, ...log });
  const keys = new SqliteTenantKeys({ db });
  let closing: Promise<void> | undefined;
  return {
    dataDir,
    db,
    store,
    queue,
    keys,
    uploads: new UploadStore(join(dataDir, 'uploads')),
    writable: () => {
      try {
        db.exec('BEGIN IMMEDIATE');
        db.exec('ROLLBACK');
        return true;
      } catch {
        return false;
      }
    },
    close: () => {
      closing ??= (async () => {
        const steps = [store.close(), queue.close(), keys.close()];
        await Promise.allSettled(steps);
        if (db.open) db.close();
      })();
      return closing;
    },
  };
}

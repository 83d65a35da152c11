// Chooses the SessionStore backend from config; backends load lazily (only the chosen one).
// Today: `sqlite` (embedded, default). `postgres` arrives with the distributed issue.
import type { Clock, StorageLogger } from '../storage/storage-logger.js';
import type { SessionStore } from './session-store.js';

export interface SessionStoreConfig {
  backend: 'sqlite';
  /** Data directory holding ringfence.db and snapshots/. */
  dataDir: string;
  maxSnapshotBytes?: number;
  clock?: Clock;
  logger?: StorageLogger;
}

/** @example const store = await createSessionStore({ backend: 'sqlite', dataDir }); */
export async function createSessionStore(config: SessionStoreConfig): Promise<SessionStore> {
  switch (config.backend) {
    case 'sqlite': {
      const { SqliteSessionStore } = await import('./sqlite/sqlite-session-store.js');
      return new SqliteSessionStore({
        dataDir: config.dataDir,
        ...(config.maxSnapshotBytes === undefined
          ? {}
          : { maxSnapshotBytes: config.maxSnapshotBytes }),
        ...(config.clock === undefined ? {} : { clock: config.clock }),
        ...(config.logger === undefined ? {} : { logger: config.logger }),
      });
    }
  }
}

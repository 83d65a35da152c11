// Chooses the TaskQueue backend from config; backends load lazily (only the chosen one).
// Today: `sqlite` (embedded, default). `bullmq` arrives with the distributed issue.
import type { Clock, StorageLogger } from '../storage/storage-logger.js';
import type { TaskQueue } from './queue.js';

export interface QueueConfig {
  backend: 'sqlite';
  /** Data directory holding ringfence.db (shared with the session store: fencing needs it). */
  dataDir: string;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  clock?: Clock;
  logger?: StorageLogger;
}

/** @example const queue = await createQueue({ backend: 'sqlite', dataDir }); */
export async function createQueue(config: QueueConfig): Promise<TaskQueue> {
  switch (config.backend) {
    case 'sqlite': {
      const { SqliteQueue } = await import('./sqlite/sqlite-queue.js');
      const { backend: _backend, ...options } = config;
      return new SqliteQueue(options);
    }
  }
}

// Options of a SessionWorker and their defaults (units in the names).
import type { TaskQueue } from '../queue/queue.js';
import type { ServiceMetrics } from '../server/service-metrics.js';
import type { SessionControl } from '../server/session-control.js';
import type { SessionRecord, SessionStore } from '../sessions/session-store.js';
import type { StorageLogger } from '../storage/storage-logger.js';
import type { SessionRunner } from './session-runner.js';

export const HEARTBEAT_INTERVAL_MS = 10_000;
export const LEASE_VISIBILITY_MS = 30_000;
export const LEASE_POLL_INTERVAL_MS = 250;
export const DRAIN_DEADLINE_MS = 30_000;

export interface SessionWorkerOptions {
  queue: TaskQueue;
  store: SessionStore;
  runner: SessionRunner;
  control: SessionControl;
  metrics?: ServiceMetrics;
  /** Unique per worker process + slot group; default `worker-<pid>-<random>`. */
  workerId?: string;
  /** Sessions this worker runs at once (global worker concurrency). Default 2. */
  concurrency?: number;
  /** Lease lifetime without a heartbeat. Default 30 s. */
  visibilityMs?: number;
  /** Default 10 s; must be well below visibilityMs. */
  heartbeatIntervalMs?: number;
  /** Idle wait between lease attempts. Default 250 ms. */
  pollIntervalMs?: number;
  /** Per-tenant caps on concurrently leased sessions. */
  tenantCaps?: Readonly<Record<string, number>>;
  defaultTenantCap?: number;
  /** Called once per task that ended the session's run (SLO monitoring); must not throw. */
  onSessionEnd?: (session: SessionRecord, status: 'succeeded' | 'failed' | 'cancelled') => void;
  logger?: StorageLogger;
}

// The fencing check other SQLite stores run inside their own write transaction:
// "is `epoch` the current lease of this session's task?" — read from queue_tasks in the same DB.
import type { SqliteDatabase } from '../../storage/sqlite-db.js';
import { StaleEpochError } from '../stale-epoch-error.js';

/** The newest lease of a session: its epoch and whether it is still held. */
export interface SessionLeaseState {
  epoch: number;
  leased: boolean;
}

/**
 * Reads the session's current lease. Call it inside a BEGIN IMMEDIATE transaction together
 * with the write it guards; then no lease can move between the check and the write.
 */
export function readSessionLease(
  db: SqliteDatabase,
  sessionId: string,
): SessionLeaseState | undefined {
  const row = db
    .prepare<[string], { epoch: number; status: string }>(
      `SELECT epoch, status FROM queue_tasks
        WHERE session_id = ? AND epoch > 0
        ORDER BY epoch DESC LIMIT 1`,
    )
    .get(sessionId);
  return row === undefined ? undefined : { epoch: row.epoch, leased: row.status === 'leased' };
}

/**
 * Enforces fencing for a session write.
 * - `epoch` given: it must be the session's current lease epoch and the task still leased.
 * - `epoch` absent: allowed only while no task of the session is leased (API-side writes),
 *   unless `allowWhileLeased` (operator actions such as cancel).
 */
export function assertSessionFence(
  db: SqliteDatabase,
  sessionId: string,
  epoch: number | undefined,
  allowWhileLeased = false,
): void {
  const lease = readSessionLease(db, sessionId);
  if (epoch === undefined) {
    if (lease?.leased === true && !allowWhileLeased) {
      throw new StaleEpochError(
        `session ${sessionId}`,
        undefined,
        lease.epoch,
        'session is leased; present its epoch',
      );
    }
    return;
  }
  if (lease === undefined) {
    throw new StaleEpochError(`session ${sessionId}`, epoch, undefined, 'session has no lease');
  }
  if (lease.epoch !== epoch) {
    throw new StaleEpochError(
      `session ${sessionId}`,
      epoch,
      lease.epoch,
      'lease moved to a newer epoch',
    );
  }
  if (!lease.leased) {
    throw new StaleEpochError(`session ${sessionId}`, epoch, lease.epoch, 'lease has ended');
  }
}

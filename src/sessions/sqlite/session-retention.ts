// Retention for the SQLite session store: purge finished sessions' transcripts and snapshot
// refs, then delete blobs no snapshot references. Run inside the store's write transaction.
import type { SqliteDatabase } from '../../storage/sqlite-db.js';
import { FINISHED_STATUSES, type RetentionResult } from '../session-store.js';
import type { SnapshotBlobs } from '../snapshot-blobs.js';

/** Deletes the blob when no snapshot row points at it; true if deleted. */
export function removeBlobIfUnreferenced(
  db: SqliteDatabase,
  blobs: SnapshotBlobs,
  sha256: string,
): boolean {
  const used = db.prepare('SELECT 1 FROM session_snapshots WHERE sha256 = ? LIMIT 1').get(sha256);
  if (used !== undefined) return false;
  blobs.remove(sha256);
  return true;
}

/**
 * Purges sessions finished before `before`: events and snapshot rows go, the session row stays
 * (with purged_at) so listings and billing keep it. Audit records live elsewhere, untouched.
 */
export function purgeFinishedSessions(
  db: SqliteDatabase,
  blobs: SnapshotBlobs,
  before: number,
  now: number,
): RetentionResult {
  const finished = FINISHED_STATUSES.map(() => '?').join(', ');
  const ids = db
    .prepare<unknown[], { id: string }>(
      `SELECT id FROM sessions
        WHERE status IN (${finished}) AND finished_at < ? AND purged_at IS NULL`,
    )
    .all(...FINISHED_STATUSES, before)
    .map((r) => r.id);
  const result: RetentionResult = { sessions: 0, events: 0, snapshots: 0, blobs: 0 };
  const hashes = new Set<string>();
  const snapshotHashes = db.prepare<[string], { sha256: string }>(
    'SELECT sha256 FROM session_snapshots WHERE session_id = ?',
  );
  const deleteEvents = db.prepare('DELETE FROM session_events WHERE session_id = ?');
  const deleteSnapshots = db.prepare('DELETE FROM session_snapshots WHERE session_id = ?');
  const markPurged = db.prepare('UPDATE sessions SET purged_at = ? WHERE id = ?');
  for (const id of ids) {
    for (const s of snapshotHashes.all(id)) hashes.add(s.sha256);
    result.events += deleteEvents.run(id).changes;
    result.snapshots += deleteSnapshots.run(id).changes;
    markPurged.run(now, id);
    result.sessions += 1;
  }
  for (const sha of hashes) if (removeBlobIfUnreferenced(db, blobs, sha)) result.blobs += 1;
  return result;
}

// The AuditStore contract: durable, append-only storage of records and checkpoints per log.
// Implementations: sqlite/ (default, shares ringfence.db) and jsonl/ (one file per log).
import type { AuditCheckpoint, AuditRecord } from './audit-record.js';

/** How durable an append must be when it resolves. */
export interface AppendDurability {
  /**
   * true (default): durable against power loss when the append resolves (fsync /
   * synchronous=FULL). false: written through to the OS when it resolves, so it survives a
   * process crash, and made power-loss durable by the next synchronous append or checkpoint
   * of the same store (one fsync flushes the earlier writes of the same file with it).
   */
  sync?: boolean;
}

/** One stored entry exactly as written: the verifier parses and checks it itself. */
export interface StoredEntry {
  /** Canonical JSON text of the record or checkpoint. */
  text: string;
  /** Where it came from (row id or line number), for error messages. */
  position: number;
}

/** What a writer needs to continue a log after a restart. */
export interface AuditHead {
  last?: AuditRecord;
  lastCheckpoint?: AuditCheckpoint;
}

export interface AuditStore {
  readonly kind: 'sqlite' | 'jsonl';
  /**
   * Appends one record; resolves only once it is durable (fsync / synchronous=FULL), unless
   * `durability.sync` is false (see AppendDurability).
   * @throws AuditError on any failure; the caller must then refuse the action it audits.
   */
  appendRecord(record: AuditRecord, durability?: AppendDurability): Promise<void>;
  /**
   * Stores a signed checkpoint together with its in-chain `checkpoint` record (atomically
   * where the backend can); always synchronous, so it also flushes earlier deferred appends.
   */
  appendCheckpoint(checkpoint: AuditCheckpoint, record: AuditRecord): Promise<void>;
  /** The last record and last checkpoint of a log, as stored (unverified). */
  head(logId: string): Promise<AuditHead>;
  /** Records of a log in storage order (not sorted by seq: reordering must stay visible). */
  readRecords(logId: string): Promise<StoredEntry[]>;
  /** Checkpoints of a log in storage order. */
  readCheckpoints(logId: string): Promise<StoredEntry[]>;
  /** Every log id that has records or checkpoints. */
  listLogs(): Promise<string[]>;
  /** Idempotent. */
  close(): Promise<void>;
}

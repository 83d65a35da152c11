// The audit record and checkpoint shapes, their hashes, the per-log genesis and the
// bytes a checkpoint signature covers. Pure functions; no I/O.
import { AuditError } from '../errors.js';
import { canonicalize, sha256Hex, type JsonObject } from './canonical-json.js';

/** Record types written by ringfence; readers accept unknown types for forward compatibility. */
export const AUDIT_RECORD_TYPES = [
  'session.start',
  'session.end',
  'tool.intent',
  'tool.result',
  'egress',
  'model.call',
  'approval',
  'hook',
  'checkpoint',
] as const;
export type AuditRecordType = (typeof AUDIT_RECORD_TYPES)[number];

/** One line of the log. `hash` = sha256(canonical JSON of every other field). */
export interface AuditRecord {
  seq: number;
  logId: string;
  ts: string;
  type: AuditRecordType;
  data: JsonObject;
  prevHash: string;
  hash: string;
}

/** A signed statement that `logId` had `count` records ending at `seq` with hash `headHash`. */
export interface AuditCheckpoint {
  logId: string;
  /** 1, 2, 3... per log; a gap or repeat means a checkpoint was removed or replayed. */
  index: number;
  seq: number;
  headHash: string;
  count: number;
  ts: string;
  keyId: string;
  /** base64 Ed25519 signature over `checkpointPayload(...)`. */
  signature: string;
}

/** Session ids and `global`: safe as a file name, no path separators, at most 128 chars. */
export const LOG_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function assertLogId(logId: string): void {
  if (!LOG_ID_PATTERN.test(logId) || logId.includes('..')) {
    throw new AuditError(`invalid audit log id ${JSON.stringify(logId)}`, {
      details: { logId },
    });
  }
}

/** prevHash of record 1: binds the chain to its log so a copied log fails verification. */
export function genesisHash(logId: string): string {
  return sha256Hex(`ringfence-audit-genesis:${logId}`);
}

/** sha256 of the canonical record without its `hash` field. */
export function recordHash(record: Omit<AuditRecord, 'hash'> | AuditRecord): string {
  const { seq, logId, ts, type, data, prevHash } = record;
  return sha256Hex(canonicalize({ seq, logId, ts, type, data, prevHash }));
}

/** The exact bytes an Ed25519 checkpoint signature covers. */
export function checkpointPayload(cp: Omit<AuditCheckpoint, 'signature'>): Buffer {
  const { logId, index, seq, headHash, count, ts, keyId } = cp;
  return Buffer.from(
    canonicalize({
      purpose: 'ringfence-audit-checkpoint',
      logId,
      index,
      seq,
      headHash,
      count,
      ts,
      keyId,
    }),
    'utf8',
  );
}

/** The data of the in-chain `checkpoint` record that follows every signed checkpoint. */
export function checkpointRecordData(cp: AuditCheckpoint): JsonObject {
  return { ...cp };
}

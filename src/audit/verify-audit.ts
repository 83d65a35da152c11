// Verifies audit logs: hash chain, sequence, genesis binding, checkpoint signatures, checkpoint
// order, truncation against checkpoints, unsigned runs. Names the first bad record of each log.
import type { KeyObject } from 'node:crypto';
import { toPublicKey, verifyCheckpointSignature } from './audit-keys.js';
import {
  checkpointPayload,
  genesisHash,
  recordHash,
  type AuditCheckpoint,
  type AuditRecord,
} from './audit-record.js';
import type { AuditStore, StoredEntry } from './audit-store.js';
import { canonicalize } from './canonical-json.js';
import { DEFAULT_CHECKPOINT_EVERY } from './audit-log.js';

export interface VerifyOptions {
  /** One log; absent: every log in the store. */
  logId?: string;
  /** Ed25519 public key (KeyObject or SPKI PEM). Prefer a copy kept away from the data dir. */
  publicKey: KeyObject | string;
  /** Max records allowed after the last checkpoint (the writer's setting). Absent: 50. */
  checkpointEvery?: number;
}

export interface VerifyFailure {
  logId: string;
  /** The record (or, for checkpoint problems, the seq the checkpoint names). */
  seq: number;
  reason: string;
}

export interface LogVerification {
  logId: string;
  ok: boolean;
  records: number;
  checkpoints: number;
  /** True when the last record is a checkpoint: nothing unsigned at the tail. */
  sealed: boolean;
  firstBad?: VerifyFailure;
}

export interface VerifyResult {
  ok: boolean;
  records: number;
  checkpoints: number;
  logs: LogVerification[];
  /** The first failure over all logs (logs in id order). */
  firstBad?: VerifyFailure;
}

/**
 * Checks one or every log of `store`.
 * @example const r = await verify(store, { publicKey: pem }); if (!r.ok) console.error(r.firstBad)
 */
export async function verify(store: AuditStore, options: VerifyOptions): Promise<VerifyResult> {
  const publicKey = toPublicKey(options.publicKey);
  const every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  const ids = options.logId === undefined ? await store.listLogs() : [options.logId];
  const logs: LogVerification[] = [];
  for (const logId of ids) {
    const [records, checkpoints] = await Promise.all([
      store.readRecords(logId),
      store.readCheckpoints(logId),
    ]);
    logs.push(verifyLog(logId, records, checkpoints, publicKey, every));
  }
  const firstBad = logs.find((l) => l.firstBad !== undefined)?.firstBad;
  return {
    ok: firstBad === undefined,
    records: logs.reduce((n, l) => n + l.records, 0),
    checkpoints: logs.reduce((n, l) => n + l.checkpoints, 0),
    logs,
    ...(firstBad === undefined ? {} : { firstBad }),
  };
}

function parse<T>(entry: StoredEntry): T | undefined {
  try {
    return JSON.parse(entry.text) as T;
  } catch {
    return undefined;
  }
}

function verifyLog(
  logId: string,
  recordEntries: StoredEntry[],
  checkpointEntries: StoredEntry[],
  publicKey: KeyObject,
  every: number,
): LogVerification {
  const result: LogVerification = {
    logId,
    ok: true,
    records: recordEntries.length,
    checkpoints: checkpointEntries.length,
    sealed: false,
  };
  const fail = (seq: number, reason: string): LogVerification => ({
    ...result,
    ok: false,
    firstBad: { logId, seq, reason },
  });
  const checkSignature = (cp: AuditCheckpoint): boolean => {
    const { signature, ...unsigned } = cp;
    return (
      typeof signature === 'string' &&
      verifyCheckpointSignature(publicKey, checkpointPayload(unsigned), signature)
    );
  };

  // 1. The chain: seq 1..n in storage order, each hash correct, each linked to the previous.
  const chain: AuditRecord[] = [];
  const inChain = new Map<number, AuditCheckpoint>();
  let prevHash = genesisHash(logId);
  let unsigned = 0;
  for (const [i, entry] of recordEntries.entries()) {
    const expected = i + 1;
    const rec = parse<AuditRecord>(entry);
    if (rec === undefined || typeof rec !== 'object' || rec === null) {
      return fail(expected, `record at position ${entry.position} is not valid JSON`);
    }
    if (rec.logId !== logId) {
      return fail(
        expected,
        `record belongs to log ${JSON.stringify(rec.logId)} (copied from another log)`,
      );
    }
    if (rec.seq !== expected) {
      return fail(
        expected,
        typeof rec.seq === 'number' && rec.seq > expected
          ? `seq gap: expected ${expected}, found ${rec.seq} (record deleted)`
          : `out of order: expected ${expected}, found ${String(rec.seq)} (records reordered or duplicated)`,
      );
    }
    let canonical: string;
    try {
      canonical = canonicalize(rec);
    } catch {
      return fail(expected, 'record is not canonical JSON');
    }
    if (recordHash(rec) !== rec.hash) return fail(expected, 'hash mismatch (record modified)');
    if (canonical !== entry.text) return fail(expected, 'stored text is not the canonical record');
    if (rec.prevHash !== prevHash) {
      return fail(
        expected,
        expected === 1
          ? 'first record does not start this log (genesis mismatch: copied from another log)'
          : 'prevHash does not match the previous record (chain broken or reordered)',
      );
    }
    if (rec.type === 'checkpoint') {
      const cp = rec.data as unknown as AuditCheckpoint;
      if (cp.logId !== logId || cp.seq !== expected - 1 || cp.headHash !== prevHash) {
        return fail(expected, 'checkpoint record does not sign the record before it');
      }
      if (!checkSignature(cp))
        return fail(expected, 'checkpoint record has a bad signature (forged)');
      if (cp.index !== inChain.size + 1) {
        return fail(expected, `checkpoint record index ${cp.index}, expected ${inChain.size + 1}`);
      }
      inChain.set(cp.index, cp);
      unsigned = 0;
    } else {
      unsigned += 1;
      if (unsigned > every) {
        return fail(
          expected,
          `more than ${every} records without a checkpoint (checkpoints removed?)`,
        );
      }
    }
    chain.push(rec);
    prevHash = rec.hash;
  }
  const last = chain[chain.length - 1];
  result.sealed = last?.type === 'checkpoint';

  // 2. The checkpoint store: signed, in order, matching the chain, not beyond its end.
  for (const [i, entry] of checkpointEntries.entries()) {
    const cp = parse<AuditCheckpoint>(entry);
    if (cp === undefined || typeof cp !== 'object' || cp === null) {
      return fail(0, `checkpoint at position ${entry.position} is not valid JSON`);
    }
    const at = typeof cp.seq === 'number' ? cp.seq : 0;
    if (cp.logId !== logId)
      return fail(at, `checkpoint belongs to log ${JSON.stringify(cp.logId)}`);
    if (!checkSignature(cp))
      return fail(at, `checkpoint ${String(cp.index)} has a bad signature (forged)`);
    if (cp.index !== i + 1) {
      return fail(
        at,
        `checkpoint index ${cp.index} where ${i + 1} expected (rolled back or replayed)`,
      );
    }
    if (cp.count !== cp.seq) return fail(at, 'checkpoint count does not match its seq');
    const head = chain[cp.seq - 1];
    if (cp.seq > chain.length || head === undefined) {
      return fail(
        chain.length + 1,
        `truncated: checkpoint ${cp.index} covers seq ${cp.seq} but the log ends at ${chain.length}`,
      );
    }
    if (head.hash !== cp.headHash) return fail(cp.seq, `checkpoint ${cp.index} head hash mismatch`);
    const mirror = inChain.get(cp.index);
    if (mirror === undefined || canonicalize(mirror) !== canonicalize(cp)) {
      return fail(
        cp.seq + 1,
        `checkpoint ${cp.index} has no matching checkpoint record (truncated?)`,
      );
    }
  }
  if (inChain.size > checkpointEntries.length) {
    const missing = inChain.get(checkpointEntries.length + 1);
    return fail(
      (missing?.seq ?? 0) + 1,
      `checkpoint ${checkpointEntries.length + 1} is in the chain but missing from the checkpoint store (rolled back)`,
    );
  }
  const ended = chain.findIndex((r) => r.type === 'session.end');
  if (ended !== -1 && !result.sealed) {
    return fail(ended + 1, 'session ended but the log is not sealed by a final checkpoint');
  }
  return result;
}

// AuditLog: appends hash-chained records per log and signs a checkpoint every N records and
// when a session finishes. An append resolves only once durable; any failure is an AuditError.
import { AuditError } from '../errors.js';
import { silentLogger, type StorageLogger } from '../storage/storage-logger.js';
import type { AuditSigner } from './audit-keys.js';
import {
  assertLogId,
  checkpointPayload,
  checkpointRecordData,
  genesisHash,
  recordHash,
  type AuditCheckpoint,
  type AuditRecord,
  type AuditRecordType,
} from './audit-record.js';
import type { AppendDurability, AuditStore } from './audit-store.js';
import { canonicalize, type JsonObject } from './canonical-json.js';

export const DEFAULT_CHECKPOINT_EVERY = 50;

export interface AuditLogOptions {
  store: AuditStore;
  signer: AuditSigner;
  /** Records between signed checkpoints. Absent: 50. */
  checkpointEvery?: number;
  /** Defence in depth: applied to every string in `data` (callers should redact already). */
  redact?: (text: string) => string;
  clock?: () => Date;
  logger?: StorageLogger;
}

interface LogState {
  seq: number;
  hash: string;
  checkpointIndex: number;
  /** Non-checkpoint records since the last checkpoint. */
  unsigned: number;
  lastCheckpoint?: AuditCheckpoint;
}

export class AuditLog {
  readonly #store: AuditStore;
  readonly #signer: AuditSigner;
  readonly #every: number;
  readonly #redact: ((text: string) => string) | undefined;
  readonly #clock: () => Date;
  readonly #logger: StorageLogger;
  readonly #states = new Map<string, LogState>();
  /** Per-log promise chain: appends to one log run one at a time, in call order. */
  readonly #queues = new Map<string, Promise<unknown>>();
  #closing: Promise<void> | undefined;

  constructor(options: AuditLogOptions) {
    const every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    if (!Number.isInteger(every) || every < 1) {
      throw new AuditError(`checkpointEvery must be a positive integer, got ${every}`);
    }
    this.#store = options.store;
    this.#signer = options.signer;
    this.#every = every;
    this.#redact = options.redact;
    this.#clock = options.clock ?? (() => new Date());
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Appends one record to `logId` (a session id or 'global'); durable when it resolves.
   * `{ sync: false }` is for records that gate nothing (results, model calls): written when it
   * resolves (survives a process crash) and power-loss durable with the next synchronous
   * append, checkpoint or `finishSession` — it saves one fsync per record.
   * @example await audit.append(sessionId, 'tool.intent', { tool: 'Bash', inputHash, decision })
   * @throws AuditError — the caller must refuse the audited action.
   */
  append(
    logId: string,
    type: Exclude<AuditRecordType, 'checkpoint'>,
    data: JsonObject,
    durability: AppendDurability = {},
  ): Promise<AuditRecord> {
    return this.#enqueue(logId, async (state) => {
      if ((type as AuditRecordType) === 'checkpoint') {
        throw new AuditError('checkpoint records are written by the audit log itself');
      }
      if (state.unsigned >= this.#every) await this.#checkpoint(logId, state);
      const record = await this.#write(logId, state, type, this.#clean(data), durability);
      state.unsigned += 1;
      if (state.unsigned >= this.#every) await this.#checkpoint(logId, state);
      return record;
    });
  }

  /** Signs the current head of `logId` if it has unsigned records; returns the checkpoint. */
  checkpoint(logId: string): Promise<AuditCheckpoint | undefined> {
    return this.#enqueue(logId, async (state) =>
      state.unsigned > 0 ? this.#checkpoint(logId, state) : undefined,
    );
  }

  /** Appends `session.end` and seals the log with a final checkpoint. */
  async finishSession(logId: string, data: JsonObject = {}): Promise<AuditCheckpoint> {
    // The sealing checkpoint right after is a synchronous write: it makes session.end durable.
    await this.append(logId, 'session.end', data, { sync: false });
    const cp = await this.#enqueue(logId, async (state) =>
      // session.end may itself have completed a checkpoint interval: nothing left to sign.
      state.unsigned === 0 && state.lastCheckpoint !== undefined
        ? state.lastCheckpoint
        : this.#checkpoint(logId, state),
    );
    this.#states.delete(logId);
    return cp;
  }

  /** Checkpoints every log with unsigned records, then closes the store. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const failures: unknown[] = [];
      for (const logId of [...this.#states.keys()]) {
        try {
          await this.checkpoint(logId);
        } catch (err) {
          failures.push(err);
          this.#logger.error({ logId, err }, 'audit: final checkpoint failed');
        }
      }
      await this.#store.close();
      if (failures.length > 0) {
        throw new AuditError('audit log closed with unsigned records', { cause: failures[0] });
      }
    })();
    return this.#closing;
  }

  #enqueue<T>(logId: string, fn: (state: LogState) => Promise<T>): Promise<T> {
    if (this.#closing !== undefined && !this.#states.has(logId)) {
      return Promise.reject(new AuditError('audit log is closed'));
    }
    try {
      assertLogId(logId);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new AuditError(String(err)));
    }
    const previous = this.#queues.get(logId) ?? Promise.resolve();
    const run = previous.then(
      () => this.#run(logId, fn),
      () => this.#run(logId, fn),
    );
    this.#queues.set(logId, run);
    return run;
  }

  async #run<T>(logId: string, fn: (state: LogState) => Promise<T>): Promise<T> {
    let state = this.#states.get(logId);
    if (state === undefined) {
      state = await this.#load(logId);
      this.#states.set(logId, state);
    }
    return fn(state);
  }

  async #load(logId: string): Promise<LogState> {
    const { last, lastCheckpoint } = await this.#store.head(logId);
    if (last === undefined) {
      return { seq: 0, hash: genesisHash(logId), checkpointIndex: 0, unsigned: 0 };
    }
    const checkpointIndex = lastCheckpoint?.index ?? 0;
    // Each checkpoint's own record sits at checkpoint.seq + 1.
    const signedThrough = lastCheckpoint === undefined ? 0 : lastCheckpoint.seq + 1;
    return {
      seq: last.seq,
      hash: last.hash,
      checkpointIndex,
      unsigned: Math.max(0, last.seq - signedThrough),
      ...(lastCheckpoint === undefined ? {} : { lastCheckpoint }),
    };
  }

  async #write(
    logId: string,
    state: LogState,
    type: AuditRecordType,
    data: JsonObject,
    durability: AppendDurability,
  ): Promise<AuditRecord> {
    const body = {
      seq: state.seq + 1,
      logId,
      ts: this.#clock().toISOString(),
      type,
      data,
      prevHash: state.hash,
    };
    const record: AuditRecord = { ...body, hash: recordHash(body) };
    await this.#store.appendRecord(record, durability);
    state.seq = record.seq;
    state.hash = record.hash;
    return record;
  }

  async #checkpoint(logId: string, state: LogState): Promise<AuditCheckpoint> {
    const unsigned: Omit<AuditCheckpoint, 'signature'> = {
      logId,
      index: state.checkpointIndex + 1,
      seq: state.seq,
      headHash: state.hash,
      count: state.seq,
      ts: this.#clock().toISOString(),
      keyId: this.#signer.keyId,
    };
    const checkpoint: AuditCheckpoint = {
      ...unsigned,
      signature: this.#signer.sign(checkpointPayload(unsigned)),
    };
    const body = {
      seq: state.seq + 1,
      logId,
      ts: checkpoint.ts,
      type: 'checkpoint' as const,
      data: checkpointRecordData(checkpoint),
      prevHash: state.hash,
    };
    const record: AuditRecord = { ...body, hash: recordHash(body) };
    await this.#store.appendCheckpoint(checkpoint, record);
    state.seq = record.seq;
    state.hash = record.hash;
    state.checkpointIndex = checkpoint.index;
    state.unsigned = 0;
    state.lastCheckpoint = checkpoint;
    this.#logger.debug(
      { logId, seq: checkpoint.seq, index: checkpoint.index },
      'audit: checkpoint',
    );
    return checkpoint;
  }

  #clean(data: JsonObject): JsonObject {
    // Round-trip through canonical JSON: rejects what JSON cannot hold, drops prototypes.
    const copy = JSON.parse(canonicalize(data)) as JsonObject;
    const redact = this.#redact;
    if (redact === undefined) return copy;
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return redact(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v !== null && typeof v === 'object') {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [redact(k), walk(x)]));
      }
      return v;
    };
    return walk(copy) as JsonObject;
  }
}

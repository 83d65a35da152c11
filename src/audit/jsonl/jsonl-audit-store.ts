// AuditStore on JSON Lines: <dir>/records/<logId>.jsonl and <dir>/checkpoints/<logId>.jsonl,
// opened O_APPEND, each line fsync'ed before append resolves (deferred ones: by the file's next).
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { AuditError } from '../../errors.js';
import { canonicalize } from '../canonical-json.js';
import { assertLogId, type AuditCheckpoint, type AuditRecord } from '../audit-record.js';
import type { AppendDurability, AuditHead, AuditStore, StoredEntry } from '../audit-store.js';

export interface JsonlAuditStoreOptions {
  /** Directory holding `records/` and `checkpoints/` (created 0700 unless `readonly`). */
  dir: string;
  /** Verification only: never creates directories or files. */
  readonly?: boolean;
}

type Part = 'records' | 'checkpoints';

export class JsonlAuditStore implements AuditStore {
  readonly kind = 'jsonl';
  readonly #dir: string;
  readonly #fds = new Map<string, number>();
  /** Logs whose last write may be partial: every later append is refused (fail closed). */
  readonly #broken = new Set<string>();
  #closed = false;

  constructor(options: JsonlAuditStoreOptions) {
    this.#dir = options.dir;
    if (options.readonly === true) {
      if (!existsSync(join(this.#dir, 'records'))) {
        throw new AuditError(`no JSONL audit log in ${this.#dir}`);
      }
      return;
    }
    try {
      for (const part of ['records', 'checkpoints'] as const) {
        mkdirSync(join(this.#dir, part), { recursive: true, mode: 0o700 });
      }
    } catch (cause) {
      throw new AuditError(`cannot create JSONL audit directory ${this.#dir}`, { cause });
    }
  }

  async appendRecord(record: AuditRecord, durability: AppendDurability = {}): Promise<void> {
    this.#append('records', record.logId, canonicalize(record), durability.sync !== false);
  }

  async appendCheckpoint(checkpoint: AuditCheckpoint, record: AuditRecord): Promise<void> {
    // The in-chain record first: a crash in between shows up in verify as a missing checkpoint.
    this.#append('records', record.logId, canonicalize(record), true);
    this.#append('checkpoints', checkpoint.logId, canonicalize(checkpoint), true);
  }

  async head(logId: string): Promise<AuditHead> {
    const head: AuditHead = {};
    const last = (part: Part): string | undefined => {
      const entries = this.#read(part, logId);
      return entries[entries.length - 1]?.text;
    };
    try {
      const rec = last('records');
      const cp = last('checkpoints');
      if (rec !== undefined) head.last = JSON.parse(rec) as AuditRecord;
      if (cp !== undefined) head.lastCheckpoint = JSON.parse(cp) as AuditCheckpoint;
    } catch (cause) {
      throw new AuditError(`cannot read head of audit log ${logId}`, { cause });
    }
    return head;
  }

  async readRecords(logId: string): Promise<StoredEntry[]> {
    return this.#read('records', logId);
  }

  async readCheckpoints(logId: string): Promise<StoredEntry[]> {
    return this.#read('checkpoints', logId);
  }

  async listLogs(): Promise<string[]> {
    const ids = new Set<string>();
    for (const part of ['records', 'checkpoints'] as const) {
      const dir = join(this.#dir, part);
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir)) {
        if (name.endsWith('.jsonl')) ids.add(name.slice(0, -'.jsonl'.length));
      }
    }
    return [...ids].sort();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let failure: unknown;
    for (const fd of this.#fds.values()) {
      try {
        fsyncSync(fd); // deferred appends since the last sync one
      } catch (err) {
        failure ??= err;
      }
      try {
        closeSync(fd);
      } catch {
        // keep closing the others
      }
    }
    this.#fds.clear();
    if (failure !== undefined)
      throw new AuditError('cannot flush audit log files', { cause: failure });
  }

  #path(part: Part, logId: string): string {
    assertLogId(logId);
    return join(this.#dir, part, `${logId}.jsonl`);
  }

  #read(part: Part, logId: string): StoredEntry[] {
    const path = this.#path(part, logId);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new AuditError(`cannot read ${path}`, { cause: err });
    }
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.map((line, i) => ({ text: line, position: i + 1 }));
  }

  /** `sync` false: written (survives a process crash); fsync'ed with the file's next sync append. */
  #append(part: Part, logId: string, line: string, sync: boolean): void {
    const key = `${part}/${logId}`;
    if (this.#closed) throw new AuditError('cannot append: audit store is closed');
    if (this.#broken.has(key)) {
      throw new AuditError(`audit log ${logId} had a failed write; refusing further appends`);
    }
    const path = this.#path(part, logId);
    try {
      let fd = this.#fds.get(key);
      if (fd === undefined) {
        const created = !existsSync(path);
        fd = openSync(path, 'a', 0o600);
        this.#fds.set(key, fd);
        if (created) fsyncDir(join(this.#dir, part));
      }
      const bytes = Buffer.from(`${line}\n`, 'utf8');
      let written = 0;
      while (written < bytes.length) {
        written += writeSync(fd, bytes, written, bytes.length - written);
      }
      if (sync) fsyncSync(fd);
    } catch (cause) {
      this.#broken.add(key);
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new AuditError(`cannot append to ${path}: ${reason}`, { cause });
    }
  }
}

/** Makes a newly created file's directory entry durable. */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

// Content-addressed blob files for workspace snapshots: <dir>/sha256/ab/<hex>, written to a
// temp file first and renamed into place, so a blob on disk is always complete.
import { createHash, randomBytes } from 'node:crypto';
import {
  createWriteStream,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { RingfenceError } from '../errors.js';

/** Snapshots above this are refused. */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;

export interface StagedBlob {
  sha256: string;
  sizeBytes: number;
  tmpPath: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

export class SnapshotBlobs {
  readonly #root: string;
  readonly #maxBytes: number;

  constructor(root: string, maxBytes = DEFAULT_MAX_SNAPSHOT_BYTES) {
    this.#root = root;
    this.#maxBytes = maxBytes;
    mkdirSync(join(root, 'tmp'), { recursive: true, mode: 0o700 });
  }

  pathOf(sha256: string): string {
    if (!HEX64.test(sha256)) throw new RingfenceError('invalid_request', 'bad snapshot hash');
    return join(this.#root, 'sha256', sha256.slice(0, 2), sha256);
  }

  /** Writes the bytes to a temp file and hashes them; commit() or discard() it next. */
  async stage(data: Buffer | Readable): Promise<StagedBlob> {
    const tmpPath = join(this.#root, 'tmp', `${randomBytes(12).toString('hex')}.part`);
    if (Buffer.isBuffer(data)) {
      if (data.length > this.#maxBytes) throw tooLarge(this.#maxBytes);
      writeFileSync(tmpPath, data, { mode: 0o600 });
      return {
        sha256: createHash('sha256').update(data).digest('hex'),
        sizeBytes: data.length,
        tmpPath,
      };
    }
    const hash = createHash('sha256');
    let size = 0;
    const max = this.#maxBytes;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > max) {
          cb(tooLarge(max));
          return;
        }
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(data, meter, createWriteStream(tmpPath, { mode: 0o600 }));
    } catch (err) {
      rmSync(tmpPath, { force: true });
      throw err;
    }
    return { sha256: hash.digest('hex'), sizeBytes: size, tmpPath };
  }

  /** Moves a staged blob into place; an identical blob already there is kept (dedupe). Sync. */
  commit(staged: StagedBlob): void {
    const final = this.pathOf(staged.sha256);
    let exists = false;
    try {
      exists = statSync(final).isFile();
    } catch {
      exists = false;
    }
    if (exists) {
      rmSync(staged.tmpPath, { force: true });
      return;
    }
    mkdirSync(join(this.#root, 'sha256', staged.sha256.slice(0, 2)), {
      recursive: true,
      mode: 0o700,
    });
    renameSync(staged.tmpPath, final);
  }

  discard(staged: StagedBlob): void {
    rmSync(staged.tmpPath, { force: true });
  }

  /** Reads a blob and checks its hash (a corrupted blob is an error, never returned). */
  read(sha256: string): Buffer {
    let data: Buffer;
    try {
      data = readFileSync(this.pathOf(sha256));
    } catch (cause) {
      throw new RingfenceError('not_found', `snapshot blob ${sha256} missing`, { cause });
    }
    if (createHash('sha256').update(data).digest('hex') !== sha256) {
      throw new RingfenceError('internal', `snapshot blob ${sha256} is corrupted`);
    }
    return data;
  }

  remove(sha256: string): void {
    rmSync(this.pathOf(sha256), { force: true });
  }
}

function tooLarge(max: number): RingfenceError {
  return new RingfenceError('invalid_request', `snapshot larger than ${max} bytes`);
}

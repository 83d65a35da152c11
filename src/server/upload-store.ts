// Uploaded workspace archives (tar.gz), content-addressed under <dataDir>/uploads; vetted on
// upload (gzip + safe member paths) so a session never starts from an archive that escapes.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { RingfenceError } from '../errors.js';
import { vetTarEntries } from '../sessions/tar-entries.js';

const UPLOAD_ID = /^[0-9a-f]{64}$/;

export class UploadStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Checks and stores one tar.gz; returns its id (hex sha256). */
  async put(data: Buffer): Promise<{ uploadId: string; sizeBytes: number }> {
    let tar: Buffer;
    try {
      tar = gunzipSync(data, { maxOutputLength: 1024 * 1024 * 1024 });
    } catch (cause) {
      throw new RingfenceError('invalid_request', 'upload is not a valid gzip stream', { cause });
    }
    try {
      vetTarEntries(tar);
    } catch (cause) {
      const msg = cause instanceof Error ? cause.message : String(cause);
      throw new RingfenceError('invalid_request', `upload is not an acceptable tar: ${msg}`, {
        cause,
      });
    }
    const uploadId = createHash('sha256').update(data).digest('hex');
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.#dir, `.${uploadId}.${process.pid}.tmp`);
    await writeFile(tmp, data, { mode: 0o600 });
    await rename(tmp, join(this.#dir, `${uploadId}.tar.gz`));
    return { uploadId, sizeBytes: data.length };
  }

  async get(uploadId: string): Promise<Buffer> {
    if (!UPLOAD_ID.test(uploadId)) {
      throw new RingfenceError('invalid_request', 'uploadId must be 64 hex characters');
    }
    try {
      return await readFile(join(this.#dir, `${uploadId}.tar.gz`));
    } catch (cause) {
      throw new RingfenceError('not_found', `upload ${uploadId} not found`, { cause });
    }
  }
}

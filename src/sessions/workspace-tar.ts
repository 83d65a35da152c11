// Packs a workspace into a deterministic tar.gz with the system tar (never following links)
// and restores one into a fresh empty directory after vetting every member.
import { spawn } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { RingfenceError } from '../errors.js';
import { vetTarEntries, type TarEntry } from './tar-entries.js';

/** Refuse archives that inflate beyond this (zip-bomb guard). */
export const DEFAULT_MAX_WORKSPACE_BYTES = 1024 * 1024 * 1024;

interface RunResult {
  stdout: Buffer;
  stderr: string;
  code: number | null;
}

function run(
  cmd: string,
  args: readonly string[],
  input: Buffer | undefined,
  cwd?: string,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8').slice(0, 2_000),
        code,
      }),
    );
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/**
 * Archives `dir` (regular files, directories and symlinks only; symlinks stored as links,
 * hard links stored as copies, setuid bits dropped, owner 0, sorted) as gzip bytes.
 * Identical trees give identical bytes, so snapshots dedupe.
 * @example const tgz = await tarWorkspace('/var/lib/ringfence/ws/s1');
 */
export async function tarWorkspace(dir: string): Promise<Buffer> {
  const st = lstatSync(dir);
  if (!st.isDirectory())
    throw new RingfenceError('invalid_request', `workspace ${dir} is not a directory`);
  const list = await run(
    'find',
    ['.', '-xdev', '(', '-type', 'f', '-o', '-type', 'd', '-o', '-type', 'l', ')', '-print0'],
    undefined,
    dir,
  );
  if (list.code !== 0) throw new RingfenceError('internal', `find failed: ${list.stderr}`);
  const tar = await run(
    'tar',
    [
      '-c',
      '-f',
      '-',
      '-C',
      dir,
      '--null',
      '--no-recursion',
      '--verbatim-files-from',
      '-T',
      '-',
      '--sort=name',
      '--format=gnu',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--hard-dereference',
      '--mode=ug-s',
      '--no-same-owner',
    ],
    list.stdout,
  );
  // Exit 1 = "some files changed while being archived": the agent may still be writing.
  if (tar.code !== 0 && tar.code !== 1)
    throw new RingfenceError('internal', `tar failed: ${tar.stderr}`);
  return gzipSync(tar.stdout);
}

export interface UntarOptions {
  maxBytes?: number;
}

/**
 * Restores a tarWorkspace archive into `dir`, which must be absent or an empty directory
 * (so nothing there can redirect a write). Refuses absolute names, `..`, entries under an
 * archived symlink, special files and setuid bits before tar runs; returns the members.
 */
export async function untarWorkspace(
  tgz: Buffer,
  dir: string,
  options: UntarOptions = {},
): Promise<TarEntry[]> {
  prepareEmptyDir(dir);
  let tar: Buffer;
  try {
    tar = gunzipSync(tgz, { maxOutputLength: options.maxBytes ?? DEFAULT_MAX_WORKSPACE_BYTES });
  } catch (cause) {
    throw new RingfenceError(
      'invalid_request',
      'invalid workspace archive: not gzip or too large',
      { cause },
    );
  }
  const entries = vetTarEntries(tar);
  const result = await run(
    'tar',
    [
      '-x',
      '-f',
      '-',
      '-C',
      dir,
      '--no-same-owner',
      '--no-same-permissions',
      '--keep-old-files',
      '--delay-directory-restore',
    ],
    tar,
  );
  if (result.code !== 0) {
    throw new RingfenceError('invalid_request', `workspace restore failed: ${result.stderr}`);
  }
  return entries;
}

function prepareEmptyDir(dir: string): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    mkdirSync(dir, { mode: 0o755 });
    return;
  }
  if (!st.isDirectory())
    throw new RingfenceError('invalid_request', `restore target ${dir} is not a directory`);
  if (readdirSync(dir).length > 0)
    throw new RingfenceError('invalid_request', `restore target ${dir} is not empty`);
}

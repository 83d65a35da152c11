// Workspace archiving: round trip through the system tar, links stored as links, and hostile
// archives (`..`, absolute, write through a symlink, special files) refused before extraction.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PathEscapeError, RingfenceError } from '../../src/errors.js';
import { tarWorkspace, untarWorkspace } from '../../src/sessions/workspace-tar.js';
import { buildTarGz } from './tar-builder.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'rf-tar-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('tarWorkspace / untarWorkspace', () => {
  it('round-trips files, directories and symlinks without following links out', async () => {
    const ws = join(root, 'ws');
    const outside = join(root, 'outside-secret');
    const canary = randomBytes(16).toString('hex');
    writeFileSync(outside, canary);
    mkdirSync(join(ws, 'src', 'deep'), { recursive: true });
    writeFileSync(join(ws, 'README.md'), 'hello\n');
    writeFileSync(join(ws, 'src', 'deep', 'a.ts'), 'export const a = 1;\n');
    symlinkSync('../README.md', join(ws, 'src', 'readme-link'));
    symlinkSync(outside, join(ws, 'escape-link'));
    const tgz = await tarWorkspace(ws);
    expect(tgz.includes(Buffer.from(canary))).toBe(false);
    const restored = join(root, 'restored');
    await untarWorkspace(tgz, restored);
    expect(readFileSync(join(restored, 'README.md'), 'utf8')).toBe('hello\n');
    expect(readFileSync(join(restored, 'src', 'deep', 'a.ts'), 'utf8')).toBe(
      'export const a = 1;\n',
    );
    expect(lstatSync(join(restored, 'src', 'readme-link')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(restored, 'src', 'readme-link'))).toBe('../README.md');
    expect(lstatSync(join(restored, 'escape-link')).isSymbolicLink()).toBe(true);
  });

  it('gives identical bytes for identical trees (so snapshots dedupe)', async () => {
    const ws = join(root, 'ws');
    mkdirSync(ws);
    writeFileSync(join(ws, 'b.txt'), 'b');
    writeFileSync(join(ws, 'a.txt'), 'a');
    expect((await tarWorkspace(ws)).equals(await tarWorkspace(ws))).toBe(true);
  });

  it('round-trips paths longer than the 100-byte ustar name field', async () => {
    const ws = join(root, 'ws');
    const deep = join(ws, 'a'.repeat(80), 'b'.repeat(80));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, `${'c'.repeat(90)}.txt`), 'long');
    const restored = join(root, 'restored');
    const entries = await untarWorkspace(await tarWorkspace(ws), restored);
    expect(entries.map((e) => e.path.length)).toEqual([1, 80, 161, 256]);
    const file = join(restored, 'a'.repeat(80), 'b'.repeat(80), `${'c'.repeat(90)}.txt`);
    expect(readFileSync(file, 'utf8')).toBe('long');
  });

  it('leaves special files such as a fifo out of the archive', async () => {
    const ws = join(root, 'ws');
    mkdirSync(ws);
    writeFileSync(join(ws, 'kept.txt'), 'k');
    execFileSync('mkfifo', [join(ws, 'pipe')]);
    const restored = join(root, 'restored');
    const entries = await untarWorkspace(await tarWorkspace(ws), restored);
    expect(entries.map((e) => e.path).sort()).toEqual(['.', 'kept.txt']);
    expect(readdirSync(restored)).toEqual(['kept.txt']);
  });

  it('refuses a non-empty restore target', async () => {
    const ws = join(root, 'ws');
    mkdirSync(ws);
    writeFileSync(join(ws, 'a'), 'a');
    const tgz = await tarWorkspace(ws);
    await expect(untarWorkspace(tgz, ws)).rejects.toMatchObject({ code: 'invalid_request' });
  });

  const hostile: { name: string; archive: () => Buffer; error: typeof RingfenceError }[] = [
    {
      name: '`../x`',
      archive: () => buildTarGz([{ name: '../x', type: 'file', data: 'pwn' }]),
      error: PathEscapeError,
    },
    {
      name: 'nested `a/../../x`',
      archive: () => buildTarGz([{ name: 'a/../../x', type: 'file', data: 'pwn' }]),
      error: PathEscapeError,
    },
    {
      name: 'an absolute path',
      archive: () => buildTarGz([{ name: '/tmp/rf-abs-x', type: 'file', data: 'pwn' }]),
      error: PathEscapeError,
    },
    {
      name: 'a symlink then a file through it',
      archive: () =>
        buildTarGz([
          { name: 'link', type: 'symlink', link: '/tmp' },
          { name: 'link/rf-through-x', type: 'file', data: 'pwn' },
        ]),
      error: PathEscapeError,
    },
    {
      name: 'a symlink replaced by a file of the same name',
      archive: () =>
        buildTarGz([
          { name: 'link', type: 'symlink', link: '/tmp/rf-replaced' },
          { name: 'link', type: 'file', data: 'pwn' },
        ]),
      error: RingfenceError,
    },
    {
      name: 'a hard link',
      archive: () => buildTarGz([{ name: 'h', type: 'hardlink', link: '/etc/passwd' }]),
      error: RingfenceError,
    },
    {
      name: 'a fifo',
      archive: () => buildTarGz([{ name: 'f', type: 'fifo' }]),
      error: RingfenceError,
    },
    {
      name: 'a setuid file',
      archive: () => buildTarGz([{ name: 's', type: 'file', data: 'x', mode: 0o4755 }]),
      error: RingfenceError,
    },
  ];
  for (const h of hostile) {
    it(`refuses ${h.name} and writes nothing`, async () => {
      const target = join(root, 'target');
      const err = await untarWorkspace(h.archive(), target).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(h.error);
      expect(readdirSync(target)).toEqual([]);
      expect(existsSync('/tmp/rf-through-x')).toBe(false);
      expect(existsSync('/tmp/rf-abs-x')).toBe(false);
      expect(existsSync(join(root, 'x'))).toBe(false);
    });
  }

  it('refuses garbage that is not gzip', async () => {
    await expect(
      untarWorkspace(Buffer.from('not a tarball'), join(root, 't')),
    ).rejects.toMatchObject({
      code: 'invalid_request',
    });
  });
});

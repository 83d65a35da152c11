// Without root (no cgroup can be written) the limits fall back to rlimits, and `ringfence doctor`
// says so. Run for real: the CLI as an unprivileged user (nobody), bwrap on user namespaces.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { missingBubblewrap, missingRoot, reportSkip } from '../helpers/capabilities.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const NOBODY = 65534;

/** Why the unprivileged run cannot happen here, if it cannot. */
function missingUnprivilegedBwrap(): string | undefined {
  const missing = missingRoot() ?? missingBubblewrap();
  if (missing) return missing;
  const r = spawnSync('setpriv', [
    ...asNobody(),
    'bwrap',
    '--unshare-user',
    '--ro-bind',
    '/',
    '/',
    'true',
  ]);
  return r.status === 0 ? undefined : 'unprivileged user namespaces are not available';
}

function asNobody(): string[] {
  return [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'];
}

const dir = mkdtempSync(join(tmpdir(), 'rf-rlimit-'));
chownSync(dir, NOBODY, NOBODY);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `ringfence <args>` as nobody, from the repository (built or from source, as it is). */
function ringfence(args: string[]) {
  return spawnSync(
    'setpriv',
    [...asNobody(), process.execPath, join(ROOT, 'bin', 'ringfence.cjs'), ...args],
    {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, TMPDIR: dir },
      timeout: 60_000,
    },
  );
}

describe.skipIf(reportSkip('rlimit fallback', missingUnprivilegedBwrap()))(
  'limits without root: rlimits',
  () => {
    it('ringfence doctor says the limits fall back to rlimits, and why', () => {
      const r = ringfence(['doctor']);
      expect(r.stdout).toContain('limitsVia: rlimit');
      expect(r.stdout).toMatch(/cgroupProblem: .*falling back to rlimits/);
      expect(r.stdout).toContain('runsAsRoot: false');
    });

    it('a sandbox gets the policy as rlimits; a memory bomb and a big file are refused', () => {
      const policy = join(dir, 'policy.json');
      writeFileSync(policy, JSON.stringify({ limits: { memoryMb: 96, pids: 64, diskMb: 20 } }));
      chownSync(policy, NOBODY, NOBODY);
      const limits = ringfence([
        'sandbox',
        'exec',
        '--policy',
        policy,
        '--',
        'cat',
        '/proc/self/limits',
      ]);
      expect(limits.status).toBe(0);
      const value = (name: string): string =>
        new RegExp(`^${name}\\s+(\\d+)`, 'm').exec(limits.stdout)?.[1] ?? '';
      // Address space is 4x the memory limit (room for mappings that are never touched).
      expect(value('Max address space')).toBe(String(96 * 4 * 1024 * 1024));
      expect(value('Max processes')).toBe('64');
      expect(value('Max file size')).toBe(String(20 * 1024 * 1024));

      const bomb = ringfence([
        'sandbox',
        'exec',
        '--policy',
        policy,
        '--',
        'python3',
        '-c',
        'x = bytearray(600 * 1024 * 1024); print("ALLOCATED")',
      ]);
      expect(bomb.stdout).not.toContain('ALLOCATED');
      expect(bomb.stderr).toContain('MemoryError');
      expect(bomb.status).toBe(1);

      const big = ringfence([
        'sandbox',
        'exec',
        '--policy',
        policy,
        '--',
        'sh',
        '-c',
        'dd if=/dev/zero of=big bs=1M count=100 2>&1; echo rc=$?',
      ]);
      expect(big.stdout + big.stderr).toMatch(/File too large|rc=1|disk limit/);
    }, 120_000);
  },
);

// The SandboxDriver conformance suite: every driver runs the attack classes of SECURITY.md
// "Filesystem" and "Process and resources" from a shell inside a real sandbox.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, rm, symlink, mkdir, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { policySchema, type PolicyInput } from '../../src/policy/policy-schema.js';
import type { Sandbox, SandboxDriver } from '../../src/sandbox/driver.js';
import { PathEscapeError } from '../../src/errors.js';

export interface DriverSuiteOptions {
  name: string;
  createDriver: () => Promise<SandboxDriver>;
  /** Tests this driver cannot run, each with the reason printed when skipped. */
  skip?: { reason: string; tests: string[] }[];
  /** Why the whole suite cannot run here, if it cannot. */
  unavailable?: string;
}

export function runDriverSuite(options: DriverSuiteOptions): void {
  const skipReason = (test: string): string | undefined =>
    options.skip?.find((s) => s.tests.includes(test))?.reason;
  const test = (name: string, fn: () => Promise<void>, timeout?: number): void => {
    const reason = options.unavailable ?? skipReason(name);
    if (reason) {
      it.skip(`${name} (skipped: ${reason})`, () => undefined);
      return;
    }
    it(name, fn, timeout);
  };

  describe(`SandboxDriver conformance: ${options.name}`, () => {
    let driver: SandboxDriver;
    let root: string;
    const sandboxes: Sandbox[] = [];

    const sandbox = async (
      policy: PolicyInput = {},
      env?: Record<string, string>,
    ): Promise<Sandbox> => {
      const workspace = await mkdtemp(join(root, 'ws-'));
      const sb = await driver.create({
        workspace,
        policy: policySchema.parse(policy),
        ...(env ? { env } : {}),
      });
      sandboxes.push(sb);
      return sb;
    };
    const sh = (sb: Sandbox, script: string, timeoutMs?: number) =>
      sb.exec(['/bin/sh', '-c', script], timeoutMs ? { timeoutMs } : {});

    beforeAll(async () => {
      if (options.unavailable) {
        process.stderr.write(`SKIP driver suite ${options.name}: ${options.unavailable}\n`);
        return;
      }
      driver = await options.createDriver();
      root = await mkdtemp(join(tmpdir(), `rf-suite-${options.name}-`));
    });
    afterAll(async () => {
      if (options.unavailable) return;
      await Promise.allSettled(sandboxes.map((s) => s.destroy()));
      await driver.close();
      await rm(root, { recursive: true, force: true });
    });

    describe('lifecycle and exec', () => {
      test('streams stdout and stderr, returns the exit code, feeds stdin', async () => {
        const sb = await sandbox();
        const chunks: string[] = [];
        const r = await sb.exec(['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'], {
          onStdout: (c) => chunks.push(c.toString()),
        });
        expect(r.exitCode).toBe(3);
        expect(r.stdout).toBe('out\n');
        expect(r.stderr).toContain('err');
        expect(chunks.join('')).toBe('out\n');
        const cat = await sb.exec(['cat'], { stdin: 'from stdin' });
        expect(cat.stdout).toBe('from stdin');
      });

      test('runs in /workspace by default and accepts a cwd below it only', async () => {
        const sb = await sandbox();
        await sh(sb, 'mkdir -p sub');
        expect((await sb.exec(['pwd'])).stdout.trim()).toBe('/workspace');
        expect((await sb.exec(['pwd'], { cwd: 'sub' })).stdout.trim()).toBe('/workspace/sub');
        await expect(sb.exec(['pwd'], { cwd: '/etc' })).rejects.toBeInstanceOf(PathEscapeError);
        await expect(sb.exec(['pwd'], { cwd: '../workspace2' })).rejects.toBeInstanceOf(
          PathEscapeError,
        );
      });

      test('a background process started by one exec is there for the next', async () => {
        const sb = await sandbox();
        const start = await sh(sb, 'sleep 300 >/dev/null 2>&1 & echo $!');
        expect(start.exitCode).toBe(0);
        const pid = start.stdout.trim();
        const check = await sh(sb, `kill -0 ${pid} && echo alive`);
        expect(check.stdout).toContain('alive');
      });

      test('the env is explicit: host variables do not leak in', async () => {
        const canary = `canary-${randomBytes(8).toString('hex')}`;
        process.env.RINGFENCE_TEST_CANARY = canary;
        try {
          const sb = await sandbox({}, { GIVEN: 'yes' });
          const r = await sb.exec(['env']);
          expect(r.stdout).not.toContain(canary);
          expect(r.stdout).toContain('GIVEN=yes');
          const environ = await sh(sb, 'cat /proc/*/environ 2>/dev/null | tr "\\0" "\\n"');
          expect(environ.stdout).not.toContain(canary);
        } finally {
          delete process.env.RINGFENCE_TEST_CANARY;
        }
      });

      test('files: write, read, list inside the workspace and visible on the host', async () => {
        const sb = await sandbox();
        await sb.writeFile('dir/../a.txt', 'hello');
        expect((await sb.readFile('/workspace/a.txt')).toString()).toBe('hello');
        expect(await readFile(join(sb.workspace, 'a.txt'), 'utf8')).toBe('hello');
        const names = (await sb.list('.')).map((e) => e.name);
        expect(names).toContain('a.txt');
        expect((await sh(sb, 'cat a.txt')).stdout).toBe('hello');
      });

      test('destroy kills everything and later calls fail clearly', async () => {
        const sb = await sandbox();
        await sh(sb, 'sleep 300 >/dev/null 2>&1 &');
        await sb.destroy();
        await sb.destroy();
        await expect(sb.exec(['true'])).rejects.toMatchObject({ code: 'sandbox_destroyed' });
      });
    });

    describe('filesystem attacks (SECURITY.md layer 2)', () => {
      test('host secrets are invisible', async () => {
        const sb = await sandbox();
        const r = await sh(
          sb,
          'for f in /etc/shadow /etc/gshadow /root /home /etc/ssl/private /var /run /etc/hostname /etc/machine-id /proc/1/root/etc/shadow; do [ -e "$f" ] && echo "VISIBLE $f"; done; ls /etc',
        );
        expect(r.stdout).not.toContain('VISIBLE');
        const dataDir = join(process.env.HOME ?? '/root', '.ringfence');
        const probe = await sh(sb, `ls ${dataDir} ${tmpdir()} 2>&1; echo done`);
        expect(probe.stdout).toContain('No such file');
      });

      test('writes outside the workspace fail', async () => {
        const sb = await sandbox();
        const r = await sh(
          sb,
          'for f in /x /usr/x /etc/x /bin/x /proc/x /dev/x; do touch "$f" 2>/dev/null && echo "WROTE $f"; done; echo ok',
        );
        expect(r.stdout).not.toContain('WROTE');
        expect(r.stdout).toContain('ok');
      });

      test('/tmp is private to the sandbox', async () => {
        const marker = `rf-${randomBytes(6).toString('hex')}`;
        const a = await sandbox();
        const b = await sandbox();
        await sh(a, `echo secret > /tmp/${marker}`);
        expect((await sh(b, `cat /tmp/${marker} 2>&1`)).stdout).toContain('No such file');
        expect(existsSync(join('/tmp', marker))).toBe(false);
      });

      test('symlink and hard-link escapes fail, in a shell and in file operations', async () => {
        const sb = await sandbox();
        const r = await sh(
          sb,
          'ln -s /etc/shadow s1; cat s1 2>&1; ln -s ../../../../etc s2; ls s2/shadow 2>&1; ln /usr/bin/env hard 2>&1 || echo HARDLINK_REFUSED',
        );
        expect(r.stdout).not.toMatch(/root:[^x]/);
        expect(r.stdout).toContain('HARDLINK_REFUSED');
        // Links planted by the agent must not turn host-side file operations outward.
        await symlink('/etc/passwd', join(sb.workspace, 'out-link'));
        await symlink('/nonexistent/dangling', join(sb.workspace, 'dangling'));
        await mkdir(join(sb.workspace, 'd'));
        await symlink('/etc', join(sb.workspace, 'd', 'etc-dir'));
        await expect(sb.readFile('out-link')).rejects.toBeInstanceOf(PathEscapeError);
        await expect(sb.readFile('d/etc-dir/passwd')).rejects.toBeInstanceOf(PathEscapeError);
        await expect(sb.writeFile('out-link', 'x')).rejects.toBeInstanceOf(PathEscapeError);
        await expect(sb.writeFile('dangling', 'x')).rejects.toBeInstanceOf(PathEscapeError);
        await expect(sb.writeFile('d/etc-dir/evil', 'x')).rejects.toBeInstanceOf(PathEscapeError);
        await expect(sb.readFile('../etc/passwd')).rejects.toBeInstanceOf(PathEscapeError);
        await expect(sb.readFile('/workspace2/x')).rejects.toBeInstanceOf(PathEscapeError);
        await expect(sb.list('/proc/self/root')).rejects.toBeInstanceOf(PathEscapeError);
      });

      test('special files are not read by the host-side reader', async () => {
        const sb = await sandbox();
        await sh(
          sb,
          'mkfifo fifo; ln -s /dev/zero zero; truncate -s 100G sparse 2>/dev/null; true',
        );
        await expect(sb.readFile('fifo')).rejects.toThrow(/regular file/);
        await expect(sb.readFile('zero')).rejects.toBeInstanceOf(PathEscapeError);
        const sparse = await sb.readFile('sparse', { maxBytes: 1024 }).catch((e: Error) => e);
        if (Buffer.isBuffer(sparse)) expect(sparse.length).toBeLessThanOrEqual(1024);
      });

      test('/proc shows only the sandbox and /proc/*/root, cwd stay inside', async () => {
        const sb = await sandbox();
        const r = await sh(
          sb,
          'ls /proc | grep -E "^[0-9]+$" | wc -l; ls /proc/1/root/ 2>&1 | head -20; readlink /proc/self/cwd',
        );
        const [count] = r.stdout.split('\n');
        expect(Number(count)).toBeLessThan(15);
        expect(r.stdout).not.toContain('root\n');
        expect(r.stdout).toContain('/workspace');
        const hostPid = await sh(sb, `kill -0 ${process.pid} 2>&1 && echo SIGNALLED_HOST`);
        expect(hostPid.stdout).not.toContain('SIGNALLED_HOST');
      });

      test('only harmless devices exist', async () => {
        const sb = await sandbox();
        const r = await sh(sb, 'ls /dev');
        for (const dev of ['sda', 'vda', 'mem', 'kmem', 'port', 'kvm', 'fuse', 'loop0']) {
          expect(r.stdout.split('\n')).not.toContain(dev);
        }
      });
    });

    describe('process attacks (SECURITY.md "Process and resources")', () => {
      test('no capabilities, NoNewPrivs, seccomp on, non-root uid', async () => {
        const sb = await sandbox();
        const r = await sh(
          sb,
          'id -u; grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status',
        );
        expect(r.stdout).toMatch(/^1000\n/);
        expect(r.stdout).toMatch(/CapEff:\s+0000000000000000/);
        expect(r.stdout).toMatch(/CapPrm:\s+0000000000000000/);
        expect(r.stdout).toMatch(/NoNewPrivs:\s+1/);
        expect(r.stdout).toMatch(/Seccomp:\s+2/);
      });

      test('mount, unshare, setns, ptrace, bpf, keyctl, io_uring and AF_UNIX sockets are refused', async () => {
        const sb = await sandbox();
        const script = `
import ctypes, os, socket, errno
libc = ctypes.CDLL(None, use_errno=True)
def check(name, rc):
    e = ctypes.get_errno()
    print(name, "BLOCKED" if rc == -1 else "ALLOWED", errno.errorcode.get(e, e))
check("mount", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
check("unshare_user", libc.unshare(0x10000000))
check("unshare_net", libc.unshare(0x40000000))
check("ptrace", libc.ptrace(0, 0, None, None))
check("bpf", libc.syscall(321, 0, None, 0))
check("keyctl", libc.syscall(250, 0, 0, 0, 0, 0))
check("io_uring_setup", libc.syscall(425, 1, None))
check("perf_event_open", libc.syscall(298, None, 0, -1, -1, 0))
check("setns", libc.setns(os.open("/proc/self/ns/net", os.O_RDONLY), 0))
try:
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    print("af_unix ALLOWED")
except OSError as e:
    print("af_unix BLOCKED", e.errno)
try:
    os.setuid(0)
    print("setuid ALLOWED")
except OSError:
    print("setuid BLOCKED")
`;
        await sb.writeFile('probe.py', script);
        const r = await sb.exec(['python3', 'probe.py']);
        expect(r.stderr).toBe('');
        const lines = r.stdout.trim().split('\n');
        expect(lines).toHaveLength(11);
        for (const line of lines) expect(line, line).toContain('BLOCKED');
      });

      test('setuid binaries give nothing', async () => {
        const sb = await sandbox();
        const r = await sh(
          sb,
          'for b in /usr/bin/su /usr/bin/passwd /usr/bin/mount /usr/bin/newgrp; do [ -x $b ] && $b </dev/null >/dev/null 2>&1; done; id -u; echo done',
        );
        expect(r.stdout).toContain('1000');
        const euid = await sh(sb, 'su -c "id -u" root </dev/null 2>&1; echo rc=$?');
        expect(euid.stdout).not.toMatch(/^0$/m);
      });

      test('no network but loopback', async () => {
        const sb = await sandbox();
        const r = await sh(sb, 'cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "');
        expect(r.stdout.trim().split('\n')).toEqual(['lo']);
        // A documentation-range address: no route exists, so nothing leaves the sandbox.
        const py = await sb.exec([
          'python3',
          '-c',
          'import socket\ns=socket.socket()\ns.settimeout(2)\ntry:\n s.connect(("198.51.100.1",80)); print("CONNECTED")\nexcept OSError as e: print("FAILED", e.errno)',
        ]);
        expect(py.stdout).toContain('FAILED');
      });

      test('a fork bomb hits the pids limit and the sandbox recovers', async () => {
        const sb = await sandbox({ limits: { pids: 64, execTimeoutSec: 5 } });
        const r = await sh(sb, 'bomb() { bomb | bomb & }; bomb; sleep 3', 8_000);
        expect(r.limit === 'pids limit' || r.limit === 'timeout').toBe(true);
        const after = await sb.exec(['echo', 'alive']);
        expect(after.stdout).toBe('alive\n');
      }, 30_000);

      test('a memory bomb is killed with exit 137 and "memory limit"', async () => {
        const sb = await sandbox({ limits: { memoryMb: 96 } });
        const r = await sb.exec([
          'python3',
          '-c',
          'x = bytearray(600 * 1024 * 1024); print("ALLOCATED")',
        ]);
        expect(r.stdout).not.toContain('ALLOCATED');
        expect(r.exitCode === 137 || r.exitCode === 1).toBe(true);
        if (r.exitCode === 137) expect(r.limit).toBe('memory limit');
        else expect(r.stderr).toContain('MemoryError');
        expect((await sb.exec(['echo', 'alive'])).stdout).toBe('alive\n');
      });

      test('disk fill is stopped: one big file, many files, and /tmp', async () => {
        const sb = await sandbox({ limits: { diskMb: 20 } });
        const big = await sh(sb, 'dd if=/dev/zero of=big bs=1M count=100 2>&1; echo rc=$?');
        expect(
          big.limit === 'disk limit' || /File too large|rc=1/.test(big.stdout + big.stderr),
        ).toBe(true);
        await sh(sb, 'rm -f big');
        const many = await sh(
          sb,
          'i=0; while [ $i -lt 400 ]; do head -c 100000 /dev/zero > f$i || exit 9; i=$((i+1)); done; echo FILLED',
          20_000,
        );
        expect(many.limit).toBe('disk limit');
        await sh(sb, 'rm -f f*');
        const tmp = await sh(sb, 'dd if=/dev/zero of=/tmp/big bs=1M count=100 2>&1; echo rc=$?');
        expect(tmp.stdout).toMatch(/No space left|File too large|rc=1/);
      }, 60_000);

      test('a CPU spin is ended by the exec timeout with its whole process tree', async () => {
        const sb = await sandbox();
        const r = await sh(
          sb,
          'sh -c "while :; do :; done" & setsid sh -c "sleep 500" & while :; do :; done',
          1_000,
        );
        expect(r.exitCode).toBe(137);
        expect(r.limit).toBe('timeout');
        const left = await sh(
          sb,
          'ps -eo args 2>/dev/null | grep -c "sleep 500" || ls /proc | grep -c "^[0-9]"',
        );
        expect(left.stdout.trim()).not.toBe('');
        const sleepers = await sh(
          sb,
          'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline 2>/dev/null; echo; done | grep -c "^sleep 500" || true',
        );
        expect(sleepers.stdout.trim()).toBe('0');
      });

      test('gigabytes of output are capped head+tail with a count', async () => {
        const sb = await sandbox({ limits: { outputBytes: 64 * 1024 } });
        const r = await sh(
          sb,
          'echo FIRST; head -c 200000000 /dev/zero | tr "\\0" a; echo; echo LAST',
          60_000,
        );
        expect(r.exitCode).toBe(0);
        expect(r.stdout.startsWith('FIRST')).toBe(true);
        expect(r.stdout.trimEnd().endsWith('LAST')).toBe(true);
        expect(r.stdoutTruncatedBytes).toBeGreaterThan(199_000_000);
        expect(r.stdout.length).toBeLessThan(70 * 1024);
        expect(r.stdout).toContain('bytes of output cut');
      }, 90_000);

      test('double-forked survivors die with the sandbox', async () => {
        const sb = await sandbox();
        // Unique per run: other test files run this suite at the same time on the same host.
        const marker = `sleep ${700_000 + randomInt(100_000)}`;
        const r = await sh(
          sb,
          `(setsid sh -c "${marker} >/dev/null 2>&1 &" &); sleep 0.2; echo started`,
        );
        expect(r.stdout).toContain('started');
        const before = await hostProcessesMatching(marker);
        expect(before.length).toBeGreaterThan(0);
        await sb.destroy();
        expect(await hostProcessesMatching(marker)).toEqual([]);
      });

      test('signals cannot leave the sandbox: kill -9 -1 hurts only the sandbox', async () => {
        const sb = await sandbox();
        await sh(sb, 'kill -9 -1');
        expect(process.kill(process.pid, 0)).toBe(true);
        const other = await sandbox();
        expect((await other.exec(['echo', 'fine'])).stdout).toBe('fine\n');
      });
    });
  });
}

/** Host pids whose command line contains `needle` (the test's view of what survived). */
export async function hostProcessesMatching(needle: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = (await readFile(`/proc/${name}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
      if (cmd === needle || cmd.startsWith(`${needle} `) || cmd === `sh -c ${needle}`)
        found.push(Number(name));
    } catch {
      // exited
    }
  }
  return found;
}

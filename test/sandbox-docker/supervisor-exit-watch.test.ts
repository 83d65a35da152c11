// The C supervisor's stand-in for pidfd_open (a SIGCHLD self-pipe; gVisor's runsc before 2023 has
// no pidfd_open): forced on with RINGFENCE_EXIT_WATCH=sigchld, it must give the events of pidfds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { missingBubblewrap } from '../helpers/capabilities.js';

const C_SUPERVISOR = join(resolve(import.meta.dirname, '..', '..'), 'build', 'rf-supervisor');
const unavailable =
  missingBubblewrap() ??
  (existsSync(C_SUPERVISOR)
    ? undefined
    : 'build/rf-supervisor is not built (run scripts/build-supervisor.sh)');
if (unavailable) process.stderr.write(`SKIP supervisor exit watch: ${unavailable}\n`);

type Mode = 'pidfd' | 'sigchld';
type Request = Record<string, unknown> & { op: string; id: number };
interface Outcome {
  stdout: string;
  stderr: string;
  final: Record<string, unknown>;
}

const WS = '/workspace';
const ENV = { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' };
const sh = (id: number, script: string): Request => ({
  op: 'exec',
  id,
  argv: ['/bin/sh', '-c', script],
  env: ENV,
  cwd: WS,
  stdin: false,
});
const exec = (id: number, argv: string[], extra: Record<string, unknown> = {}): Request => ({
  op: 'exec',
  id,
  argv,
  env: ENV,
  cwd: WS,
  stdin: false,
  ...extra,
});
const CONCURRENT = Array.from({ length: 20 }, (_, i) => 100 + i);

const REQUESTS: Request[] = [
  sh(1, 'echo out; echo err >&2; exit 3'),
  exec(2, ['cat'], { stdin: true }),
  { op: 'stdin', id: 2, data: Buffer.from('from stdin\n').toString('base64') },
  { op: 'stdin_end', id: 2 },
  exec(3, ['no-such-cmd']),
  sh(4, 'kill -TERM $$'),
  exec(5, ['sleep', '100']),
  { op: 'kill', id: 5, sig: 9 },
  sh(6, 'sleep 30 & echo bg'),
  exec(7, []),
  exec(8, ['pwd'], { cwd: '/nonexistent' }),
  // SigCgt of the supervisor (this exec's parent): bit 16 is SIGCHLD.
  sh(9, 'sed -n "s/^SigCgt:\\t//p" /proc/$PPID/status'),
  ...CONCURRENT.map((id) => sh(id, `exit ${id - 100}`)),
  { op: 'ping', id: 200 },
];

/** Runs the C supervisor in a minimal bwrap (its own pid namespace), feeds REQUESTS. */
function runSupervisor(mode: Mode, workspace: string): Promise<Map<number, Outcome>> {
  const image = ['--ro-bind', '/usr', '/usr'];
  for (const entry of ['/bin', '/sbin', '/lib', '/lib64']) {
    if (!existsSync(entry)) continue;
    if (lstatSync(entry).isSymbolicLink()) image.push('--symlink', `usr${entry}`, entry);
    else image.push('--ro-bind', entry, entry);
  }
  const args = [
    ...['--unshare-all', '--unshare-user', '--uid', '1000', '--gid', '1000'],
    ...['--die-with-parent', '--new-session', '--clearenv', ...image],
    ...['--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--bind', workspace, WS],
    ...(mode === 'sigchld' ? ['--setenv', 'RINGFENCE_EXIT_WATCH', 'sigchld'] : []),
    ...['--ro-bind', C_SUPERVISOR, '/.rf/supervisor', '--chdir', WS, '--', '/.rf/supervisor'],
  ];
  const open = new Set(
    REQUESTS.filter((r) => !['stdin', 'stdin_end', 'kill'].includes(r.op)).map((r) => r.id),
  );
  const byId = new Map<number, Outcome>();
  const raw = new Map<number, { out: Buffer[]; err: Buffer[] }>();
  const child = spawn('bwrap', args, { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${mode}: no answer for ${[...open]}`)), 20_000);
    let buffer = '';
    child.once('error', rej);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const ev = JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>;
        buffer = buffer.slice(nl + 1);
        if (ev.ev === 'ready') {
          child.stdin.write(REQUESTS.map((r) => `${JSON.stringify(r)}\n`).join(''));
          continue;
        }
        const id = ev.id as number;
        const o = raw.get(id) ?? { out: [], err: [] };
        raw.set(id, o);
        if (ev.ev === 'out')
          (ev.fd === 1 ? o.out : o.err).push(Buffer.from(ev.data as string, 'base64'));
        else if (ev.ev === 'exit' || ev.ev === 'result') {
          const stdout = Buffer.concat(o.out).toString();
          byId.set(id, { stdout, stderr: Buffer.concat(o.err).toString(), final: ev });
          open.delete(id);
        }
      }
      if (open.size === 0) child.stdin.end(); // the host going away ends the session
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (open.size > 0) rej(new Error(`${mode} exited ${code} with ${[...open]} open`));
      else res(byId);
    });
  });
}

describe.skipIf(Boolean(unavailable))('C supervisor without pidfd_open (SIGCHLD pipe)', () => {
  const results: Partial<Record<Mode, Map<number, Outcome>>> = {};
  let base = '';
  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'rf-exitwatch-'));
    for (const mode of ['pidfd', 'sigchld'] as const) {
      const ws = mkdtempSync(join(base, `${mode}-`));
      results[mode] = await runSupervisor(mode, ws);
    }
  });
  afterAll(() => {
    if (base) rmSync(base, { recursive: true, force: true });
  });
  const outcome = (mode: Mode, id: number): Outcome => {
    const o = results[mode]?.get(id);
    if (!o) throw new Error(`${mode}: no events for ${id}`);
    return o;
  };

  it('the stand-in is really in use: the supervisor catches SIGCHLD only then', () => {
    const sigcgt = (mode: Mode) => BigInt(`0x${outcome(mode, 9).stdout.trim()}`);
    expect(sigcgt('sigchld') & 0x10000n).toBe(0x10000n);
    expect(sigcgt('pidfd') & 0x10000n).toBe(0n);
  });

  it('exit codes, signals, output, stdin, kill and spawn failures are reported', () => {
    const m = 'sigchld';
    expect(outcome(m, 1)).toEqual({
      stdout: 'out\n',
      stderr: 'err\n',
      final: { ev: 'exit', id: 1, code: 3, signal: null },
    });
    expect(outcome(m, 2).stdout).toBe('from stdin\n');
    expect(outcome(m, 3).final.code).toBe(127);
    expect(outcome(m, 3).stderr).toBe(
      'ringfence: cannot run no-such-cmd: No such file or directory\n',
    );
    expect(outcome(m, 4).final).toMatchObject({ code: 143, signal: 'SIGTERM' });
    expect(outcome(m, 5).final).toMatchObject({ code: 137, signal: 'SIGKILL' });
    // A background child holding the pipes does not hold the exec.
    expect(outcome(m, 6)).toMatchObject({ stdout: 'bg\n', final: { code: 0 } });
    expect(outcome(m, 7).final.code).toBe(126);
    expect(outcome(m, 8).final.code).toBe(127);
    for (const id of CONCURRENT) expect(outcome(m, id).final.code).toBe(id - 100);
    expect(outcome(m, 200).final).toMatchObject({ ev: 'result', ok: true });
  });

  it('every request gets the same events as with pidfds', () => {
    for (const req of REQUESTS) {
      if (['stdin', 'stdin_end', 'kill'].includes(req.op) || req.id === 9) continue;
      expect(outcome('sigchld', req.id), `request ${req.id}`).toEqual(outcome('pidfd', req.id));
    }
  });
});

// Both in-sandbox supervisors stay covered: the driver suite against the Python one (bubblewrap.test.ts
// runs the default, C when built), and a request-by-request diff of the C protocol against supervisor.py.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BubblewrapDriver } from '../../src/sandbox/bubblewrap/bubblewrap-driver.js';
import { policySchema } from '../../src/policy/policy-schema.js';
import { missingBubblewrap } from '../helpers/capabilities.js';
import { runDriverSuite } from './driver-suite.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const PY_SUPERVISOR = join(ROOT, 'src', 'sandbox', 'bubblewrap', 'supervisor.py');
const C_SUPERVISOR = join(ROOT, 'build', 'rf-supervisor');

const wanted = !process.env.DRIVERS || process.env.DRIVERS.split(',').includes('bubblewrap');
const unavailable = wanted ? missingBubblewrap() : 'not selected by DRIVERS';
const cUnavailable =
  unavailable ??
  (existsSync(C_SUPERVISOR)
    ? undefined
    : 'build/rf-supervisor is not built (run scripts/build-supervisor.sh)');

// The fallbacks together: supervisor.py, launched by the shell stub (sh + setpriv).
runDriverSuite({
  name: 'bubblewrap (python supervisor, shell stub)',
  createDriver: async () => new BubblewrapDriver({ supervisor: 'python', stub: 'shell' }),
  ...(unavailable ? { unavailable } : {}),
});

type Request = Record<string, unknown> & { op: string; id: number };
/** c-sigchld: the C supervisor with its pidfd_open stand-in forced (runsc 2022 has no pidfd_open). */
type Kind = 'c' | 'c-sigchld' | 'python';
const SIGCGT_ID = 45;
interface Outcome {
  stdout: string;
  stderr: string;
  final: Record<string, unknown>;
}

/** Fills a workspace with the names and links the file operations must handle. */
function makeWorkspace(dir: string): void {
  writeFileSync(join(dir, 'a.txt'), 'hello world');
  for (const name of ['sp ace', 'quo"te', 'back\\slash', 'nl\nname', 'tab\tctl\x01', 'é-ü-😀'])
    writeFileSync(join(dir, name), name);
  writeFileSync(Buffer.concat([Buffer.from(`${dir}/raw-`), Buffer.from([0xff, 0xfe])]), 'raw');
  mkdirSync(join(dir, 'd'));
  symlinkSync('/etc', join(dir, 'd', 'etc-dir'));
  symlinkSync('../../etc', join(dir, 'd', 'up2'));
  symlinkSync('/etc/passwd', join(dir, 'out-link'));
  symlinkSync('loop2', join(dir, 'loop1'));
  symlinkSync('loop1', join(dir, 'loop2'));
  symlinkSync('self', join(dir, 'self'));
  symlinkSync('/nonexistent/x', join(dir, 'dangling'));
  symlinkSync('a.txt', join(dir, 'rel'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
}

const WS = '/workspace';
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const sh = (id: number, script: string, extra: Record<string, unknown> = {}): Request => ({
  op: 'exec',
  id,
  argv: ['/bin/sh', '-c', script],
  env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
  cwd: WS,
  stdin: false,
  ...extra,
});

const REQUESTS: Request[] = [
  { op: 'ping', id: 1 },
  { op: 'list', id: 2, path: WS },
  { op: 'read', id: 3, path: `${WS}/a.txt`, max: 10485760 },
  { op: 'read', id: 4, path: `${WS}/a.txt`, max: 5 },
  { op: 'read', id: 5, path: `${WS}/out-link`, max: 100 },
  { op: 'read', id: 6, path: `${WS}/loop1`, max: 100 },
  { op: 'read', id: 7, path: `${WS}/fifo`, max: 100 },
  { op: 'read', id: 8, path: `${WS}/missing`, max: 100 },
  { op: 'read', id: 9, path: `${WS}/d`, max: 100 },
  { op: 'read', id: 10, path: `${WS}/rel`, max: 100 },
  { op: 'read', id: 11, path: `${WS}/d/etc-dir/passwd`, max: 100 },
  { op: 'read', id: 12, path: `${WS}/../etc/passwd`, max: 100 },
  { op: 'write', id: 13, path: `${WS}/new.txt`, data: b64('written') },
  { op: 'write', id: 14, path: `${WS}/dangling`, data: b64('x') },
  { op: 'write', id: 15, path: `${WS}/d/etc-dir/evil`, data: b64('x') },
  { op: 'write', id: 16, path: WS, data: b64('x') },
  { op: 'write', id: 17, path: `${WS}/nodir/x`, data: b64('x') },
  { op: 'write', id: 18, path: `${WS}/big.bin`, data: b64(Buffer.alloc(8000)) },
  { op: 'list', id: 19, path: `${WS}/missing` },
  { op: 'list', id: 20, path: `${WS}/a.txt` },
  { op: 'list', id: 21, path: '/proc/self/root' },
  { op: 'read', id: 22, path: `${WS}/é-ü-😀`, max: 100 },
  { op: 'read', id: 23, path: `${WS}/raw-\udcff\udcfe`, max: 100 },
  { op: 'read', id: 24, path: `${WS}/self`, max: 100 },
  { op: 'list', id: 25, path: `${WS}/d` },
  { op: 'read', id: 26, path: `${WS}/d/up2/passwd`, max: 100 },
  { op: 'read', id: 27, path: `${WS}/new.txt`, max: 100 },
  sh(30, 'echo out; echo err >&2; exit 3'),
  { op: 'exec', id: 31, argv: ['cat'], env: { PATH: '/usr/bin:/bin' }, cwd: WS, stdin: true },
  { op: 'stdin', id: 31, data: b64('from stdin\n') },
  { op: 'stdin', id: 31, data: b64(Buffer.alloc(200_000, 'z')) },
  { op: 'stdin_end', id: 31 },
  {
    op: 'exec',
    id: 32,
    argv: ['no-such-cmd'],
    env: { PATH: '/usr/bin:/bin' },
    cwd: WS,
    stdin: false,
  },
  { op: 'exec', id: 33, argv: [`${WS}/a.txt`], env: {}, cwd: WS, stdin: false },
  sh(34, 'kill -TERM $$'),
  {
    op: 'exec',
    id: 35,
    argv: ['sleep', '100'],
    env: { PATH: '/usr/bin:/bin' },
    cwd: WS,
    stdin: false,
  },
  { op: 'kill', id: 35, sig: 9 },
  {
    op: 'exec',
    id: 36,
    argv: ['env'],
    env: { RINGFENCE_EXEC_ID: 'spoof', X: 'é 😀' },
    cwd: WS,
    stdin: false,
  },
  sh(
    37,
    'ulimit -f; cat /proc/self/oom_score_adj; read -r a b c d e f rest < /proc/self/stat; [ "$f" = "$$" ] && echo leader; cat /proc/$PPID/environ >/dev/null 2>&1 || echo parent-private',
  ),
  sh(38, 'head -c 8000 /dev/zero > big2; echo rc=$?'),
  {
    op: 'exec',
    id: 39,
    argv: ['pwd'],
    env: { PATH: '/usr/bin:/bin' },
    cwd: `${WS}/d`,
    stdin: false,
  },
  {
    op: 'exec',
    id: 40,
    argv: ['pwd'],
    env: { PATH: '/usr/bin:/bin' },
    cwd: '/nonexistent',
    stdin: false,
  },
  sh(41, 'sleep 30 & echo bg'),
  sh(42, 'seq 1 60000; echo é😀 >&2'),
  sh(43, 'setsid sh -c "sleep 300" & sleep 0.2; echo spawned'),
  { op: 'ping', id: 44 },
  // SigCgt of the supervisor (this exec's parent): bit 16 is SIGCHLD (differs by kind, not compared).
  sh(SIGCGT_ID, 'sed -n "s/^SigCgt:\\t//p" /proc/$PPID/status'),
  ...Array.from({ length: 20 }, (_, i) => sh(100 + i, `exit ${i}`)),
];

/** Runs one supervisor in a minimal bwrap over `workspace`, feeds REQUESTS, groups events by id. */
function runSupervisor(
  kind: Kind,
  workspace: string,
): Promise<{ byId: Map<number, Outcome>; started: Set<number>; exitCode: number | null }> {
  const image = ['--ro-bind', '/usr', '/usr'];
  for (const entry of ['/bin', '/sbin', '/lib', '/lib64']) {
    if (!existsSync(entry)) continue;
    if (lstatSync(entry).isSymbolicLink()) image.push('--symlink', `usr${entry}`, entry);
    else image.push('--ro-bind', entry, entry);
  }
  const command =
    kind !== 'python'
      ? [
          ...(kind === 'c-sigchld' ? ['--setenv', 'RINGFENCE_EXIT_WATCH', 'sigchld'] : []),
          ...['--ro-bind', C_SUPERVISOR, '/.rf/supervisor', '--', '/.rf/supervisor'],
        ]
      : [
          '--ro-bind',
          PY_SUPERVISOR,
          '/.rf/s.py',
          '--',
          '/usr/bin/python3',
          '-I',
          '-S',
          '-B',
          '/.rf/s.py',
        ];
  const args = [
    ...['--unshare-all', '--unshare-user', '--uid', '1000', '--gid', '1000'],
    ...['--die-with-parent', '--new-session', '--clearenv', ...image],
    ...['--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--bind', workspace, WS],
    ...['--setenv', 'RINGFENCE_RLIMITS', 'fsize=4096,core=0', '--chdir', WS, ...command],
  ];
  const terminal = new Set(REQUESTS.map((r) => r.id));
  const byId = new Map<number, Outcome>();
  const started = new Set<number>();
  const raw = new Map<number, { out: Buffer[]; err: Buffer[] }>();
  const child = spawn('bwrap', args, { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((res, rej) => {
    const timer = setTimeout(
      () => rej(new Error(`${kind}: no answer for ${[...terminal]}`)),
      20_000,
    );
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
        if (ev.ev === 'started') started.add(id);
        else if (ev.ev === 'out') {
          (ev.fd === 1 ? o.out : o.err).push(Buffer.from(ev.data as string, 'base64'));
        } else {
          byId.set(id, {
            stdout: Buffer.concat(o.out).toString(),
            stderr: Buffer.concat(o.err).toString(),
            final: ev,
          });
          terminal.delete(id);
        }
      }
      if (terminal.size === 0) child.stdin.end(); // the host going away ends the session
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (terminal.size > 0) rej(new Error(`${kind} exited ${code} with ${[...terminal]} open`));
      else res({ byId, started, exitCode: code });
    });
  });
}

describe('C supervisor speaks the protocol of supervisor.py', () => {
  const results: Partial<Record<Kind, Awaited<ReturnType<typeof runSupervisor>>>> = {};
  let base = '';
  const test = cUnavailable
    ? (name: string) => it.skip(`${name} (skipped: ${cUnavailable})`, () => undefined)
    : it;

  beforeAll(async () => {
    if (cUnavailable) {
      process.stderr.write(`SKIP supervisor diff: ${cUnavailable}\n`);
      return;
    }
    base = mkdtempSync(join(tmpdir(), 'rf-csup-'));
    for (const kind of ['c', 'c-sigchld', 'python'] as const) {
      const ws = join(base, kind);
      mkdirSync(ws);
      makeWorkspace(ws);
      results[kind] = await runSupervisor(kind, ws);
    }
  });
  afterAll(() => {
    if (base) rmSync(base, { recursive: true, force: true });
  });

  const outcome = (kind: Kind, id: number): Outcome => {
    const o = results[kind]?.byId.get(id);
    if (!o) throw new Error(`${kind}: no events for ${id}`);
    return o;
  };

  /** Listing order is the directory's, not part of the protocol. */
  const norm = (o: Outcome): Outcome => {
    const final = { ...o.final };
    if (Array.isArray(final.entries))
      final.entries = [...(final.entries as { name: string }[])].sort((a, b) =>
        a.name < b.name ? -1 : 1,
      );
    return { ...o, final };
  };

  test('without pidfd_open (its SIGCHLD stand-in) the C supervisor gives the events of pidfds', () => {
    const sigcgt = (kind: Kind) => BigInt(`0x${outcome(kind, SIGCGT_ID).stdout.trim()}`);
    expect(sigcgt('c-sigchld') & 0x10000n).toBe(0x10000n); // the stand-in is really in use
    expect(sigcgt('c') & 0x10000n).toBe(0n);
    for (const req of REQUESTS) {
      if (['stdin', 'stdin_end', 'kill'].includes(req.op) || req.id === SIGCGT_ID) continue;
      expect(norm(outcome('c-sigchld', req.id)), `request ${req.id} (${req.op})`).toEqual(
        norm(outcome('c', req.id)),
      );
    }
    for (let i = 0; i < 20; i++) expect(outcome('c-sigchld', 100 + i).final.code).toBe(i);
  });

  test('every request gets the same events, fields and bytes from both', () => {
    for (const req of REQUESTS) {
      if (req.op === 'stdin' || req.op === 'stdin_end' || req.op === 'kill') continue;
      if (req.id === SIGCGT_ID) continue;
      expect(norm(outcome('c', req.id)), `request ${req.id} (${req.op})`).toEqual(
        norm(outcome('python', req.id)),
      );
      if (req.op === 'exec') expect(results.c?.started.has(req.id)).toBe(true);
    }
  });

  test('file errors carry the errno the host maps: 18 outside, 40 links, 22 special', () => {
    const err = (id: number) => [outcome('c', id).final.errno, outcome('c', id).final.error];
    for (const id of [5, 11, 12, 15, 16, 21, 26])
      expect(err(id)).toEqual([18, 'resolves outside /workspace']);
    for (const id of [6, 14, 24]) expect(err(id)[0]).toBe(40);
    for (const id of [7, 9]) expect(err(id)).toEqual([22, 'not a regular file']);
    expect(err(17)[0]).toBe(2);
    expect(err(18)).toEqual([27, 'File too large']);
    expect(err(20)[0]).toBe(20);
    expect(outcome('c', 4).final).toMatchObject({ ok: true, data: b64('hello'), size: 11 });
    expect(outcome('c', 23).final).toMatchObject({ ok: true, data: b64('raw') });
    expect(outcome('c', 27).final).toMatchObject({ ok: true, data: b64('written') });
  });

  test('list escapes every name so the host reads it back exactly', () => {
    const entries = outcome('c', 2).final.entries as { name: string; type: string }[];
    const names = entries.map((e) => e.name);
    for (const n of ['sp ace', 'quo"te', 'back\\slash', 'nl\nname', 'tab\tctl\x01', 'é-ü-😀'])
      expect(names).toContain(n);
    expect(names).toContain('raw-\udcff\udcfe');
    expect(entries.find((e) => e.name === 'loop1')?.type).toBe('symlink');
    expect(entries.find((e) => e.name === 'd')?.type).toBe('dir');
    expect(entries.find((e) => e.name === 'fifo')?.type).toBe('other');
  });

  test('execs: exit codes, signals, stdin, tag, session, limits, drain', () => {
    expect(outcome('c', 30)).toEqual({
      stdout: 'out\n',
      stderr: 'err\n',
      final: { ev: 'exit', id: 30, code: 3, signal: null },
    });
    expect(outcome('c', 31).stdout).toBe(`from stdin\n${'z'.repeat(200_000)}`);
    expect(outcome('c', 32).final.code).toBe(127);
    expect(outcome('c', 32).stderr).toBe(
      'ringfence: cannot run no-such-cmd: No such file or directory\n',
    );
    expect(outcome('c', 33).final.code).toBe(126);
    expect(outcome('c', 34).final).toMatchObject({ code: 143, signal: 'SIGTERM' });
    expect(outcome('c', 35).final).toMatchObject({ code: 137, signal: 'SIGKILL' });
    expect(outcome('c', 36).stdout).toBe('RINGFENCE_EXEC_ID=36\nX=é 😀\n');
    expect(outcome('c', 37).stdout).toBe('8\n0\nleader\nparent-private\n');
    expect(outcome('c', 38).stdout).toBe('rc=1\n');
    expect(outcome('c', 39).stdout).toBe('/workspace/d\n');
    expect(outcome('c', 40).final.code).toBe(127);
    expect(outcome('c', 41)).toMatchObject({ stdout: 'bg\n', final: { code: 0 } });
    expect(outcome('c', 42).stdout.split('\n')).toHaveLength(60_001);
  });

  test('the session ends with exit 0 when the host closes stdin', () => {
    expect(results.c?.exitCode).toBe(0);
    expect(results.python?.exitCode).toBe(0);
  });
});

describe('supervisor choice', () => {
  const cases = [
    ['the default driver runs the built C supervisor', {}, '/.ringfence/supervisor '],
    ["supervisor: 'python' runs supervisor.py", { supervisor: 'python' }, 'supervisor.py'],
  ] as const;
  for (const [name, options, expected] of cases) {
    const reason = cUnavailable;
    if (reason) {
      it.skip(`${name} (skipped: ${reason})`, () => undefined);
      continue;
    }
    it(name, async () => {
      const driver = new BubblewrapDriver(options);
      const workspace = mkdtempSync(join(tmpdir(), 'rf-csup-choice-'));
      try {
        const sb = await driver.create({ workspace, policy: policySchema.parse({}) });
        const r = await sb.exec(['/bin/sh', '-c', 'tr "\\0" " " < /proc/$PPID/cmdline']);
        expect(r.stdout).toContain(expected);
        expect(r.stdout.includes('python')).toBe(expected === 'supervisor.py');
      } finally {
        await driver.close();
        rmSync(workspace, { recursive: true, force: true });
      }
    });
  }
});

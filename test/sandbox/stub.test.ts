// The process that becomes a sandbox's bwrap: build/rf-stub (stub.c) run directly, and the stub a
// one-shot command starts before it has read its configuration (early-stub.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { detectCgroups } from '../../src/sandbox/cgroups.js';
import { discardStub } from '../../src/sandbox/bubblewrap/bwrap-launcher.js';
import {
  discardPrestartedStub,
  prestartDefaultStub,
  stubOptionsFor,
  takePrestartedStub,
  which,
} from '../../src/sandbox/bubblewrap/early-stub.js';
import { stubBinary, usesCSupervisor } from '../../src/sandbox/supervisor-choice.js';
import { execOnBubblewrap } from '../../src/cli/sandbox-prestart.js';
import { missingBubblewrap, missingRoot, reportSkip } from '../helpers/capabilities.js';

const STUB = resolve(import.meta.dirname, '..', '..', 'build', 'rf-stub');
const noStub = existsSync(STUB)
  ? undefined
  : 'build/rf-stub is not built (scripts/build-supervisor.sh)';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs rf-stub with fd 4 as a pipe that gets `go` (or just EOF). */
function runStub(args: string[], go: string | undefined): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(STUB, args, { stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const goFd = child.stdio[4] as NodeJS.WritableStream;
    goFd.on('error', () => undefined); // a stub that refused its arguments never reads it
    if (go !== undefined) goFd.end(go);
    else goFd.end();
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

const field = (status: string, name: string): string =>
  new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';

describe.skipIf(reportSkip('rf-stub', noStub))('rf-stub', () => {
  it('execs the command only after the go line, with the fds it was given', async () => {
    const r = await runStub(['--', '/bin/sh', '-c', 'echo ran; ls /proc/self/fd'], 'go\n');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('ran');
    // fd 4 (the go pipe) is closed before the exec; 0-2 stay.
    expect(r.stdout.split('\n').slice(1)).not.toContain('4');
  });

  it('exits 0 without running anything when fd 4 reaches EOF (ringfence gone)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rf-stub-'));
    const marker = join(dir, 'ran');
    const r = await runStub(['--', '/bin/sh', '-c', `touch ${marker}`], undefined);
    expect(r.code).toBe(0);
    expect(existsSync(marker)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(reportSkip('rf-stub --drop', missingRoot()))(
    'drops root for the given uid and gid with no supplementary groups and no way back',
    async () => {
      const r = await runStub(
        ['--drop', '1234567', '7654321', '--', '/bin/cat', '/proc/self/status'],
        'go\n',
      );
      expect(r.code).toBe(0);
      expect(field(r.stdout, 'Uid').split(/\s+/)).toEqual(Array(4).fill('1234567'));
      expect(field(r.stdout, 'Gid').split(/\s+/)).toEqual(Array(4).fill('7654321'));
      expect(field(r.stdout, 'Groups')).toBe('');
      expect(field(r.stdout, 'CapEff')).toBe('0000000000000000');
    },
  );

  it('refuses to run when it cannot join a cgroup, and rejects bad arguments', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rf-stub-'));
    const r = await runStub(
      ['--join', join(dir, 'missing', 'cgroup.procs'), '--', '/bin/true'],
      'go\n',
    );
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('cannot open');
    expect((await runStub(['--drop', '0', '0', '--', '/bin/true'], 'go\n')).code).toBe(2);
    expect((await runStub(['--drop', '12x', '5', '--', '/bin/true'], 'go\n')).code).toBe(2);
    expect((await runStub(['--bogus', '--', '/bin/true'], 'go\n')).code).toBe(2);
    expect((await runStub(['--'], 'go\n')).code).toBe(2);
    rmSync(dir, { recursive: true, force: true });
  });

  it('joins every --join file before waiting (its pid is written there)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rf-stub-'));
    const files = ['a', 'b'].map((n) => join(dir, n));
    for (const f of files) writeFileSync(f, '');
    const r = await runStub(
      [...files.flatMap((f) => ['--join', f]), '--', '/bin/sh', '-c', 'echo $$'],
      'go\n',
    );
    expect(r.code).toBe(0);
    // exec keeps the pid: what the stub wrote is the pid of the command it became.
    for (const f of files) expect(readFileSync(f, 'utf8')).toBe(r.stdout);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('which command lines prestart a bubblewrap stub', () => {
  it('only `sandbox exec` that may run on bubblewrap and asks for no help', () => {
    expect(execOnBubblewrap(['sandbox', 'exec', '--', 'true'])).toBe(true);
    expect(execOnBubblewrap(['--env', 'prod', 'sandbox', 'exec', '--', 'true'])).toBe(true);
    expect(execOnBubblewrap(['sandbox', 'exec', '--driver', 'bubblewrap', '--', 'x'])).toBe(true);
    expect(execOnBubblewrap(['sandbox', 'exec', '--', 'sh', '--help'])).toBe(true);
    expect(execOnBubblewrap(['sandbox', 'exec', '--driver', 'docker', '--', 'true'])).toBe(false);
    expect(execOnBubblewrap(['sandbox', 'exec', '--driver=gvisor', '--', 'true'])).toBe(false);
    expect(execOnBubblewrap(['sandbox', 'exec', '--help'])).toBe(false);
    expect(execOnBubblewrap(['sandbox', '--help'])).toBe(false);
    expect(execOnBubblewrap(['run', 'exec'])).toBe(false);
    expect(execOnBubblewrap([])).toBe(false);
  });
});

/** Polls `check` until it holds (the stub joins its cgroups on its own, after the spawn). */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  return check();
}

describe.skipIf(
  reportSkip('prestarted stub', missingRoot() ?? missingBubblewrap() ?? detectCgroups().problem),
)('a stub prestarted before the configuration is read', () => {
  afterEach(() => discardPrestartedStub());
  const defaults = () =>
    stubOptionsFor(
      which('bwrap')!,
      which('python3'),
      usesCSupervisor(),
      detectCgroups(),
      stubBinary(),
    );

  it('is handed out once, to a driver that wants exactly that stub, already in its cgroups', async () => {
    const started = prestartDefaultStub();
    expect(started).toBeDefined();
    const procs = started!.cgroup!.procsFiles;
    const pid = String(started!.child.pid);
    expect(await eventually(() => procs.every((f) => readFileSync(f, 'utf8').includes(pid)))).toBe(
      true,
    );
    expect(await takePrestartedStub({ ...defaults(), command: ['/other'] })).toBeUndefined();
    const taken = await takePrestartedStub(defaults());
    expect(taken).toBe(started);
    expect(await takePrestartedStub(defaults())).toBeUndefined();
    await discardStub(taken!);
    expect(procs.some((f) => existsSync(f))).toBe(false);
  });

  it('is killed and its cgroups removed when nothing takes it', async () => {
    const started = prestartDefaultStub()!;
    const exited = new Promise((r) => started.child.once('exit', r));
    await discardPrestartedStub();
    await exited;
    expect(started.cgroup!.procsFiles.some((f) => existsSync(f))).toBe(false);
    expect(await takePrestartedStub(defaults())).toBeUndefined();
  });
});

// The stub of a one-shot command's sandbox, spawned while the command is still starting up.
// As root a stub first joins the sandbox's fresh cgroups, and on a cgroup-v1 kernel the first
// write to a cgroup.procs file waits for an RCU grace period (~13 ms here). Spawned before the
// configuration is even read, that wait overlaps the CLI's own start-up instead of delaying the
// sandbox. There is at most one per process: it belongs to the process's start-up, not to a driver.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { detectCgroups, type CgroupSupport } from '../cgroups.js';
import { stubBinary, SUPERVISOR_BINARY, usesCSupervisor } from '../supervisor-choice.js';
import { SUPERVISOR_BINARY_PATH, SUPERVISOR_PATH } from './bwrap-args.js';
import { discardStub, spawnStubNow, type Stub, type StubOptions } from './bwrap-launcher.js';

/** A program in the system directories bwrap and the supervisor are taken from. */
export function which(cmd: string): string | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/usr/local/bin']) {
    if (existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** The stub a bubblewrap driver with these settings spawns (the driver and the prestart agree). */
export function stubOptionsFor(
  bwrap: string,
  python: string | undefined,
  supervisorBinary: boolean,
  cgroups: CgroupSupport,
  stub: string | undefined,
): StubOptions {
  const base = { bwrap, cgroups, ...(stub ? { stubBinary: stub } : {}) };
  return supervisorBinary
    ? { ...base, command: [SUPERVISOR_BINARY_PATH], supervisorFile: SUPERVISOR_BINARY }
    : { ...base, command: [python ?? 'python3', '-I', '-S', '-B', SUPERVISOR_PATH] };
}

interface Early {
  key: string;
  stub: Promise<Stub | undefined>;
}
/**
 * The process's one early stub, kept on globalThis: the entry's small prestart bundle
 * (dist/cli/sandbox-prestart.cjs) starts it and the command's own bundle takes it, each with its
 * own copy of this module.
 */
const SLOT = Symbol.for('ringfence.earlyStub');
const slot = globalThis as { [SLOT]?: Early | undefined };

const keyOf = (o: StubOptions): string =>
  JSON.stringify([o.bwrap, o.command, o.supervisorFile ?? '', o.stubBinary ?? '', o.cgroups]);

/**
 * Spawns the stub a default bubblewrap driver will want; nothing when it would gain nothing.
 * @returns the stub started (for inspection; it is handed out by `takePrestartedStub`).
 */
export function prestartDefaultStub(): Stub | undefined {
  // Without root there is no cgroup to join, and a stub alone costs next to nothing.
  if (slot[SLOT] || process.getuid?.() !== 0) return undefined;
  const bwrap = which('bwrap');
  const cgroups = detectCgroups();
  if (!bwrap || cgroups.problem) return undefined;
  let binary: boolean;
  try {
    binary = usesCSupervisor();
  } catch {
    return undefined; // the driver will say what is missing
  }
  const options = stubOptionsFor(bwrap, which('python3'), binary, cgroups, stubBinary());
  let stub: Stub | undefined;
  try {
    stub = spawnStubNow(options); // now, not after the bundle has been evaluated
  } catch {
    return undefined; // the driver spawns its own and reports what fails
  }
  slot[SLOT] = { key: keyOf(options), stub: Promise.resolve(stub) };
  return stub;
}

/**
 * The prestarted stub if it was made for exactly `options` and is still waiting (taken once).
 * @returns undefined when there is none to take: spawn one.
 */
export async function takePrestartedStub(options: StubOptions): Promise<Stub | undefined> {
  const early = slot[SLOT];
  if (!early || early.key !== keyOf(options)) return undefined;
  const { stub: pending } = early;
  slot[SLOT] = undefined;
  const stub = await pending;
  if (stub && stub.child.exitCode === null && stub.child.signalCode === null) return stub;
  if (stub) await discardStub(stub);
  return undefined;
}

/** Discards a prestarted stub nobody took (another driver was configured, a staged workspace). */
export async function discardPrestartedStub(): Promise<void> {
  const pending = slot[SLOT]?.stub;
  slot[SLOT] = undefined;
  const stub = await pending;
  if (stub) await discardStub(stub);
}

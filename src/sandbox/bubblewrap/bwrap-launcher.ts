// Starts the bwrap process of a sandbox in two steps: a *stub* (joined to the sandbox's cgroups,
// already running as the sandbox's host uid) that waits, then `start()` hands it the bwrap
// arguments and data and lets it exec. Joining a cgroup costs several ms on this kernel, so the
// driver keeps a few stubs ready and a sandbox's creation skips that cost.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from '../random-bytes.js';
import { closeSync, openSync } from 'node:fs';
import { SandboxCgroup, type CgroupSupport } from '../cgroups.js';

/** Host uids for sandboxes when ringfence runs as root: a private range, one uid per sandbox. */
const HOST_UID_BASE = 1_200_000_000;
const HOST_UID_SPAN = 1_000_000;

/** fd numbers in the stub (and so in bwrap). */
export const LAUNCH_FDS = {
  seccomp: 3,
  go: 4,
  supervisor: 5,
  passwd: 6,
  group: 7,
  hosts: 8,
  info: 9,
  args: 10,
} as const;

export interface Stub {
  readonly hostUid: number;
  readonly cgroup: SandboxCgroup | undefined;
  readonly child: ChildProcess;
  /** The workspace this stub binds through the private-mount stage, if it was made for one. */
  readonly stagedWorkspace: string | undefined;
}

export interface StubOptions {
  bwrap: string;
  /** The sandbox's command (the supervisor): bwrap wants it on its real argv, after `--`. */
  command: readonly string[];
  cgroups: CgroupSupport;
  /**
   * The supervisor binary: opened here and given to bwrap as its fd, which bwrap reads straight
   * from the file (piping ~800 KiB through this process cost several ms per sandbox).
   */
  supervisorFile?: string;
  /** build/rf-stub (stub.c): the stub without a shell and setpriv, when it is built. */
  stubBinary?: string;
  /** Set when the workspace must be bound at `stageDir` in a private mount namespace first. */
  stage?: { workspace: string; stageDir: string };
}

export interface StartData {
  seccomp: Buffer | null;
  /** The supervisor's bytes; absent when the stub was given `supervisorFile`. */
  supervisor?: Buffer;
  /** /etc/passwd, group and hosts; absent when the prepared /etc has them (system-etc.ts). */
  passwd?: string;
  group?: string;
  hosts?: string;
  /** bwrap options (without `--` and the command, which the stub already has). */
  args: readonly string[];
}

const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * The stub as a shell script (no build/rf-stub, or a workspace to stage): joins the cgroups,
 * waits for go, drops to `hostUid` with setpriv, execs bwrap.
 */
function shellStubArgs(
  procs: readonly string[],
  hostUid: number | undefined,
  bwrap: readonly string[],
  stage: StubOptions['stage'],
): string[] {
  const join =
    'n=$1; shift; i=0; while [ $i -lt $n ]; do echo $$ > "$1" || exit 125; shift; i=$((i+1)); done; ';
  // Wait for the go line on fd 4; EOF (ringfence gone, stub discarded) ends the stub.
  const wait = 'read -r go <&4 || exit 0; exec 4<&-; ';
  const drop =
    hostUid !== undefined
      ? ['/usr/bin/setpriv', `--reuid=${hostUid}`, `--regid=${hostUid}`, '--clear-groups', ...bwrap]
      : [...bwrap];
  return stage
    ? [
        '-c',
        `${join}${wait}exec /usr/bin/unshare --mount --propagation private /bin/sh -c 'mount --bind -- "$0" "$1" && shift && exec "$@"' "$@"`,
        'sh',
        String(procs.length),
        ...procs,
        stage.workspace,
        stage.stageDir,
        ...drop,
      ]
    : ['-c', `${join}${wait}exec "$@"`, 'sh', String(procs.length), ...procs, ...drop];
}

/** Spawns a stub; as root it joins fresh cgroups and drops to a private uid, then waits for go. */
export async function spawnStub(options: StubOptions): Promise<Stub> {
  return spawnStubNow(options);
}

/** `spawnStub` without a turn of the event loop: for a command that is still loading. */
export function spawnStubNow(options: StubOptions): Stub {
  const root = isRoot();
  const hostUid = root
    ? HOST_UID_BASE + (randomBytes(4).readUInt32LE() % HOST_UID_SPAN)
    : (process.getuid?.() ?? 1000);
  let cgroup: SandboxCgroup | undefined;
  if (root && !options.cgroups.problem) {
    try {
      cgroup = SandboxCgroup.createSync(`rf-${randomBytes(6).toString('hex')}`, options.cgroups);
    } catch {
      cgroup = undefined; // limits fall back to rlimits, as without cgroups
    }
  }
  const procs = cgroup?.procsFiles ?? [];
  const bwrap = [options.bwrap, '--args', String(LAUNCH_FDS.args), '--', ...options.command];
  const [file, argv] =
    options.stubBinary && !options.stage
      ? [
          options.stubBinary,
          [
            ...procs.flatMap((p) => ['--join', p]),
            ...(root ? ['--drop', String(hostUid), String(hostUid)] : []),
            '--',
            ...bwrap,
          ],
        ]
      : ['/bin/sh', shellStubArgs(procs, root ? hostUid : undefined, bwrap, options.stage)];
  const stdio: ('pipe' | number)[] = Array<'pipe'>(11).fill('pipe');
  const supervisorFd = options.supervisorFile ? openSync(options.supervisorFile, 'r') : undefined;
  if (supervisorFd !== undefined) stdio[LAUNCH_FDS.supervisor] = supervisorFd;
  let child: ChildProcess;
  try {
    child = spawn(file, argv, { stdio, env: {} });
  } finally {
    // The child holds its own copy; a fresh open per stub, so each bwrap reads from offset 0.
    if (supervisorFd !== undefined) closeSync(supervisorFd);
  }
  for (const s of child.stdio) s?.on('error', () => undefined);
  return { hostUid, cgroup, child, stagedWorkspace: options.stage?.workspace };
}

/** Hands the stub its bwrap arguments and data, then lets it exec bwrap. */
export function startStub(stub: Stub, data: StartData): void {
  const stdio = stub.child.stdio as unknown as (NodeJS.WritableStream | null)[];
  const end = (fd: number, payload: Buffer | string): void => {
    stdio[fd]?.end(payload);
  };
  if (data.seccomp) end(LAUNCH_FDS.seccomp, data.seccomp);
  else end(LAUNCH_FDS.seccomp, '');
  if (data.supervisor) end(LAUNCH_FDS.supervisor, data.supervisor);
  end(LAUNCH_FDS.passwd, data.passwd ?? '');
  end(LAUNCH_FDS.group, data.group ?? '');
  end(LAUNCH_FDS.hosts, data.hosts ?? '');
  end(LAUNCH_FDS.args, Buffer.from(data.args.map((a) => `${a}\0`).join('')));
  end(LAUNCH_FDS.go, 'go\n');
}

/** Kills a stub that will not be used and removes its cgroups. */
export async function discardStub(stub: Stub): Promise<void> {
  stub.child.kill('SIGKILL');
  await stub.cgroup?.remove().catch(() => undefined);
}

/**
 * A few ready things (stubs, warm sandboxes) kept in advance: `take()` hands one out and refills
 * in the background; nothing is ever handed out twice; `close()` discards what is left.
 */
export class ReadyPool<T> {
  readonly #size: number;
  readonly #make: () => Promise<T>;
  readonly #discard: (item: T) => Promise<void>;
  readonly #usable: (item: T) => boolean;
  readonly #ready: T[] = [];
  readonly #fills = new Set<Promise<void>>();
  #closed = false;

  constructor(
    size: number,
    make: () => Promise<T>,
    discard: (item: T) => Promise<void>,
    usable: (item: T) => boolean,
  ) {
    this.#size = size;
    this.#make = make;
    this.#discard = discard;
    this.#usable = usable;
  }

  /** A ready item, or undefined when none is (the caller makes one itself). */
  take(): T | undefined {
    let item = this.#ready.shift();
    while (item !== undefined && !this.#usable(item)) {
      void this.#discard(item);
      item = this.#ready.shift();
    }
    this.#refill();
    return item;
  }

  /** Starts filling without taking anything. */
  warm(): void {
    this.#refill();
  }

  #refill(): void {
    while (!this.#closed && this.#ready.length + this.#fills.size < this.#size) {
      const fill: Promise<void> = this.#make()
        .then(async (item) => {
          if (this.#closed) await this.#discard(item);
          else this.#ready.push(item);
        })
        .catch(() => undefined)
        .finally(() => this.#fills.delete(fill));
      this.#fills.add(fill);
    }
  }

  /** Discards what is ready and waits for fills in flight (they discard themselves). */
  async close(): Promise<void> {
    this.#closed = true;
    const items = this.#ready.splice(0);
    await Promise.all([...items.map((i) => this.#discard(i)), ...this.#fills]);
  }
}

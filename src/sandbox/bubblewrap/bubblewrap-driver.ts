// The bubblewrap driver: the default "sandbox runtime" tier on Linux. One long-lived bwrap
// process per sandbox runs the supervisor; each exec is a fork inside it, not a new bwrap.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from '../random-bytes.js';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SandboxError } from '../../errors.js';
import type { CreateSandboxOptions, DriverProbe, Sandbox, SandboxDriver } from '../driver.js';
import { detectCgroups, type CgroupSupport, type SandboxCgroup } from '../cgroups.js';
import { LIMIT_DEFAULTS } from '../../policy/limit-defaults.js';
import { chownTree, traversableBy } from '../ownership.js';
import {
  newSandboxId,
  prepareWorkspace,
  probeSandboxRun,
  protectSupervisor,
} from '../sandbox-setup.js';
import { seccompProgram } from '../seccomp-bpf.js';
import { buildBwrapArgs, GROUP, HOSTS, PASSWD } from './bwrap-args.js';
import { BubblewrapSandbox } from './bubblewrap-sandbox.js';
import {
  discardStub,
  LAUNCH_FDS,
  ReadyPool,
  spawnStub,
  startStub,
  type Stub,
  type StubOptions,
} from './bwrap-launcher.js';
import { stubOptionsFor, takePrestartedStub, which } from './early-stub.js';
import { SupervisorClient } from './supervisor-client.js';
import { ETC_MOUNT_POINTS, systemEtc } from './system-etc.js';
import { Mounter } from './mounter.js';
import {
  stubBinary,
  SUPERVISOR_PY,
  usesCSupervisor,
  type SupervisorChoice,
} from '../supervisor-choice.js';

/**
 * Empty, world-traversable mount point. As root, each sandbox gets a private mount namespace in
 * which its workspace is bound here, so bwrap (running as the sandbox's unprivileged host uid)
 * can reach a workspace whose parents it could not traverse (e.g. under /root). The mount dies
 * with the sandbox; nothing is left on the host.
 */
const STAGE_DIR = '/run/ringfence/stage';

/** Prepared copies of the sandbox's /etc (system-etc.ts). */
const SYSTEM_ETC_DIR = '/run/ringfence/system';

/** Warm sandboxes' workspace mount points (shared mounts, one per sandbox, never reused). */
const SLOTS_DIR = '/run/ringfence/slots';
/** The policy disk limit warm sandboxes are started for (the policy default). */
const WARM_DISK_MB = LIMIT_DEFAULTS.diskMb;
const WARM_LIMITS = {
  memoryBytes: LIMIT_DEFAULTS.memoryMb * 1024 * 1024,
  pids: LIMIT_DEFAULTS.pids,
  cpus: LIMIT_DEFAULTS.cpus,
};
/** The supervisor's own environment; every exec gets this plus the caller's env. */
const SUPERVISOR_ENV = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/tmp',
  LANG: 'C.UTF-8',
  TERM: 'dumb',
  USER: 'agent',
};

interface LaunchSpec {
  rlimits: string[];
  tmpBytes: number;
  readOnly: string[];
  writable: string[];
  extraReadOnly: { host: string; sandbox: string }[];
  workspaceSource: string;
}

interface Launched {
  child: ChildProcess;
  client: SupervisorClient;
  cgroup: SandboxCgroup | undefined;
  initPid: number | undefined;
  hostUid: number;
}

/** A sandbox started in advance: its /workspace is `slotDir`, where a workspace gets bound. */
interface WarmSandbox {
  launched: Launched;
  slotDir: string;
}

/** Unmounts a slot (the workspace bound on it, then its own shared bind) and removes it. */
async function releaseSlot(mounter: Mounter, slotDir: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    try {
      await mounter.unmount(slotDir);
    } catch {
      break; // not mounted any more
    }
  }
  await rmdir(slotDir).catch(() => undefined);
}

async function discardWarm(mounter: Mounter, w: WarmSandbox): Promise<void> {
  w.launched.child.kill('SIGKILL');
  await w.launched.cgroup?.remove().catch(() => undefined);
  await releaseSlot(mounter, w.slotDir);
}

export interface BubblewrapDriverOptions {
  bwrapPath?: string;
  pythonPath?: string;
  /** Refuse to run without seccomp (default true): fail closed. */
  requireSeccomp?: boolean;
  /**
   * In-sandbox supervisor: 'c' (build/rf-supervisor), 'python' (supervisor.py) or 'auto'
   * (default): C when built and env RINGFENCE_SUPERVISOR is not 'python', else Python.
   */
  supervisor?: SupervisorChoice;
  /**
   * Stubs kept ready (already in their cgroups, already the sandbox uid) so creation skips the
   * cgroup join. Default 2, or RINGFENCE_PRESPAWN; 0 spawns each on demand.
   */
  prespawn?: number;
  /**
   * The process that becomes bwrap: 'auto' (default) build/rf-stub when built, else a shell
   * script with setpriv; 'shell' always the script (kept covered by the tests).
   */
  stub?: 'auto' | 'shell';
}

export class BubblewrapDriver implements SandboxDriver {
  readonly name = 'bubblewrap' as const;
  readonly #bwrap: string | undefined;
  readonly #python: string | undefined;
  readonly #requireSeccomp: boolean;
  readonly #cgroups: CgroupSupport;
  /** supervisor.py's source; the C supervisor goes to bwrap as a file (StubOptions). */
  readonly #supervisorSource: Buffer | undefined;
  readonly #supervisorBinary: boolean;
  readonly #stubBinary: string | undefined;
  readonly #live = new Set<BubblewrapSandbox>();
  readonly #prespawn: number;
  #stubs: ReadyPool<Stub> | undefined;
  #warm: ReadyPool<WarmSandbox> | undefined;
  #slotsReaped: Promise<void> | undefined;
  #mounterInstance: Mounter | undefined;
  /** Host-side cleanup of destroyed sandboxes still running; close() waits for it. */
  readonly #cleanups = new Set<Promise<void>>();

  constructor(options: BubblewrapDriverOptions = {}) {
    this.#bwrap = options.bwrapPath ?? which('bwrap');
    this.#python = options.pythonPath ?? which('python3');
    this.#requireSeccomp = options.requireSeccomp ?? true;
    this.#prespawn = options.prespawn ?? Number(process.env.RINGFENCE_PRESPAWN ?? 2);
    this.#cgroups = detectCgroups();
    this.#supervisorBinary = usesCSupervisor(options.supervisor);
    this.#stubBinary = options.stub === 'shell' ? undefined : stubBinary();
    this.#supervisorSource = this.#supervisorBinary ? undefined : readFileSync(SUPERVISOR_PY);
  }

  get cgroupSupport(): CgroupSupport {
    return this.#cgroups;
  }

  async probe(): Promise<DriverProbe> {
    const problems: string[] = [];
    const details: Record<string, string | boolean | number> = {};
    if (!this.#bwrap) problems.push('bwrap not found (apt-get install bubblewrap)');
    else {
      try {
        details.bwrapVersion = execFileSync(this.#bwrap, ['--version'], {
          encoding: 'utf8',
        }).trim();
      } catch (err) {
        problems.push(`bwrap --version failed: ${(err as Error).message}`);
      }
    }
    if (!this.#python && !this.#supervisorBinary)
      problems.push('python3 not found in /usr/bin (the in-sandbox supervisor needs it)');
    details.supervisor = this.#supervisorBinary ? 'c' : 'python';
    details.seccomp = seccompProgram() !== null;
    if (!details.seccomp) problems.push(`no seccomp filter for architecture ${process.arch}`);
    details.userNamespaces = existsSync('/proc/self/ns/user');
    const maxUserNs = existsSync('/proc/sys/user/max_user_namespaces')
      ? Number(readFileSync('/proc/sys/user/max_user_namespaces', 'utf8').trim())
      : 0;
    details.maxUserNamespaces = maxUserNs;
    if (maxUserNs === 0) problems.push('user namespaces disabled (user.max_user_namespaces=0)');
    details.cgroupVersion = this.#cgroups.version ?? 'none';
    details.cgroupControllers = this.#cgroups.controllers.join(',');
    details.limitsVia = this.#cgroups.problem ? 'rlimit' : `cgroup-v${this.#cgroups.version}`;
    if (this.#cgroups.problem)
      details.cgroupProblem = `${this.#cgroups.problem}; falling back to rlimits`;
    details.runsAsRoot = process.getuid?.() === 0;
    if (problems.length === 0)
      await probeSandboxRun(this, join('/tmp', `ringfence-probe-${process.pid}`), problems);
    return { driver: 'bubblewrap', usable: problems.length === 0, details, problems };
  }

  async create(options: CreateSandboxOptions): Promise<Sandbox> {
    if (!this.#bwrap)
      throw new SandboxError(
        'sandbox_unavailable',
        'bubblewrap is not installed (apt-get install bubblewrap)',
      );
    if (!this.#python && !this.#supervisorBinary)
      throw new SandboxError(
        'sandbox_unavailable',
        'python3 is not installed (needed by the in-sandbox supervisor)',
      );
    const seccomp = seccompProgram();
    if (!seccomp && this.#requireSeccomp) {
      throw new SandboxError(
        'sandbox_unavailable',
        `no seccomp filter for ${process.arch}; refusing to run unconfined`,
      );
    }
    options.signal?.throwIfAborted();
    const id = newSandboxId(options.sessionId);
    const { workspace, stat: wsStat } = await prepareWorkspace(options.workspace);

    const { limits, filesystem } = options.policy;
    const isRoot = process.getuid?.() === 0;
    const cgroupLimits = {
      memoryBytes: limits.memoryMb * 1024 * 1024,
      pids: limits.pids,
      cpus: limits.cpus,
    };
    const baseEnv = { ...SUPERVISOR_ENV, ...(options.env ?? {}) };
    const restoreOwner = isRoot ? { uid: wsStat.uid, gid: wsStat.gid } : undefined;

    // A sandbox started in advance serves any policy whose bwrap command line is the template's.
    if (this.#warmEligible(options)) {
      this.#warm ??= new ReadyPool(
        this.#prespawn,
        () => this.#startWarm(),
        (w) => discardWarm(this.#mounter, w),
        (w) => w.launched.child.exitCode === null,
      );
      const warm = this.#warm.take();
      if (warm) {
        try {
          await warm.launched.cgroup?.setLimits(cgroupLimits);
          await chownTree(workspace, warm.launched.hostUid, warm.launched.hostUid);
          // The slot is a shared mount bound at /workspace: this bind propagates into the sandbox.
          await this.#mounter.bind(workspace, warm.slotDir);
        } catch (err) {
          await discardWarm(this.#mounter, warm);
          await chownTree(workspace, wsStat.uid, wsStat.gid).catch(() => undefined);
          throw new SandboxError(
            'sandbox_failed',
            `cannot hand over a warm sandbox: ${(err as Error).message}`,
            { cause: err },
          );
        }
        return this.#track(id, workspace, options, warm.launched, baseEnv, restoreOwner, () =>
          releaseSlot(this.#mounter, warm.slotDir),
        );
      }
    }

    // Only a workspace the sandbox uid cannot reach needs the private-mount-namespace detour;
    // such a stub is made for this workspace, every other sandbox takes a ready one.
    const stage = isRoot && !(await traversableBy(workspace, -1));
    if (stage) {
      await mkdir(STAGE_DIR, { recursive: true });
      await chmod(dirname(STAGE_DIR), 0o711);
    }
    const stubOptions = this.#stubOptions();
    this.#stubs ??= new ReadyPool(
      this.#prespawn,
      () => spawnStub(stubOptions),
      discardStub,
      (st) => st.child.exitCode === null,
    );
    const stub = stage
      ? await spawnStub({ ...stubOptions, stage: { workspace, stageDir: STAGE_DIR } })
      : (this.#stubs.take() ??
        (await takePrestartedStub(stubOptions)) ??
        (await spawnStub(stubOptions)));
    const rlimits = [`fsize=${limits.diskMb * 1024 * 1024}`, 'core=0'];
    try {
      if (stub.cgroup) await stub.cgroup.setLimits(cgroupLimits);
      else rlimits.push(`as=${limits.memoryMb * 1024 * 1024 * 4}`, `nproc=${limits.pids}`);
      if (isRoot) await chownTree(workspace, stub.hostUid, stub.hostUid);
    } catch (err) {
      await discardStub(stub);
      throw new SandboxError(
        'sandbox_failed',
        `cannot prepare sandbox: ${(err as Error).message}`,
        { cause: err },
      );
    }
    let launched: Launched;
    try {
      launched = await this.#launch(stub, {
        rlimits,
        tmpBytes: Math.max(16, Math.min(limits.diskMb, 1024)) * 1024 * 1024,
        readOnly: filesystem.readOnly,
        writable: filesystem.writable,
        extraReadOnly: options.extraReadOnly ?? [],
        workspaceSource: stage ? STAGE_DIR : workspace,
      });
    } catch (err) {
      if (isRoot) await chownTree(workspace, wsStat.uid, wsStat.gid);
      throw err;
    }
    return this.#track(id, workspace, options, launched, baseEnv, restoreOwner, undefined);
  }

  /** The template: everything about a policy that reaches bwrap's command line is the default. */
  #warmEligible(options: CreateSandboxOptions): boolean {
    const { limits, filesystem } = options.policy;
    return (
      this.#prespawn > 0 &&
      process.getuid?.() === 0 &&
      !this.#cgroups.problem &&
      limits.diskMb === WARM_DISK_MB &&
      filesystem.readOnly.length === 0 &&
      filesystem.writable.length === 0 &&
      (options.extraReadOnly ?? []).length === 0
    );
  }

  get #mounter(): Mounter {
    this.#mounterInstance ??= new Mounter(this.#python ?? '/usr/bin/python3');
    return this.#mounterInstance;
  }

  /** Starts a sandbox whose /workspace is an empty shared mount point, limits still unset. */
  async #startWarm(): Promise<WarmSandbox> {
    await mkdir(SLOTS_DIR, { recursive: true, mode: 0o711 });
    await this.#reapSlotsOnce();
    const slotDir = join(SLOTS_DIR, `${process.pid}-${randomBytes(6).toString('hex')}`);
    await mkdir(slotDir);
    try {
      await this.#mounter.bind(slotDir, slotDir);
      await this.#mounter.makeShared(slotDir);
      const stub = await spawnStub(this.#stubOptions());
      // The default policy's limits, so a default-policy session writes none when it adopts it.
      await stub.cgroup?.setLimits(WARM_LIMITS);
      const launched = await this.#launch(stub, {
        rlimits: [`fsize=${WARM_DISK_MB * 1024 * 1024}`, 'core=0'],
        tmpBytes: WARM_DISK_MB * 1024 * 1024,
        readOnly: [],
        writable: [],
        extraReadOnly: [],
        workspaceSource: slotDir,
      });
      // The first read of a fresh cgroup's counters costs ~3 ms (the kernel's first stat flush);
      // pay it here, in the background, not in the session's first exec.
      await launched.cgroup?.counters();
      return { launched, slotDir };
    } catch (err) {
      await releaseSlot(this.#mounter, slotDir);
      throw err;
    }
  }

  /** Slot mounts of ringfence processes that died (pid in the name) are removed, once. */
  async #reapSlotsOnce(): Promise<void> {
    this.#slotsReaped ??= (async () => {
      for (const name of await readdir(SLOTS_DIR).catch(() => [] as string[])) {
        const pid = Number(name.split('-')[0]);
        if (Number.isInteger(pid) && pid !== process.pid && !existsSync(`/proc/${pid}`)) {
          await releaseSlot(this.#mounter, join(SLOTS_DIR, name));
        }
      }
    })();
    await this.#slotsReaped;
  }

  #stubOptions(): StubOptions {
    return stubOptionsFor(
      this.#bwrap!,
      this.#python,
      this.#supervisorBinary,
      this.#cgroups,
      this.#stubBinary,
    );
  }

  /**
   * The prepared /etc (system-etc.ts) for this launch: as root, and when nothing is to be mounted
   * under /etc but its kept mount points (a read-only bind cannot get new ones).
   */
  #etcDir(spec: LaunchSpec): string | undefined {
    if (process.getuid?.() !== 0) return undefined;
    const targets = [
      ...spec.readOnly,
      ...spec.writable,
      ...spec.extraReadOnly.map((e) => e.sandbox),
    ];
    const underEtc = (t: string): boolean => t === '/etc' || t.startsWith('/etc/');
    if (targets.some((t) => underEtc(t) && !ETC_MOUNT_POINTS.includes(t))) return undefined;
    return systemEtc(SYSTEM_ETC_DIR);
  }

  /** Hands a stub the bwrap options and data, lets it exec, and waits for the supervisor. */
  async #launch(stub: Stub, spec: LaunchSpec): Promise<Launched> {
    const seccomp = seccompProgram();
    const { hostUid, cgroup, child } = stub;
    const etcDir = this.#etcDir(spec);
    const args = buildBwrapArgs({
      fds: { ...LAUNCH_FDS, seccomp: seccomp ? LAUNCH_FDS.seccomp : undefined },
      tmpBytes: spec.tmpBytes,
      env: { ...SUPERVISOR_ENV, RINGFENCE_RLIMITS: spec.rlimits.join(',') },
      readOnly: spec.readOnly,
      writable: spec.writable,
      extraReadOnly: spec.extraReadOnly,
      python: this.#python ?? 'python3',
      supervisorBinary: this.#supervisorBinary,
      workspaceSource: spec.workspaceSource,
      ...(etcDir ? { etcDir } : {}),
    });
    startStub(stub, {
      seccomp,
      ...(this.#supervisorSource ? { supervisor: this.#supervisorSource } : {}),
      ...(etcDir ? {} : { passwd: PASSWD, group: GROUP, hosts: HOSTS }),
      args: args.slice(0, args.lastIndexOf('--')),
    });
    const stdio = child.stdio as unknown as (NodeJS.ReadableStream | null)[];
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 8192) stderr += d;
    });
    let info = '';
    stdio[LAUNCH_FDS.info]?.setEncoding('utf8');
    stdio[LAUNCH_FDS.info]?.on('data', (d: string) => (info += d));

    const client = new SupervisorClient(child.stdin!, child.stdout!);
    const spawnFailed = new Promise<never>((_, reject) => {
      child.once('error', (err) =>
        reject(
          new SandboxError('sandbox_failed', `cannot start bwrap: ${err.message}`, { cause: err }),
        ),
      );
      child.once('exit', (code) =>
        reject(
          new SandboxError(
            'sandbox_failed',
            `bwrap exited ${code} before the sandbox was ready: ${stderr.trim()}`,
          ),
        ),
      );
    });
    spawnFailed.catch(() => undefined);
    try {
      await Promise.race([client.ready, spawnFailed]);
    } catch (err) {
      child.kill('SIGKILL');
      await cgroup?.remove();
      throw err;
    }
    const initPid = (JSON.parse(info.trim() || '{}') as { 'child-pid'?: number })['child-pid'];
    const isRoot = process.getuid?.() === 0;
    if (isRoot && initPid) protectSupervisor(initPid);
    return { child, client, cgroup, initPid, hostUid };
  }

  #track(
    id: string,
    workspace: string,
    options: CreateSandboxOptions,
    launched: Launched,
    baseEnv: Record<string, string>,
    restoreOwner: { uid: number; gid: number } | undefined,
    cleanup: (() => Promise<void>) | undefined,
  ): Sandbox {
    const isRoot = process.getuid?.() === 0;
    const sandbox = new BubblewrapSandbox({
      id,
      workspace,
      policy: options.policy,
      process: launched.child,
      client: launched.client,
      cgroup: launched.cgroup,
      initPid: launched.initPid,
      hostUid: isRoot ? launched.hostUid : undefined,
      baseEnv,
      restoreOwner,
      ...(cleanup ? { cleanup } : {}),
      defer: (work) => {
        const p = work().finally(() => this.#cleanups.delete(p));
        this.#cleanups.add(p);
      },
      onDestroyed: (sb) => this.#live.delete(sb),
    });
    this.#live.add(sandbox);
    return sandbox;
  }

  /** Destroys every sandbox this driver created. */
  async close(): Promise<void> {
    await Promise.allSettled([
      ...[...this.#live].map((sb) => sb.destroy()),
      this.#stubs?.close(),
      this.#warm?.close(),
    ]);
    await Promise.allSettled([...this.#cleanups]);
    this.#mounterInstance?.close();
  }
}

// The bubblewrap driver: the default "sandbox runtime" tier on Linux. One long-lived bwrap
// process per sandbox runs the supervisor; each exec is a fork inside it, not a new bwrap.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxError } from '../../errors.js';
import type { CreateSandboxOptions, DriverProbe, Sandbox, SandboxDriver } from '../driver.js';
import { detectCgroups, type CgroupSupport } from '../cgroups.js';
import { chownTree, traversableBy } from '../ownership.js';
import {
  newSandboxId,
  prepareWorkspace,
  probeSandboxRun,
  protectSupervisor,
} from '../sandbox-setup.js';
import { seccompProgram } from '../seccomp-bpf.js';
import {
  buildBwrapArgs,
  GROUP,
  HOSTS,
  PASSWD,
  SUPERVISOR_BINARY_PATH,
  SUPERVISOR_PATH,
} from './bwrap-args.js';
import { BubblewrapSandbox } from './bubblewrap-sandbox.js';
import { discardStub, LAUNCH_FDS, spawnStub, startStub, StubPool } from './bwrap-launcher.js';
import { SupervisorClient } from './supervisor-client.js';

const SUPERVISOR_SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'supervisor.py');
/** The static C supervisor (scripts/build-supervisor.sh); same protocol, no interpreter start-up. */
const SUPERVISOR_BINARY = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'build',
  'rf-supervisor',
);
const SUPERVISOR_BINARY_SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'supervisor.c');
/**
 * Empty, world-traversable mount point. As root, each sandbox gets a private mount namespace in
 * which its workspace is bound here, so bwrap (running as the sandbox's unprivileged host uid)
 * can reach a workspace whose parents it could not traverse (e.g. under /root). The mount dies
 * with the sandbox; nothing is left on the host.
 */
const STAGE_DIR = '/run/ringfence/stage';

export interface BubblewrapDriverOptions {
  bwrapPath?: string;
  pythonPath?: string;
  /** Refuse to run without seccomp (default true): fail closed. */
  requireSeccomp?: boolean;
  /**
   * In-sandbox supervisor: 'c' (build/rf-supervisor), 'python' (supervisor.py) or 'auto'
   * (default): C when built and env RINGFENCE_SUPERVISOR is not 'python', else Python.
   */
  supervisor?: 'auto' | 'c' | 'python';
  /**
   * Stubs kept ready (already in their cgroups, already the sandbox uid) so creation skips the
   * cgroup join. Default 2, or RINGFENCE_PRESPAWN; 0 spawns each on demand.
   */
  prespawn?: number;
}

/** The C supervisor is built and not older than its source (a stale build is never used). */
function binaryIsCurrent(): boolean {
  if (!existsSync(SUPERVISOR_BINARY)) return false;
  const source = SUPERVISOR_BINARY_SOURCE;
  return !existsSync(source) || statSync(source).mtimeMs <= statSync(SUPERVISOR_BINARY).mtimeMs;
}

function which(cmd: string): string | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/usr/local/bin']) {
    if (existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

export class BubblewrapDriver implements SandboxDriver {
  readonly name = 'bubblewrap' as const;
  readonly #bwrap: string | undefined;
  readonly #python: string | undefined;
  readonly #requireSeccomp: boolean;
  readonly #cgroups: CgroupSupport;
  readonly #supervisorSource: Buffer;
  readonly #supervisorBinary: boolean;
  readonly #live = new Set<BubblewrapSandbox>();
  readonly #prespawn: number;
  #pool: StubPool | undefined;

  constructor(options: BubblewrapDriverOptions = {}) {
    this.#bwrap = options.bwrapPath ?? which('bwrap');
    this.#python = options.pythonPath ?? which('python3');
    this.#requireSeccomp = options.requireSeccomp ?? true;
    this.#prespawn = options.prespawn ?? Number(process.env.RINGFENCE_PRESPAWN ?? 2);
    this.#cgroups = detectCgroups();
    const choice = options.supervisor ?? 'auto';
    this.#supervisorBinary =
      choice === 'c' ||
      (choice === 'auto' && process.env.RINGFENCE_SUPERVISOR !== 'python' && binaryIsCurrent());
    if (this.#supervisorBinary && !existsSync(SUPERVISOR_BINARY))
      throw new SandboxError(
        'sandbox_unavailable',
        `${SUPERVISOR_BINARY} is missing (run scripts/build-supervisor.sh)`,
      );
    this.#supervisorSource = readFileSync(
      this.#supervisorBinary ? SUPERVISOR_BINARY : SUPERVISOR_SOURCE,
    );
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
    // Only a workspace the sandbox uid cannot reach needs the private-mount-namespace detour;
    // such a stub is made for this workspace, every other sandbox takes a ready one.
    const stage = isRoot && !(await traversableBy(workspace, -1));
    if (stage) {
      await mkdir(STAGE_DIR, { recursive: true });
      await chmod(dirname(STAGE_DIR), 0o711);
    }
    const stubOptions = { bwrap: this.#bwrap, cgroups: this.#cgroups, command: this.#command() };
    this.#pool ??= new StubPool(this.#prespawn, () => spawnStub(stubOptions));
    const stub = stage
      ? await spawnStub({ ...stubOptions, stage: { workspace, stageDir: STAGE_DIR } })
      : (this.#pool.take() ?? (await spawnStub(stubOptions)));
    const { hostUid, cgroup, child } = stub;
    const rlimits = [`fsize=${limits.diskMb * 1024 * 1024}`, 'core=0'];
    try {
      if (cgroup) {
        await cgroup.setLimits({
          memoryBytes: limits.memoryMb * 1024 * 1024,
          pids: limits.pids,
          cpus: limits.cpus,
        });
      } else {
        rlimits.push(`as=${limits.memoryMb * 1024 * 1024 * 4}`, `nproc=${limits.pids}`);
      }
      if (isRoot) await chownTree(workspace, hostUid, hostUid);
    } catch (err) {
      await discardStub(stub);
      throw new SandboxError(
        'sandbox_failed',
        `cannot prepare sandbox: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const env: Record<string, string> = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: '/tmp',
      LANG: 'C.UTF-8',
      TERM: 'dumb',
      USER: 'agent',
      RINGFENCE_RLIMITS: rlimits.join(','),
    };
    const args = buildBwrapArgs({
      fds: { ...LAUNCH_FDS, seccomp: seccomp ? LAUNCH_FDS.seccomp : undefined },
      tmpBytes: Math.max(16, Math.min(limits.diskMb, 1024)) * 1024 * 1024,
      env,
      readOnly: filesystem.readOnly,
      writable: filesystem.writable,
      extraReadOnly: options.extraReadOnly ?? [],
      python: this.#python ?? 'python3',
      supervisorBinary: this.#supervisorBinary,
      workspaceSource: stage ? STAGE_DIR : workspace,
    });
    startStub(stub, {
      seccomp,
      supervisor: this.#supervisorSource,
      passwd: PASSWD,
      group: GROUP,
      hosts: HOSTS,
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
      if (isRoot) await chownTree(workspace, wsStat.uid, wsStat.gid);
      throw err;
    }
    const initPid = (JSON.parse(info.trim() || '{}') as { 'child-pid'?: number })['child-pid'];
    if (isRoot && initPid) protectSupervisor(initPid);
    const sandbox = new BubblewrapSandbox({
      id,
      workspace,
      policy: options.policy,
      process: child,
      client,
      cgroup,
      initPid,
      hostUid: isRoot ? hostUid : undefined,
      baseEnv: {
        PATH: env.PATH!,
        HOME: env.HOME!,
        LANG: env.LANG!,
        TERM: env.TERM!,
        USER: env.USER!,
        ...(options.env ?? {}),
      },
      restoreOwner: isRoot ? { uid: wsStat.uid, gid: wsStat.gid } : undefined,
      onDestroyed: (sb) => this.#live.delete(sb),
    });
    this.#live.add(sandbox);
    return sandbox;
  }

  /** The supervisor command line inside the sandbox (what buildBwrapArgs puts after `--`). */
  #command(): string[] {
    return this.#supervisorBinary
      ? [SUPERVISOR_BINARY_PATH]
      : [this.#python ?? 'python3', '-I', '-S', '-B', SUPERVISOR_PATH];
  }

  /** Destroys every sandbox this driver created. */
  async close(): Promise<void> {
    await Promise.allSettled([...[...this.#live].map((sb) => sb.destroy()), this.#pool?.close()]);
  }
}

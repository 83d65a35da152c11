// One live bubblewrap sandbox: the supervisor runs as the bwrap process; exec and file operations
// are SupervisedSandbox's, this adds the process teardown, cgroup stats and the pid/uid accessors.
import type { ChildProcess } from 'node:child_process';
import type { SandboxStats } from '../driver.js';
import type { SandboxCgroup } from '../cgroups.js';
import { SupervisedSandbox, type SupervisedSandboxInit } from '../supervised-sandbox.js';

export interface BubblewrapSandboxInit extends SupervisedSandboxInit {
  process: ChildProcess;
  cgroup: SandboxCgroup | undefined;
  initPid: number | undefined;
  hostUid: number | undefined;
  /** Extra host-side cleanup after the process is gone (a warm sandbox's workspace mount). */
  cleanup?: () => Promise<void>;
  /**
   * Runs host-side cleanup (cgroup directories, mounts) after destroy has returned; the driver
   * awaits it on close. Absent: destroy awaits the cleanup itself.
   */
  defer?: (work: () => Promise<void>) => void;
  onDestroyed: (sb: BubblewrapSandbox) => void;
}

export class BubblewrapSandbox extends SupervisedSandbox {
  readonly driver = 'bubblewrap' as const;
  readonly #init: BubblewrapSandboxInit;

  constructor(init: BubblewrapSandboxInit) {
    super(init);
    this.#init = init;
    init.process.once('exit', () => this.supervisorGone());
  }

  /** Host pid of the sandbox's pid-1 (for joining its network namespace). */
  get initPid(): number | undefined {
    return this.#init.initPid;
  }

  get hostUid(): number | undefined {
    return this.#init.hostUid;
  }

  async stats(): Promise<SandboxStats> {
    const usage = await this.#init.cgroup?.usage();
    return {
      memoryBytes: usage?.memoryBytes,
      pids: usage?.pids,
      cpuUsageMs: usage?.cpuUsageMs,
      diskBytes: await this.workspaceBytes(),
      limitsVia: this.#init.cgroup ? (`cgroup-v${this.#init.cgroup.version}` as const) : 'rlimit',
    };
  }

  protected async release(errors: unknown[]): Promise<void> {
    const proc = this.#init.process;
    const exited = this.gone
      ? Promise.resolve()
      : new Promise<void>((r) => proc.once('exit', () => r()));
    proc.stdin?.end();
    proc.kill('SIGKILL');
    await exited;
    // The pid namespace dies with bwrap, but asynchronously: kill whatever is still in the
    // sandbox's cgroup before destroy returns, so nothing of it outlives destroy().
    const { cgroup, cleanup, defer } = this.#init;
    await cgroup?.killAll().catch((e: unknown) => errors.push(e));
    const hostCleanup = async (): Promise<void> => {
      await cgroup?.remove().catch((e: unknown) => errors.push(e));
      await cleanup?.().catch((e: unknown) => errors.push(e));
    };
    if (defer) defer(hostCleanup);
    else await hostCleanup();
  }

  protected forget(): void {
    this.#init.onDestroyed(this);
  }
}

// One live container sandbox (docker or gvisor): the in-sandbox supervisor is the container's
// command, driven over a hijacked attach stream; exec and file ops are SupervisedSandbox's.
import { SandboxError } from '../../errors.js';
import type { DriverName, SandboxStats } from '../driver.js';
import { SupervisedSandbox, type SupervisedSandboxInit } from '../supervised-sandbox.js';
import type { EngineClient, HijackedStream } from './engine-client.js';
import type { ContainerCgroup } from './container-cgroup.js';

export interface DockerSandboxInit extends SupervisedSandboxInit {
  containerId: string;
  driver: DriverName;
  engine: EngineClient;
  stream: HijackedStream;
  cgroup: ContainerCgroup;
  initPid: number | undefined;
  onDestroyed: (sb: DockerSandbox) => void;
}

export class DockerSandbox extends SupervisedSandbox {
  readonly driver: DriverName;
  readonly #init: DockerSandboxInit;

  constructor(init: DockerSandboxInit) {
    super(init);
    this.#init = init;
    this.driver = init.driver;
    init.stream.socket.once('close', () => this.supervisorGone());
  }

  /** Host pid of the container's init process (State.Pid), for joining its network namespace. */
  get initPid(): number | undefined {
    return this.#init.initPid;
  }

  /** The Docker container id. */
  get containerId(): string {
    return this.#init.containerId;
  }

  async stats(): Promise<SandboxStats> {
    const usage = await this.#init.cgroup.usage();
    return {
      memoryBytes: usage.memoryBytes,
      pids: usage.pids,
      cpuUsageMs: usage.cpuUsageMs,
      diskBytes: await this.workspaceBytes(),
      limitsVia: 'container',
    };
  }

  protected async release(errors: unknown[]): Promise<void> {
    await this.#init.engine
      .call('DELETE', `/containers/${this.#init.containerId}?force=true&v=true`)
      .then((r) => {
        if (r.status >= 300 && r.status !== 404)
          errors.push(new Error(`remove container: ${r.status} ${JSON.stringify(r.body)}`));
      })
      .catch((e: unknown) => errors.push(e));
    this.#init.stream.socket.destroy();
    this.#init.client.failAll(
      new SandboxError('sandbox_destroyed', `sandbox ${this.id} destroyed`),
    );
  }

  protected forget(): void {
    this.#init.onDestroyed(this);
  }
}

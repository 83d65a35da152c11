// The docker driver: one hardened container per sandbox through the Engine API over the unix
// socket, with the in-sandbox supervisor as its command. The gvisor driver is this with runsc.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from '../../errors.js';
import { silentLogger, type StorageLogger } from '../../storage/storage-logger.js';
import type {
  CreateSandboxOptions,
  DriverName,
  DriverProbe,
  Sandbox,
  SandboxDriver,
} from '../driver.js';
import { chownTree } from '../ownership.js';
import {
  newSandboxId,
  prepareWorkspace,
  probeSandboxRun,
  protectSupervisor,
} from '../sandbox-setup.js';
import { SupervisorClient } from '../bubblewrap/supervisor-client.js';
import { defaultImageRef } from '../image/image-spec.js';
import { ContainerCgroup } from './container-cgroup.js';
import { containerSpec } from './container-spec.js';
import {
  containerSupervisor,
  type ContainerSupervisor,
  type SupervisorChoice,
} from './container-supervisor.js';
import { DockerSandbox } from './docker-sandbox.js';
import { DEFAULT_DOCKER_SOCKET, EngineClient } from './engine-client.js';
import { dockerSeccompProfile } from './seccomp-profile.js';

const READY_TIMEOUT_MS = 30_000;
const CONTAINER_UID = 1000;

export interface DockerDriverOptions {
  /** Image to run (default: the built default image, ringfence-sandbox:<hash>). */
  image?: string;
  /** OCI runtime registered in dockerd; undefined = the engine's default (runc). */
  runtime?: string;
  socketPath?: string;
  logger?: StorageLogger;
  /** Expiry label written on each container (reaper removes it after); default 24 h. */
  maxLifetimeMs?: number;
  /**
   * In-sandbox supervisor: 'c' (build/rf-supervisor), 'python' (supervisor.py) or 'auto'
   * (default): C when built and env RINGFENCE_SUPERVISOR is not 'python', else Python.
   */
  supervisor?: SupervisorChoice;
}

export class DockerDriver implements SandboxDriver {
  readonly name: DriverName;
  readonly #engine: EngineClient;
  readonly #image: string;
  readonly #runtime: string | undefined;
  readonly #logger: StorageLogger;
  readonly #maxLifetimeMs: number;
  readonly #supervisor: ContainerSupervisor;
  readonly #live = new Set<DockerSandbox>();

  constructor(options: DockerDriverOptions = {}, name: DriverName = 'docker') {
    this.name = name;
    this.#engine = new EngineClient(options.socketPath ?? DEFAULT_DOCKER_SOCKET);
    this.#image = options.image ?? process.env.RINGFENCE_SANDBOX_IMAGE ?? defaultImageRef();
    this.#runtime = options.runtime;
    this.#logger = options.logger ?? silentLogger;
    this.#maxLifetimeMs = options.maxLifetimeMs ?? 24 * 3600 * 1000;
    this.#supervisor = containerSupervisor(options.supervisor);
  }

  /** Which supervisor the containers run ('c' or 'python'). */
  get supervisorKind(): ContainerSupervisor['kind'] {
    return this.#supervisor.kind;
  }

  get image(): string {
    return this.#image;
  }

  get engine(): EngineClient {
    return this.#engine;
  }

  async probe(): Promise<DriverProbe> {
    const problems: string[] = [];
    const details: Record<string, string | boolean | number> = {
      socket: this.#engine.socketPath,
      image: this.#image,
      runtime: this.#runtime ?? 'default',
      supervisor: this.#supervisor.kind,
    };
    if (!existsSync(this.#engine.socketPath)) {
      problems.push(
        `no Docker engine socket at ${this.#engine.socketPath} (run scripts/setup-docker.sh)`,
      );
      return { driver: this.name, usable: false, details, problems };
    }
    try {
      const version = await this.#engine.ok<{ Version: string; ApiVersion: string }>(
        'GET',
        '/version',
      );
      details.engineVersion = version.Version;
      details.apiVersion = version.ApiVersion;
      const info = await this.#engine.ok<{
        Runtimes?: Record<string, unknown>;
        DefaultRuntime?: string;
        CgroupVersion?: string;
      }>('GET', '/info');
      details.runtimes = Object.keys(info.Runtimes ?? {}).join(',');
      details.defaultRuntime = info.DefaultRuntime ?? '';
      details.cgroupVersion = info.CgroupVersion ?? '';
      if (this.#runtime && !(this.#runtime in (info.Runtimes ?? {})))
        problems.push(
          `runtime ${this.#runtime} is not registered in dockerd (scripts/setup-docker.sh)`,
        );
      const image = await this.#engine.call<{ Id?: string; Size?: number }>(
        'GET',
        `/images/${encodeURIComponent(this.#image)}/json`,
      );
      details.imagePresent = image.status === 200;
      if (image.status !== 200)
        problems.push(`image ${this.#image} not built (ringfence image build)`);
      else details.imageSizeMb = Math.round((image.body.Size ?? 0) / 1e6);
    } catch (err) {
      problems.push(`docker engine: ${(err as Error).message}`);
    }
    if (problems.length === 0) {
      const workspace = join('/tmp', `ringfence-probe-${this.name}-${process.pid}`);
      await probeSandboxRun(this, workspace, problems);
    }
    return { driver: this.name, usable: problems.length === 0, details, problems };
  }

  async create(options: CreateSandboxOptions): Promise<Sandbox> {
    options.signal?.throwIfAborted();
    if (!existsSync(this.#engine.socketPath))
      throw new SandboxError(
        'sandbox_unavailable',
        `no Docker engine at ${this.#engine.socketPath} (scripts/setup-docker.sh starts one)`,
      );
    const id = newSandboxId(options.sessionId);
    const { workspace, stat: wsStat } = await prepareWorkspace(options.workspace);
    const isRoot = process.getuid?.() === 0;
    if (isRoot) await chownTree(workspace, CONTAINER_UID, CONTAINER_UID);
    const restoreOwner = isRoot ? { uid: wsStat.uid, gid: wsStat.gid } : undefined;

    const spec = containerSpec({
      id,
      image: this.#image,
      runtime: this.#runtime,
      workspace,
      supervisor: this.#supervisor,
      seccomp: dockerSeccompProfile(),
      options,
      expiresAt: Date.now() + this.#maxLifetimeMs,
    });
    let containerId: string | undefined;
    const fail = async (err: unknown): Promise<never> => {
      if (containerId)
        await this.#engine
          .call('DELETE', `/containers/${containerId}?force=true&v=true`)
          .catch(() => undefined);
      if (restoreOwner)
        await chownTree(workspace, restoreOwner.uid, restoreOwner.gid).catch(() => undefined);
      if (err instanceof SandboxError) throw err;
      throw new SandboxError(
        'sandbox_failed',
        `cannot create ${this.name} sandbox: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    };
    try {
      const created = await this.#engine.call<{ Id?: string; message?: string }>(
        'POST',
        `/containers/create?name=ringfence-${id}`,
        spec,
        options.signal,
      );
      if (created.status === 404)
        throw new SandboxError(
          'sandbox_unavailable',
          `image ${this.#image} not found (ringfence image build): ${created.body.message ?? ''}`,
        );
      if (created.status !== 201 || !created.body.Id)
        throw new SandboxError(
          'sandbox_failed',
          `docker create: ${created.status} ${created.body.message ?? JSON.stringify(created.body)}`,
        );
      containerId = created.body.Id;
      const stream = await this.#engine.hijack(
        `/containers/${containerId}/attach?stream=1&stdin=1&stdout=1&stderr=1`,
      );
      let stderr = '';
      stream.stderr.setEncoding('utf8').on('data', (d: string) => {
        if (stderr.length < 8192) stderr += d;
        this.#logger.debug({ sandbox: id, stderr: d.slice(0, 2000) }, 'sandbox supervisor stderr');
      });
      const client = new SupervisorClient(stream.socket, stream.stdout);
      await this.#engine.ok('POST', `/containers/${containerId}/start`, undefined, options.signal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new SandboxError(
                'sandbox_failed',
                `supervisor not ready after ${READY_TIMEOUT_MS} ms`,
              ),
            ),
          READY_TIMEOUT_MS,
        );
      });
      try {
        await Promise.race([client.ready, timeout]);
      } catch (err) {
        stream.socket.destroy();
        throw new SandboxError(
          'sandbox_failed',
          `${(err as Error).message}${stderr ? `: ${stderr.trim()}` : ''}`,
          { cause: err },
        );
      } finally {
        clearTimeout(timer);
      }
      const inspect = await this.#engine.ok<{ State?: { Pid?: number } }>(
        'GET',
        `/containers/${containerId}/json`,
      );
      const initPid = inspect.State?.Pid || undefined;
      if (isRoot && initPid && !this.#runtime) protectSupervisor(initPid);
      const sandbox = new DockerSandbox({
        id,
        containerId,
        driver: this.name,
        workspace,
        policy: options.policy,
        engine: this.#engine,
        stream,
        client,
        cgroup: new ContainerCgroup(containerId),
        initPid,
        baseEnv: {
          PATH: '/usr/local/bin:/usr/bin:/bin',
          HOME: '/tmp',
          LANG: 'C.UTF-8',
          TERM: 'dumb',
          USER: 'agent',
          ...(options.env ?? {}),
        },
        restoreOwner,
        onDestroyed: (sb) => this.#live.delete(sb),
      });
      this.#live.add(sandbox);
      this.#logger.debug({ sandbox: id, containerId, initPid }, 'container sandbox ready');
      return sandbox;
    } catch (err) {
      return fail(err);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#live].map((sb) => sb.destroy()));
  }
}

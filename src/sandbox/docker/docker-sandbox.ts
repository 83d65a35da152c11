// One live container sandbox (docker or gvisor): the in-sandbox supervisor is the container's
// command, driven over a hijacked attach stream; execs, kills and file operations go through it.
import { chownTree } from '../ownership.js';
import { RingfenceError, SandboxError, PathEscapeError } from '../../errors.js';
import type { Policy } from '../../policy/policy-schema.js';
import type {
  DirEntry,
  DriverName,
  ExecOptions,
  ExecResult,
  LimitHit,
  Sandbox,
  SandboxStats,
} from '../driver.js';
import { OutputCap } from '../output-cap.js';
import { resolveSandboxPath } from '../workspace-path.js';
import { measureDisk } from '../disk-usage.js';
import type { SupervisorClient } from '../bubblewrap/supervisor-client.js';
import type { EngineClient, HijackedStream } from './engine-client.js';
import type { ContainerCgroup } from './container-cgroup.js';

const DISK_CHECK_INTERVAL_MS = 1_000;
const DEFAULT_READ_MAX_BYTES = 10 * 1024 * 1024;

export interface DockerSandboxInit {
  id: string;
  containerId: string;
  driver: DriverName;
  workspace: string;
  policy: Policy;
  engine: EngineClient;
  stream: HijackedStream;
  client: SupervisorClient;
  cgroup: ContainerCgroup;
  initPid: number | undefined;
  baseEnv: Record<string, string>;
  restoreOwner: { uid: number; gid: number } | undefined;
  onDestroyed: (sb: DockerSandbox) => void;
}

export class DockerSandbox implements Sandbox {
  readonly driver: DriverName;
  readonly id: string;
  readonly workspace: string;
  readonly #init: DockerSandboxInit;
  readonly #running = new Set<(hit: LimitHit) => void>();
  #destroying: Promise<void> | undefined;
  #gone = false;

  constructor(init: DockerSandboxInit) {
    this.#init = init;
    this.id = init.id;
    this.driver = init.driver;
    this.workspace = init.workspace;
    init.stream.socket.once('close', () => {
      this.#gone = true;
      init.client.failAll(new SandboxError('sandbox_destroyed', `sandbox ${init.id} is gone`));
    });
  }

  /** Host pid of the container's init process (State.Pid), for joining its network namespace. */
  get initPid(): number | undefined {
    return this.#init.initPid;
  }

  /** The Docker container id. */
  get containerId(): string {
    return this.#init.containerId;
  }

  #assertAlive(): void {
    if (this.#destroying || this.#gone)
      throw new SandboxError('sandbox_destroyed', `sandbox ${this.id} was destroyed`);
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.#assertAlive();
    if (argv.length === 0) throw new RingfenceError('invalid_request', 'exec needs a command');
    const cwd = resolveSandboxPath(options.cwd ?? '/workspace');
    const { limits } = this.#init.policy;
    const maxOutput = options.maxOutputBytes ?? limits.outputBytes;
    const timeoutMs = options.timeoutMs ?? limits.execTimeoutSec * 1000;
    const before = await this.#init.cgroup.counters();
    const started = performance.now();
    const stdout = new OutputCap(maxOutput);
    const stderr = new OutputCap(maxOutput);
    const client = this.#init.client;

    const outcome = await new Promise<{
      code: number;
      signal: string | undefined;
      limit: LimitHit | undefined;
      error?: string;
    }>((resolve) => {
      let limit: LimitHit | undefined;
      let id = 0;
      const stop = (hit: LimitHit): void => {
        limit ??= hit;
        try {
          client.kill(id, 9);
        } catch {
          // supervisor gone: the exec ends with an error below
        }
      };
      const timer = setTimeout(() => stop('timeout'), timeoutMs);
      const diskTimer = setInterval(() => {
        void measureDisk(this.workspace, limits.diskMb * 1024 * 1024).then((over) => {
          if (over) stop('disk limit');
        });
      }, DISK_CHECK_INTERVAL_MS);
      const onAbort = (): void => stop('aborted');
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => {
        clearTimeout(timer);
        clearInterval(diskTimer);
        options.signal?.removeEventListener('abort', onAbort);
        this.#running.delete(stop);
      };
      this.#running.add(stop);
      id = client.exec(
        {
          argv,
          env: { ...this.#init.baseEnv, ...(options.env ?? {}) },
          cwd,
          stdin: options.stdin !== undefined,
        },
        {
          onOutput: (fd, data) => {
            (fd === 1 ? stdout : stderr).push(data);
            (fd === 1 ? options.onStdout : options.onStderr)?.(data);
          },
          onExit: (code, signal) => {
            cleanup();
            resolve({ code, signal, limit });
          },
          onError: (message) => {
            cleanup();
            resolve({
              code: 126,
              signal: undefined,
              limit: limit ?? (this.#destroying ? 'sandbox destroyed' : undefined),
              error: message,
            });
          },
        },
      );
      if (options.signal?.aborted) stop('aborted');
      void this.#feedStdin(id, options.stdin);
    });

    let { limit } = outcome;
    const after = await this.#init.cgroup.counters();
    if (outcome.signal === 'SIGKILL' && after.oomKills > before.oomKills) limit = 'memory limit';
    if (after.pidsMaxHits > before.pidsMaxHits && !limit) limit = 'pids limit';
    if (!limit && (await measureDisk(this.workspace, limits.diskMb * 1024 * 1024)))
      limit = 'disk limit';
    if (!limit && outcome.signal === 'SIGXFSZ') limit = 'disk limit';
    let stderrText = stderr.toString();
    if (outcome.error) stderrText += `ringfence: ${outcome.error}\n`;
    if (limit)
      stderrText += `ringfence: ${limit}${limit === 'timeout' ? ` after ${timeoutMs} ms` : ''}\n`;
    const killed = outcome.signal === 'SIGKILL' || limit === 'timeout' || limit === 'aborted';
    return {
      exitCode: killed ? 137 : outcome.code,
      signal: outcome.signal,
      stdout: stdout.toString(),
      stderr: stderrText,
      stdoutTruncatedBytes: stdout.droppedBytes,
      stderrTruncatedBytes: stderr.droppedBytes,
      limit,
      durationMs: performance.now() - started,
    };
  }

  async #feedStdin(id: number, stdin: ExecOptions['stdin']): Promise<void> {
    if (stdin === undefined) return;
    const client = this.#init.client;
    try {
      if (typeof stdin === 'string' || stdin instanceof Uint8Array) {
        if (stdin.length > 0)
          client.stdin(id, typeof stdin === 'string' ? Buffer.from(stdin) : stdin);
      } else {
        for await (const chunk of stdin) client.stdin(id, chunk);
      }
      client.stdinEnd(id);
    } catch {
      // the exec ended or the sandbox went away; the exec result says so
    }
  }

  async #file(
    op: 'read' | 'write' | 'list',
    path: string,
    fields: Record<string, unknown>,
    signal?: AbortSignal,
  ) {
    this.#assertAlive();
    signal?.throwIfAborted();
    const target = resolveSandboxPath(path);
    const result = await this.#init.client.request(op, { path: target, ...fields });
    if (!result.ok) {
      if (result.errno === 40) throw new PathEscapeError(path, 'symbolic link');
      if (result.errno === 18) throw new PathEscapeError(path, 'resolves outside /workspace');
      throw new RingfenceError('not_found', `${op} ${path}: ${result.error ?? 'failed'}`, {
        details: { errno: result.errno },
      });
    }
    return result;
  }

  async readFile(
    path: string,
    options: { maxBytes?: number; signal?: AbortSignal } = {},
  ): Promise<Buffer> {
    const r = await this.#file(
      'read',
      path,
      { max: options.maxBytes ?? DEFAULT_READ_MAX_BYTES },
      options.signal,
    );
    return Buffer.from(r.data ?? '', 'base64');
  }

  async writeFile(
    path: string,
    data: string | Uint8Array,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.#file('write', path, { data: Buffer.from(data).toString('base64') }, options.signal);
  }

  async list(path: string, options: { signal?: AbortSignal } = {}): Promise<DirEntry[]> {
    const r = await this.#file('list', path, {}, options.signal);
    return (r.entries ?? []).map((e) => ({
      name: e.name,
      type: e.type as DirEntry['type'],
      size: e.size,
    }));
  }

  async stats(): Promise<SandboxStats> {
    const usage = await this.#init.cgroup.usage();
    return {
      memoryBytes: usage.memoryBytes,
      pids: usage.pids,
      cpuUsageMs: usage.cpuUsageMs,
      diskBytes: await measureDisk(this.workspace, Number.MAX_SAFE_INTEGER, true),
      limitsVia: 'container',
    };
  }

  destroy(): Promise<void> {
    this.#destroying ??= this.#teardown();
    return this.#destroying;
  }

  async #teardown(): Promise<void> {
    for (const stop of this.#running) stop('sandbox destroyed');
    const errors: unknown[] = [];
    const engine = this.#init.engine;
    await engine
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
    const owner = this.#init.restoreOwner;
    if (owner)
      await chownTree(this.workspace, owner.uid, owner.gid).catch((e: unknown) => errors.push(e));
    this.#init.onDestroyed(this);
    if (errors.length)
      throw new SandboxError('sandbox_failed', `destroy of ${this.id} incomplete`, {
        cause: errors[0],
      });
  }
}

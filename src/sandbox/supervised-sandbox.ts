// What every sandbox driven by the in-sandbox supervisor shares: exec with timeout, abort, disk
// watchdog and output caps; file operations done inside the sandbox; the common destroy steps.
import { chownTree } from './ownership.js';
import { RingfenceError, SandboxError, PathEscapeError } from '../errors.js';
import type { Policy } from '../policy/policy-schema.js';
import type {
  DirEntry,
  DriverName,
  ExecOptions,
  ExecResult,
  LimitHit,
  Sandbox,
  SandboxStats,
} from './driver.js';
import type { CgroupCounters } from './cgroups.js';
import { OutputCap } from './output-cap.js';
import { resolveSandboxPath } from './workspace-path.js';
import { measureDisk } from './disk-usage.js';
import type { SupervisorClient } from './bubblewrap/supervisor-client.js';

/** How often a running exec checks the workspace against the disk limit. */
const DISK_CHECK_INTERVAL_MS = 1_000;
const DEFAULT_READ_MAX_BYTES = 10 * 1024 * 1024;

/** Where the OOM-kill and pids-limit counters of a sandbox are read (its cgroup). */
export interface LimitCounterSource {
  counters(): Promise<CgroupCounters>;
}

export interface SupervisedSandboxInit {
  id: string;
  workspace: string;
  policy: Policy;
  client: SupervisorClient;
  /** Undefined when limits are not enforced by a cgroup (then no OOM / pids classification). */
  cgroup: LimitCounterSource | undefined;
  baseEnv: Record<string, string>;
  /** Owner the workspace is handed back to on destroy (when it was chowned for the sandbox). */
  restoreOwner: { uid: number; gid: number } | undefined;
}

interface ExecOutcome {
  code: number;
  signal: string | undefined;
  limit: LimitHit | undefined;
  error?: string;
}

export abstract class SupervisedSandbox implements Sandbox {
  abstract readonly driver: DriverName;
  readonly id: string;
  readonly workspace: string;
  readonly #init: SupervisedSandboxInit;
  readonly #running = new Set<(hit: LimitHit) => void>();
  #destroying: Promise<void> | undefined;
  #gone = false;

  constructor(init: SupervisedSandboxInit) {
    this.#init = init;
    this.id = init.id;
    this.workspace = init.workspace;
  }

  /** The sandbox's process or container has ended; what is still in flight fails. */
  protected supervisorGone(): void {
    this.#gone = true;
    this.#init.client.failAll(new SandboxError('sandbox_destroyed', `sandbox ${this.id} is gone`));
  }

  /** Whether supervisorGone() has been called. */
  protected get gone(): boolean {
    return this.#gone;
  }

  /** Ends the sandbox's process or container, pushing what fails onto `errors`. */
  protected abstract release(errors: unknown[]): Promise<void>;

  /** Tells the driver this sandbox is destroyed (last step of destroy). */
  protected abstract forget(): void;

  abstract stats(): Promise<SandboxStats>;

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
    const before = await this.#init.cgroup?.counters();
    const started = performance.now();
    const stdout = new OutputCap(maxOutput);
    const stderr = new OutputCap(maxOutput);
    const client = this.#init.client;

    const outcome = await new Promise<ExecOutcome>((resolve) => {
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
    const after = await this.#init.cgroup?.counters();
    if (before && after && outcome.signal === 'SIGKILL') {
      if (after.oomKills > before.oomKills) limit = 'memory limit';
    }
    if (before && after && after.pidsMaxHits > before.pidsMaxHits && !limit) limit = 'pids limit';
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
      // ELOOP from O_NOFOLLOW / a link out of the workspace: say so as an escape.
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

  /** Bytes the workspace holds now, for stats(). */
  protected workspaceBytes(): Promise<number> {
    return measureDisk(this.workspace, Number.MAX_SAFE_INTEGER, true);
  }

  destroy(): Promise<void> {
    this.#destroying ??= this.#teardown();
    return this.#destroying;
  }

  async #teardown(): Promise<void> {
    for (const stop of this.#running) stop('sandbox destroyed');
    const errors: unknown[] = [];
    await this.release(errors);
    const owner = this.#init.restoreOwner;
    if (owner) {
      await chownTree(this.workspace, owner.uid, owner.gid).catch((e: unknown) => errors.push(e));
    }
    this.forget();
    if (errors.length)
      throw new SandboxError('sandbox_failed', `destroy of ${this.id} incomplete`, {
        cause: errors[0],
      });
  }
}

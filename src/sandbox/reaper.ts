// Removes sandboxes a crashed ringfence left behind: containers found by label (creator gone or
// expired) and bubblewrap cgroups with no live owner. Runs once on start, then periodically.
import { existsSync, readFileSync } from 'node:fs';
import { silentLogger, type StorageLogger } from '../storage/storage-logger.js';
import { reapStaleCgroups } from './cgroups.js';
import { DEFAULT_DOCKER_SOCKET, EngineClient } from './docker/engine-client.js';
import { LABEL_CREATOR_PID, LABEL_EXPIRES, LABEL_OWNER } from './docker/container-spec.js';

export interface ReaperOptions {
  socketPath?: string;
  intervalMs?: number;
  logger?: StorageLogger;
  now?: () => number;
  /** Whether a bubblewrap cgroup id is still in use; default: it still has processes. */
  isLiveBwrap?: (id: string) => boolean;
  /** Only reap containers carrying these extra labels (tests use a per-run label). */
  labelFilter?: Record<string, string>;
}

export interface ReapResult {
  containers: string[];
  cgroups: string[];
}

interface ContainerSummary {
  Id: string;
  Labels?: Record<string, string>;
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function cgroupHasProcesses(id: string): boolean {
  for (const dir of [`/sys/fs/cgroup/pids/ringfence/${id}`, `/sys/fs/cgroup/ringfence/${id}`]) {
    try {
      if (readFileSync(`${dir}/cgroup.procs`, 'utf8').trim()) return true;
    } catch {
      // not this layout
    }
  }
  return false;
}

export class Reaper {
  readonly #engine: EngineClient;
  readonly #intervalMs: number;
  readonly #logger: StorageLogger;
  readonly #now: () => number;
  readonly #isLiveBwrap: (id: string) => boolean;
  readonly #labelFilter: Record<string, string>;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ReaperOptions = {}) {
    this.#engine = new EngineClient(options.socketPath ?? DEFAULT_DOCKER_SOCKET);
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#isLiveBwrap = options.isLiveBwrap ?? cgroupHasProcesses;
    this.#labelFilter = options.labelFilter ?? {};
  }

  /** Reaps once now, then every intervalMs until stop(). */
  async start(): Promise<ReapResult> {
    const first = await this.reapOnce();
    this.#timer = setInterval(() => {
      void this.reapOnce().catch((err: unknown) =>
        this.#logger.warn({ err: (err as Error).message }, 'reaper pass failed'),
      );
    }, this.#intervalMs);
    this.#timer.unref();
    return first;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async reapOnce(): Promise<ReapResult> {
    const containers = existsSync(this.#engine.socketPath) ? await this.#reapContainers() : [];
    const cgroups = await reapStaleCgroups(this.#isLiveBwrap);
    if (containers.length || cgroups.length)
      this.#logger.info({ containers, cgroups }, 'reaped stale sandboxes');
    return { containers, cgroups };
  }

  async #reapContainers(): Promise<string[]> {
    const labels = [
      `${LABEL_OWNER}=ringfence`,
      ...Object.entries(this.#labelFilter).map(([k, v]) => `${k}=${v}`),
    ];
    const filters = encodeURIComponent(JSON.stringify({ label: labels }));
    const list = await this.#engine.ok<ContainerSummary[]>(
      'GET',
      `/containers/json?all=1&filters=${filters}`,
    );
    const removed: string[] = [];
    for (const c of list) {
      const expires = Number(c.Labels?.[LABEL_EXPIRES] ?? 0);
      const creator = Number(c.Labels?.[LABEL_CREATOR_PID] ?? 0);
      const stale = expires <= this.#now() || !pidAlive(creator);
      if (!stale) continue;
      const r = await this.#engine.call('DELETE', `/containers/${c.Id}?force=true&v=true`);
      if (r.status < 300 || r.status === 404) removed.push(c.Id);
    }
    return removed;
  }
}

// Resource limits through cgroups, v1 (memory, pids, cpu hierarchies) or v2 (unified), for one
// sandbox: create with limits, report which limit fired, read usage, kill everything, remove.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rmdir, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';
const GROUP = 'ringfence';

export type CgroupVersion = 1 | 2;

export interface CgroupSupport {
  version: CgroupVersion | undefined;
  controllers: string[];
  /** Why cgroups cannot be used here, when they cannot. */
  problem: string | undefined;
  /** Where the hierarchy is mounted; absent: /sys/fs/cgroup. */
  root?: string;
}

export interface CgroupLimits {
  memoryBytes: number;
  pids: number;
  cpus: number;
}

export interface CgroupCounters {
  oomKills: number;
  pidsMaxHits: number;
}

function v1Dir(controller: string, root = ROOT): string {
  return join(root, controller);
}

/**
 * Which cgroup version this host offers to ringfence, and whether it can write there.
 * `root` is where to look (/sys/fs/cgroup; elsewhere only in tests).
 */
export function detectCgroups(root = ROOT): CgroupSupport {
  const isRoot = process.getuid?.() === 0;
  const at = root === ROOT ? {} : { root };
  if (existsSync(join(v1Dir('memory', root), 'memory.limit_in_bytes'))) {
    const controllers = ['memory', 'pids', 'cpu'].filter((c) => existsSync(v1Dir(c, root)));
    return {
      version: 1,
      controllers,
      problem: isRoot ? undefined : 'not root: cgroup v1 needs root',
      ...at,
    };
  }
  const controllersFile = join(root, 'cgroup.controllers');
  if (existsSync(controllersFile)) {
    const controllers = readFileSync(controllersFile, 'utf8').trim().split(/\s+/).filter(Boolean);
    const missing = ['memory', 'pids', 'cpu'].filter((c) => !controllers.includes(c));
    return {
      version: 2,
      controllers,
      problem: !isRoot
        ? 'not root and no delegated cgroup'
        : missing.length
          ? `controllers missing: ${missing.join(',')}`
          : undefined,
      ...at,
    };
  }
  return { version: undefined, controllers: [], problem: `no cgroup filesystem at ${root}` };
}

/** Writes a cgroup file the kernel may not offer (memsw without swap accounting, swap.max). */
function writeIfPresent(file: string, value: string): void {
  if (existsSync(file)) writeFileSync(file, value);
}

function keyedCount(text: string, key: string): number {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * Reads a small cgroup file. Synchronous on purpose: these are a few bytes from a virtual
 * filesystem (microseconds), and going through libuv's thread pool would queue them behind
 * whatever else the process is doing (warm sandboxes being prepared) for milliseconds.
 */
async function readOr(file: string, fallback = ''): Promise<string> {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** The cgroup(s) of one sandbox. Processes join by writing their pid into every `procsFiles` entry. */
export class SandboxCgroup {
  readonly version: CgroupVersion;
  readonly #dirs: Record<'memory' | 'pids' | 'cpu', string>;
  /** Limits written so far (undefined: none yet, the cgroup is unlimited). */
  #applied: CgroupLimits | undefined;

  private constructor(version: CgroupVersion, dirs: Record<'memory' | 'pids' | 'cpu', string>) {
    this.version = version;
    this.#dirs = dirs;
  }

  /**
   * Creates the cgroup(s); with `limits` also writes them. Without, the cgroup starts unlimited
   * (a pre-spawned sandbox whose limits are written by `setLimits` before it runs anything).
   */
  static async create(
    id: string,
    limits: CgroupLimits | undefined,
    support: CgroupSupport,
  ): Promise<SandboxCgroup> {
    const cg = SandboxCgroup.createSync(id, support);
    if (limits) await cg.setLimits(limits);
    return cg;
  }

  /**
   * Creates the cgroup(s), unlimited. Synchronous on purpose, like `readOr`: a few mkdirs in a
   * virtual filesystem, which a one-shot command does while it is still loading (early-stub.ts).
   * Throws when the host refuses.
   */
  static createSync(id: string, support: CgroupSupport): SandboxCgroup {
    const root = support.root ?? ROOT;
    if (support.version === 1) {
      const dirs = {
        memory: join(v1Dir('memory', root), GROUP, id),
        pids: join(v1Dir('pids', root), GROUP, id),
        cpu: join(v1Dir('cpu', root), GROUP, id),
      };
      for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
      return new SandboxCgroup(1, dirs);
    }
    if (support.version === 2) {
      const parent = join(root, GROUP);
      mkdirSync(parent, { recursive: true });
      writeIfPresent(join(root, 'cgroup.subtree_control'), '+memory +pids +cpu');
      writeFileSync(join(parent, 'cgroup.subtree_control'), '+memory +pids +cpu');
      const dir = join(parent, id);
      mkdirSync(dir, { recursive: true });
      return new SandboxCgroup(2, { memory: dir, pids: dir, cpu: dir });
    }
    throw new Error(support.problem ?? 'cgroups unavailable');
  }

  /**
   * Writes the limits that differ from the ones already written (a sandbox started in advance
   * already has the default policy's). v1 needs memory+swap >= memory at every step, so memory
   * goes first when lowering and second when raising.
   */
  async setLimits(limits: CgroupLimits): Promise<void> {
    // Synchronous writes, like `readOr`: a few bytes each into a virtual filesystem, on the path
    // of every sandbox's creation; the thread pool would only add round trips.
    const prev = this.#applied;
    const { memory, pids, cpu } = this.#dirs;
    const quotaUs = Math.max(1000, Math.round(limits.cpus * 100_000));
    if (prev?.memoryBytes !== limits.memoryBytes) {
      const value = String(limits.memoryBytes);
      if (this.version === 2) {
        writeFileSync(join(memory, 'memory.max'), value);
        if (!prev) writeIfPresent(join(memory, 'memory.swap.max'), '0');
      } else {
        const mem = join(memory, 'memory.limit_in_bytes');
        const memsw = join(memory, 'memory.memsw.limit_in_bytes');
        const raising = prev !== undefined && limits.memoryBytes > prev.memoryBytes;
        if (raising) writeIfPresent(memsw, value);
        writeFileSync(mem, value);
        if (!raising) writeIfPresent(memsw, value);
        if (!prev) writeIfPresent(join(memory, 'memory.swappiness'), '0');
      }
    }
    if (prev?.pids !== limits.pids) writeFileSync(join(pids, 'pids.max'), String(limits.pids));
    if (prev?.cpus !== limits.cpus) {
      if (this.version === 2) writeFileSync(join(cpu, 'cpu.max'), `${quotaUs} 100000`);
      else {
        if (!prev) writeFileSync(join(cpu, 'cpu.cfs_period_us'), '100000');
        writeFileSync(join(cpu, 'cpu.cfs_quota_us'), String(quotaUs));
      }
    }
    this.#applied = { ...limits };
  }

  /** Files a process writes its pid into to join this sandbox's cgroups (deduplicated). */
  get procsFiles(): string[] {
    return [...new Set(Object.values(this.#dirs))].map((d) => join(d, 'cgroup.procs'));
  }

  async counters(): Promise<CgroupCounters> {
    if (this.version === 1) {
      const oom = await readOr(join(this.#dirs.memory, 'memory.oom_control'));
      const failcnt = Number((await readOr(join(this.#dirs.memory, 'memory.failcnt'), '0')).trim());
      const oomKills =
        keyedCount(oom, 'oom_kill') || (failcnt > 0 && /under_oom 1/.test(oom) ? 1 : 0);
      return {
        oomKills,
        pidsMaxHits: keyedCount(await readOr(join(this.#dirs.pids, 'pids.events')), 'max'),
      };
    }
    return {
      oomKills: keyedCount(await readOr(join(this.#dirs.memory, 'memory.events')), 'oom_kill'),
      pidsMaxHits: keyedCount(await readOr(join(this.#dirs.pids, 'pids.events')), 'max'),
    };
  }

  async usage(): Promise<{ memoryBytes: number; pids: number; cpuUsageMs: number }> {
    const num = async (f: string): Promise<number> => Number((await readOr(f, '0')).trim()) || 0;
    if (this.version === 1) {
      return {
        memoryBytes: await num(join(this.#dirs.memory, 'memory.usage_in_bytes')),
        pids: await num(join(this.#dirs.pids, 'pids.current')),
        cpuUsageMs: Math.round((await num(join(this.#dirs.cpu, 'cpuacct.usage'))) / 1e6),
      };
    }
    const stat = await readOr(join(this.#dirs.cpu, 'cpu.stat'));
    return {
      memoryBytes: await num(join(this.#dirs.memory, 'memory.current')),
      pids: await num(join(this.#dirs.pids, 'pids.current')),
      cpuUsageMs: Math.round(keyedCount(stat, 'usage_usec') / 1000),
    };
  }

  /** SIGKILLs every process in the sandbox's cgroup, repeating until none is left. */
  async killAll(): Promise<void> {
    if (this.version === 2 && existsSync(join(this.#dirs.pids, 'cgroup.kill'))) {
      await writeFile(join(this.#dirs.pids, 'cgroup.kill'), '1').catch(() => undefined);
    }
    for (let round = 0; round < 50; round++) {
      const pids = (await readOr(join(this.#dirs.pids, 'cgroup.procs')))
        .split('\n')
        .filter(Boolean);
      if (pids.length === 0) return;
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** Kills what is left and removes the directories; safe to call twice. */
  async remove(): Promise<void> {
    await this.killAll();
    for (const dir of new Set(Object.values(this.#dirs))) {
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          await rmdir(dir);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    }
  }
}

/** Removes cgroups of sandboxes whose ringfence process is gone (no process left inside). */
export async function reapStaleCgroups(isLive: (id: string) => boolean): Promise<string[]> {
  const removed: string[] = [];
  const parents = [
    join(v1Dir('memory'), GROUP),
    join(v1Dir('pids'), GROUP),
    join(v1Dir('cpu'), GROUP),
    join(ROOT, GROUP),
  ];
  for (const parent of parents) {
    let ids: string[];
    try {
      ids = (await readdir(parent, { withFileTypes: true }))
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      continue;
    }
    for (const id of ids) {
      if (isLive(id)) continue;
      const procs = (await readOr(join(parent, id, 'cgroup.procs'))).split('\n').filter(Boolean);
      for (const pid of procs) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone
        }
      }
      await rmdir(join(parent, id)).then(
        () => removed.push(id),
        () => undefined,
      );
    }
  }
  return removed;
}

// Reads a container's cgroup counters on the host (cgroupfs driver, v1 or v2) so an exec killed
// by SIGKILL can be told apart as an OOM or a pids-limit hit, and stats() can report usage.
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';

export interface ContainerCounters {
  oomKills: number;
  pidsMaxHits: number;
}

async function readNumberField(path: string, field: string): Promise<number | undefined> {
  try {
    const text = await readFile(path, 'utf8');
    const m = new RegExp(`^${field}\\s+(\\d+)`, 'm').exec(text);
    return m?.[1] ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function readNumber(path: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

export class ContainerCgroup {
  readonly #v2: string | undefined;
  readonly #v1: { memory: string; pids: string; cpuacct: string } | undefined;

  constructor(containerId: string, parent = 'docker') {
    const v2 = `/sys/fs/cgroup/${parent}/${containerId}`;
    const memory = `/sys/fs/cgroup/memory/${parent}/${containerId}`;
    this.#v2 = existsSync(`${v2}/cgroup.procs`) ? v2 : undefined;
    this.#v1 = existsSync(memory)
      ? {
          memory,
          pids: `/sys/fs/cgroup/pids/${parent}/${containerId}`,
          cpuacct: `/sys/fs/cgroup/cpuacct/${parent}/${containerId}`,
        }
      : undefined;
  }

  get found(): boolean {
    return Boolean(this.#v1 ?? this.#v2);
  }

  async counters(): Promise<ContainerCounters> {
    if (this.#v1) {
      return {
        oomKills: (await readNumberField(`${this.#v1.memory}/memory.oom_control`, 'oom_kill')) ?? 0,
        pidsMaxHits: (await readNumberField(`${this.#v1.pids}/pids.events`, 'max')) ?? 0,
      };
    }
    if (this.#v2) {
      return {
        oomKills: (await readNumberField(`${this.#v2}/memory.events`, 'oom_kill')) ?? 0,
        pidsMaxHits: (await readNumberField(`${this.#v2}/pids.events`, 'max')) ?? 0,
      };
    }
    return { oomKills: 0, pidsMaxHits: 0 };
  }

  async usage(): Promise<{ memoryBytes?: number; pids?: number; cpuUsageMs?: number }> {
    if (this.#v1) {
      const mem = await readNumber(`${this.#v1.memory}/memory.usage_in_bytes`);
      const pids = await readNumber(`${this.#v1.pids}/pids.current`);
      const cpu = await readNumber(`${this.#v1.cpuacct}/cpuacct.usage`);
      return {
        ...(mem !== undefined ? { memoryBytes: mem } : {}),
        ...(pids !== undefined ? { pids } : {}),
        ...(cpu !== undefined ? { cpuUsageMs: cpu / 1e6 } : {}),
      };
    }
    if (this.#v2) {
      const mem = await readNumber(`${this.#v2}/memory.current`);
      const pids = await readNumber(`${this.#v2}/pids.current`);
      const cpu = await readNumberField(`${this.#v2}/cpu.stat`, 'usage_usec');
      return {
        ...(mem !== undefined ? { memoryBytes: mem } : {}),
        ...(pids !== undefined ? { pids } : {}),
        ...(cpu !== undefined ? { cpuUsageMs: cpu / 1e3 } : {}),
      };
    }
    return {};
  }
}

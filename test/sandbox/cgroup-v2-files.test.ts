// cgroup v2 as far as it can be checked on this cgroup-v1 host: which files SandboxCgroup writes
// and reads, with which values, in a directory laid out like a unified hierarchy. The kernel's
// side of v2 (enforcement, events) is not exercised here; the v1 suites cover that on this host.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectCgroups, SandboxCgroup } from '../../src/sandbox/cgroups.js';
import { missingRoot, reportSkip } from '../helpers/capabilities.js';

const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

/** A directory that looks like the root of a unified hierarchy with `controllers`. */
function unifiedRoot(controllers: string): string {
  const root = mkdtempSync(join(tmpdir(), 'rf-cg2-'));
  roots.push(root);
  writeFileSync(join(root, 'cgroup.controllers'), `${controllers}\n`);
  writeFileSync(join(root, 'cgroup.subtree_control'), '');
  return root;
}

const read = (path: string): string => readFileSync(path, 'utf8');

describe.skipIf(reportSkip('cgroup v2 files', missingRoot()))('cgroup v2 (unified) files', () => {
  it('is detected with its controllers, and refused when one is missing', () => {
    const full = detectCgroups(unifiedRoot('cpuset cpu io memory hugetlb pids rdma misc'));
    expect(full).toMatchObject({ version: 2, problem: undefined });
    expect(full.controllers).toEqual(expect.arrayContaining(['memory', 'pids', 'cpu']));
    const partial = detectCgroups(unifiedRoot('cpu io pids'));
    expect(partial.version).toBe(2);
    expect(partial.problem).toBe('controllers missing: memory');
    expect(detectCgroups(mkdtempSync(join(tmpdir(), 'rf-none-'))).version).toBeUndefined();
  });

  it('enables the controllers for the subtree and writes memory.max, pids.max and cpu.max', async () => {
    const root = unifiedRoot('cpu memory pids');
    const support = detectCgroups(root);
    const cg = await SandboxCgroup.create(
      'rf-test',
      { memoryBytes: 256 * 1024 * 1024, pids: 128, cpus: 1.5 },
      support,
    );
    const dir = join(root, 'ringfence', 'rf-test');
    expect(read(join(root, 'cgroup.subtree_control'))).toBe('+memory +pids +cpu');
    expect(read(join(root, 'ringfence', 'cgroup.subtree_control'))).toBe('+memory +pids +cpu');
    expect(read(join(dir, 'memory.max'))).toBe(String(256 * 1024 * 1024));
    expect(read(join(dir, 'pids.max'))).toBe('128');
    expect(read(join(dir, 'cpu.max'))).toBe('150000 100000');
    // memory.swap.max is written only where the kernel offers it (swap accounting on).
    expect(existsSync(join(dir, 'memory.swap.max'))).toBe(false);
    expect(cg.procsFiles).toEqual([join(dir, 'cgroup.procs')]);

    // A later policy rewrites only what changed.
    writeFileSync(join(dir, 'pids.max'), 'untouched');
    await cg.setLimits({ memoryBytes: 64 * 1024 * 1024, pids: 128, cpus: 0.001 });
    expect(read(join(dir, 'memory.max'))).toBe(String(64 * 1024 * 1024));
    expect(read(join(dir, 'pids.max'))).toBe('untouched');
    expect(read(join(dir, 'cpu.max'))).toBe('1000 100000'); // 1 ms per 100 ms at the least
  });

  it('reads which limit fired from memory.events and pids.events, usage from v2 files', async () => {
    const root = unifiedRoot('cpu memory pids');
    const cg = await SandboxCgroup.create('rf-events', undefined, detectCgroups(root));
    const dir = join(root, 'ringfence', 'rf-events');
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n');
    writeFileSync(join(dir, 'pids.events'), 'max 3\n');
    expect(await cg.counters()).toEqual({ oomKills: 2, pidsMaxHits: 3 });
    writeFileSync(join(dir, 'memory.current'), '1048576\n');
    writeFileSync(join(dir, 'pids.current'), '7\n');
    writeFileSync(join(dir, 'cpu.stat'), 'usage_usec 2500000\nuser_usec 2000000\n');
    expect(await cg.usage()).toEqual({ memoryBytes: 1048576, pids: 7, cpuUsageMs: 2500 });
  });
});

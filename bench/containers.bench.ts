// Container figures (issue 6): median/p90 of create + exec `true` + destroy for each driver, warm
// pools, raw `docker run` / `runsc do` baselines, and "create then run node -v".
// Run: node --import tsx bench/containers.bench.ts   (BENCH_N=iterations, default 10)
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultPolicy } from '../src/policy/policy-schema.js';
import { BubblewrapDriver } from '../src/sandbox/bubblewrap/bubblewrap-driver.js';
import { DockerDriver } from '../src/sandbox/docker/docker-driver.js';
import { GvisorDriver } from '../src/sandbox/gvisor/gvisor-driver.js';
import type { SandboxDriver } from '../src/sandbox/driver.js';
import { defaultImageRef } from '../src/sandbox/image/image-spec.js';
import { WarmPool } from '../src/sandbox/warm-pool.js';
import { measure, printTable, writeResults, type Sample } from './bench-stats.js';

const run = promisify(execFile);
const N = Number(process.env.BENCH_N ?? 10);
const root = await mkdtemp(join(tmpdir(), 'rf-bench-containers-'));
const policy = defaultPolicy();
const rows: Sample[] = [];
let k = 0;

async function cold(name: string, driver: SandboxDriver, argv: string[] = ['true']): Promise<void> {
  try {
    rows.push(
      await measure(
        name,
        N,
        async () => {
          const sb = await driver.create({ workspace: join(root, `ws-${k++}`), policy });
          const r = await sb.exec(argv);
          if (r.exitCode !== 0) throw new Error(`${name}: exit ${r.exitCode} ${r.stderr}`);
          await sb.destroy();
        },
        2,
      ),
    );
  } catch (err) {
    rows.push({ name, n: 0, medianMs: NaN, p90Ms: NaN, note: `failed: ${(err as Error).message}` });
  }
}

/** Acquire + one exec from a pool (size 2, default warm-up `true`, default refill delay). */
async function warm(name: string, driver: SandboxDriver, argv: string[] = ['true']): Promise<void> {
  const pool = new WarmPool({
    driver,
    template: { policy },
    config: { size: 2, refillPerSec: 20 },
  });
  try {
    await pool.start();
    const times: number[] = [];
    for (let i = 0; i < N + 2; i++) {
      await pool.drain();
      const t = performance.now();
      const a = await pool.acquire();
      const r = await a.sandbox.exec(argv);
      if (r.exitCode !== 0) throw new Error(`${name}: exit ${r.exitCode} ${r.stderr}`);
      const dt = performance.now() - t;
      if (i >= 2) times.push(dt);
      await pool.release(a);
    }
    times.sort((a, b) => a - b);
    const pick = (p: number): number =>
      times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)]!;
    rows.push({
      name,
      n: times.length,
      medianMs: pick(50),
      p90Ms: pick(90),
      note: `acquire + exec ${argv.join(' ')} (pool warmed with true; refill after ${pool.config.refillDelayMs} ms)`,
    });
  } catch (err) {
    rows.push({ name, n: 0, medianMs: NaN, p90Ms: NaN, note: `failed: ${(err as Error).message}` });
  } finally {
    await pool.close();
  }
}

async function command(name: string, cmd: string, args: string[]): Promise<void> {
  try {
    rows.push(await measure(name, N, () => run(cmd, args), 2));
  } catch (err) {
    rows.push({
      name,
      n: 0,
      medianMs: NaN,
      p90Ms: NaN,
      note: `failed: ${(err as Error).message.slice(0, 80)}`,
    });
  }
}

const image = defaultImageRef();
const bwrap = new BubblewrapDriver();
const docker = new DockerDriver();
const gvisor = new GvisorDriver();
await cold('bubblewrap create+exec true+destroy', bwrap);
await cold('docker cold create+exec true+destroy', docker);
await warm('docker warm pool', docker);
await warm('docker warm pool, exec sh -c', docker, ['sh', '-c', 'echo ok']);
await cold('gvisor cold create+exec true+destroy', gvisor);
await warm('gvisor warm pool', gvisor);
await warm('gvisor warm pool, exec sh -c', gvisor, ['sh', '-c', 'echo ok']);
await command('raw docker run --rm --network none IMG true', 'docker', [
  'run',
  '--rm',
  '--network',
  'none',
  image,
  'true',
]);
await command('raw runsc --network=none do true', 'runsc', ['--network=none', 'do', 'true']);
await cold('bubblewrap create then node -v', bwrap, ['node', '-v']);
await cold('docker create then node -v', docker, ['node', '-v']);
await cold('gvisor create then node -v', gvisor, ['node', '-v']);
for (const d of [bwrap, docker, gvisor]) await d.close();
await rm(root, { recursive: true, force: true });
printTable(`containers (n=${N}, 2 cores)`, rows);
process.stdout.write(`results: ${writeResults('containers.json', { image, rows })}\n`);

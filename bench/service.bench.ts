// npm run bench:service — the service end to end on this machine: sessions/s from POST to result
// for a 3-tool-call scripted session at concurrency 1, 10 and 50 (50 queues behind the workers),
// GET /v1/sessions/:id latency under that load, service RSS per running session, and the time
// from SIGKILL of a `ringfence serve` process to its session resumed by a restarted one.
import { rmSync } from 'node:fs';
import { loadConfig, resolveTier } from '../src/config/load-config.js';
import { RingfenceService } from '../src/service/ringfence-service.js';
import { client, writeServiceConfig, type ScriptTurn } from '../test/service/service-harness.js';
import { startServe } from '../test/service/serve-process.js';
import { percentile, printTable, writeResults, type Sample } from './bench-stats.js';

const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
const SESSIONS_PER_LEVEL = Number(process.env.BENCH_SESSIONS ?? 50);
const KILL_RUNS = Number(process.env.BENCH_KILL_RUNS ?? 3);

const bashTurn = (cmd: string): ScriptTurn => ({
  content: [{ type: 'tool_use', name: 'Bash', input: { command: cmd, description: 'bench' } }],
});
const SCRIPT: ScriptTurn[] = [
  bashTurn('echo one > a.txt'),
  bashTurn('cat a.txt'),
  bashTurn('true'),
  { content: [{ type: 'text', text: 'done' }] },
];

const sample = (name: string, ms: number[], note?: string): Sample => {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    name,
    n: ms.length,
    medianMs: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    ...(note === undefined ? {} : { note }),
  };
};

async function loadLevels(): Promise<{ rows: Sample[]; figures: Record<string, unknown> }> {
  const { dir, configPath, dataDir } = writeServiceConfig(SCRIPT, { allow: ['Bash'] });
  const { config, path } = loadConfig(configPath);
  const service = new RingfenceService({
    dataDir,
    resolveTier: (n) => resolveTier(config, n, path),
    defaultTier: 'dev',
    port: 0,
    workers: WORKERS,
    reaper: false,
    pollIntervalMs: 20,
    limits: {
      requestsPerSec: 100_000,
      requestBurst: 100_000,
      sessionsPerMin: 100_000,
      maxConcurrentSessions: 1_000,
    },
  });
  await service.start();
  const key = (await service.stores.keys.createKey('bench', 'submit')).key;
  const api = client(service.url!, key);
  const store = service.stores.store;
  const rows: Sample[] = [];
  const figures: Record<string, unknown> = { workers: WORKERS };
  const runOne = async (): Promise<number> => {
    const t0 = performance.now();
    const r = await api.post('/v1/sessions', { prompt: 'bench' });
    const id = (r.body as { id: string }).id;
    await new Promise<void>((resolve) => {
      const off = store.subscribe(id, (e) => {
        if (e.type === 'session_end') {
          off();
          resolve();
        }
      });
    });
    return performance.now() - t0;
  };
  await runOne(); // warm-up: tier runtime, scripted server, first sandbox
  const baseRss = process.memoryUsage().rss;
  for (const concurrency of [1, 10, 50]) {
    const latencies: number[] = [];
    const getMs: number[] = [];
    let peakRss = baseRss;
    let peakRunning = 0;
    let loading = true;
    const probeId = (await api.post('/v1/sessions', { prompt: 'probe' })).body as { id: string };
    const prober = (async () => {
      while (loading) {
        const t = performance.now();
        await api.get(`/v1/sessions/${probeId.id}`);
        getMs.push(performance.now() - t);
        const running = service.workers.reduce((n, w) => n + w.running.length, 0);
        const rss = process.memoryUsage().rss;
        if (running >= peakRunning && rss > peakRss) peakRss = rss;
        peakRunning = Math.max(peakRunning, running);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const total = Math.max(concurrency, SESSIONS_PER_LEVEL - (concurrency === 1 ? 40 : 0));
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          next += 1;
          latencies.push(await runOne());
        }
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    loading = false;
    await prober;
    const perSec = latencies.length / wallS;
    rows.push(
      sample(
        `POST→result, concurrency ${concurrency}`,
        latencies,
        `${perSec.toFixed(2)} sessions/s`,
      ),
    );
    rows.push(
      sample(
        `GET /v1/sessions/:id @ c=${concurrency}`,
        getMs,
        `p99 ${percentile(
          [...getMs].sort((a, b) => a - b),
          99,
        ).toFixed(2)} ms`,
      ),
    );
    figures[`c${concurrency}`] = {
      sessions: latencies.length,
      sessionsPerSec: perSec,
      latencyMedianMs: percentile(
        [...latencies].sort((a, b) => a - b),
        50,
      ),
      latencyP90Ms: percentile(
        [...latencies].sort((a, b) => a - b),
        90,
      ),
      getP50Ms: percentile(
        [...getMs].sort((a, b) => a - b),
        50,
      ),
      getP99Ms: percentile(
        [...getMs].sort((a, b) => a - b),
        99,
      ),
      peakRunning,
      rssDeltaPerRunningSessionMiB:
        peakRunning === 0 ? null : (peakRss - baseRss) / peakRunning / (1024 * 1024),
    };
  }
  await service.close(1_000);
  rmSync(dir, { recursive: true, force: true });
  return { rows, figures };
}

async function killToResume(): Promise<{ rows: Sample[]; figures: Record<string, unknown> }> {
  const resumedMs: number[] = [];
  const finishedMs: number[] = [];
  const visibilityMs = 1_500;
  for (let i = 0; i < KILL_RUNS; i++) {
    const script = SCRIPT.map((t, n) => (n === 2 ? { ...t, delayMs: 2_000 } : t));
    const { dir, configPath } = writeServiceConfig(script, { allow: ['Bash'] });
    const flags = ['--workers', '1', '--visibility-ms', String(visibilityMs)];
    const first = await startServe(configPath, flags);
    const api1 = client(first.url, first.adminKey!);
    const id = ((await api1.post('/v1/sessions', { prompt: 'kill me' })).body as { id: string }).id;
    for (;;) {
      const s = (await api1.get(`/v1/sessions/${id}`)).body as { lastCompletedTurn: number };
      if (s.lastCompletedTurn >= 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const killedAt = performance.now();
    first.child.kill('SIGKILL');
    await first.exited;
    const second = await startServe(configPath, flags);
    const api2 = client(second.url, first.adminKey!);
    let resumed: number | undefined;
    for (;;) {
      const r = await api2.get(`/v1/sessions/${id}/events?format=json&limit=5000`);
      const events = (r.body as { events: { type: string; data: { event?: string } }[] }).events;
      if (
        resumed === undefined &&
        events.some((e) => e.type === 'worker' && e.data.event === 'resumed')
      )
        resumed = performance.now() - killedAt;
      if (events.some((e) => e.type === 'session_end')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    finishedMs.push(performance.now() - killedAt);
    resumedMs.push(resumed ?? Number.NaN);
    second.child.kill('SIGTERM');
    await second.exited;
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    rows: [
      sample('SIGKILL → resumed (lease 1.5 s)', resumedMs, 'restart + lease expiry + restore'),
      sample('SIGKILL → session finished', finishedMs, 'incl. the 2 s scripted model delay'),
    ],
    figures: { visibilityMs, resumedMs, finishedMs },
  };
}

const load = await loadLevels();
const kill = await killToResume();
printTable(`service end to end (${WORKERS} in-process workers, bubblewrap, scripted model)`, [
  ...load.rows,
  ...kill.rows,
]);
const out = writeResults('service.json', {
  rows: [...load.rows, ...kill.rows],
  load: load.figures,
  killToResume: kill.figures,
  note: 'RSS is the service process only; each sandbox (bwrap + supervisor) is separate processes',
});
process.stdout.write(`\nwrote ${out}\n`);

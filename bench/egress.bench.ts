// Egress proxy figures: request latency (median/p90), 1 MiB and 100 MiB throughput direct vs
// through the proxy (via a socat relay), and 1,000 concurrent tunnels from 10 sessions.
// Run: node --import tsx bench/egress.bench.ts (root, iproute2 and socat needed).
import { mkdir, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { EgressProxy } from '../src/egress/egress-proxy.js';
import { netnsSkipReason } from '../test/helpers/netns.js';
import { createWorld, SUBNET_A } from '../test/egress/egress-fixture.js';
import { startRelay } from '../test/egress/harness.js';

const LATENCY_REQUESTS = 300;
const SESSIONS = 10;
const TUNNELS_PER_SESSION = 100;
const UP = SUBNET_A.upstreamIp;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

/** GET through `port` (proxy when `viaProxy`) and return [ms, bytes]. */
function get(
  agent: Agent,
  host: string,
  port: number,
  path: string,
  viaProxy: boolean,
): Promise<[number, number]> {
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        agent,
        path: viaProxy ? `http://api.example.test${path}` : path,
        headers: { host: 'api.example.test' },
      },
      (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => (bytes += d.length));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          else resolve([Number(process.hrtime.bigint() - start) / 1e6, bytes]);
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function latency(
  host: string,
  port: number,
  viaProxy: boolean,
): Promise<{ p50: number; p90: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 20; i++) await get(agent, host, port, '/echo', viaProxy);
  const times: number[] = [];
  for (let i = 0; i < LATENCY_REQUESTS; i++)
    times.push((await get(agent, host, port, '/echo', viaProxy))[0]);
  agent.destroy();
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p90: percentile(times, 90) };
}

async function throughput(
  host: string,
  port: number,
  viaProxy: boolean,
  bytes: number,
): Promise<number> {
  const agent = new Agent({ keepAlive: false });
  const [ms, got] = await get(agent, host, port, `/bytes?n=${bytes}`, viaProxy);
  if (got !== bytes) throw new Error(`short read ${got}/${bytes}`);
  return bytes / 1024 / 1024 / (ms / 1000);
}

function openTunnel(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath, () =>
      s.write('CONNECT api.example.test:8080 HTTP/1.1\r\nHost: api.example.test:8080\r\n\r\n'),
    );
    let buf = '';
    let phase = 0;
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (phase === 0 && buf.includes('\r\n\r\n')) {
        if (!buf.startsWith('HTTP/1.1 200')) return reject(new Error(buf.split('\r\n')[0]));
        phase = 1;
        buf = '';
        s.write('GET /echo HTTP/1.1\r\nHost: api.example.test:8080\r\n\r\n');
      } else if (phase === 1 && buf.includes('"host"')) {
        phase = 2;
        resolve(s);
      }
    });
    s.on('error', reject);
  });
}

async function main(): Promise<void> {
  const skip = await netnsSkipReason();
  if (skip) {
    console.error(`egress bench skipped: ${skip}`);
    return;
  }
  const world = await createWorld(SUBNET_A);
  const proxy = new EgressProxy({
    upstreamCa: [world.upstreamCa.certPem],
    limits: { connectionsPerSecond: 10_000, connectionBurst: 10_000 },
  });
  const policy = {
    allow: ['api.example.test:80', 'api.example.test:8080'],
    deny: [],
    blockedPorts: [],
    resolve: { 'api.example.test': UP },
    rules: {},
  };
  try {
    const main = await proxy.openSession({
      sessionId: 'bench',
      socketPath: join(world.dir, 'bench.sock'),
      policy,
    });
    const relay = await startRelay(main.socketPath);
    const rows: Record<string, string | number>[] = [];
    const direct = await latency(UP, 80, false);
    const proxied = await latency('127.0.0.1', relay.port, true);
    rows.push({
      metric: 'latency p50 (ms)',
      direct: direct.p50,
      proxy: proxied.p50,
      added: proxied.p50 - direct.p50,
    });
    rows.push({
      metric: 'latency p90 (ms)',
      direct: direct.p90,
      proxy: proxied.p90,
      added: proxied.p90 - direct.p90,
    });
    for (const [label, n] of [
      ['1 MiB', 1 << 20],
      ['100 MiB', 100 << 20],
    ] as const) {
      const d = await throughput(UP, 80, false, n);
      const p = await throughput('127.0.0.1', relay.port, true, n);
      rows.push({
        metric: `throughput ${label} (MiB/s)`,
        direct: d,
        proxy: p,
        added: `${((p / d) * 100).toFixed(0)}% of direct`,
      });
    }
    relay.stop();

    const sessions = await Promise.all(
      Array.from({ length: SESSIONS }, (_, i) =>
        proxy.openSession({
          sessionId: `t${i}`,
          socketPath: join(world.dir, `t${i}.sock`),
          policy,
        }),
      ),
    );
    const started = Date.now();
    const results = await Promise.allSettled(
      sessions.flatMap((s) =>
        Array.from({ length: TUNNELS_PER_SESSION }, () => openTunnel(s.socketPath)),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const errors = results.length - ok;
    rows.push({
      metric: `concurrent tunnels (${SESSIONS}x${TUNNELS_PER_SESSION})`,
      direct: '-',
      proxy: `${ok} ok`,
      added: `${errors} errors, ${Date.now() - started} ms`,
    });
    for (const r of results) if (r.status === 'fulfilled') r.value.destroy();

    console.table(
      rows.map((r) =>
        Object.fromEntries(
          Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(3)) : v]),
        ),
      ),
    );
    await mkdir('bench/results', { recursive: true });
    await writeFile(
      'bench/results/egress.json',
      `${JSON.stringify({ at: new Date().toISOString(), node: process.version, relay: 'socat TCP->unix', rows }, null, 2)}\n`,
    );
    console.error('wrote bench/results/egress.json');
  } finally {
    await proxy.close();
    await world.destroy();
  }
}

await main();

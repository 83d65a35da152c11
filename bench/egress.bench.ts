// Egress proxy figures: request latency and 1 MiB / 100 MiB throughput direct vs through the
// proxy (via the socat relay), the same curl requests through Anthropic's sandbox-runtime (srt)
// proxy, and 1,000 concurrent tunnels from 10 sessions. Medians and p90 of repeated samples.
// Run: SRT_BIN=/path/to/srt node --import tsx bench/egress.bench.ts (root, iproute2, socat, curl).
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { EgressProxy } from '../src/egress/egress-proxy.js';
import { netnsSkipReason } from '../test/helpers/netns.js';
import { createWorld, SUBNET_BENCH } from '../test/egress/egress-fixture.js';
import { startRelay } from '../test/egress/harness.js';
import { percentile } from './bench-stats.js';

const run = promisify(execFile);
const LATENCY_REQUESTS = 300;
const CURL_REQUESTS = 50;
const SAMPLES_1MIB = 15;
const SAMPLES_100MIB = 5;
const SESSIONS = 10;
const TUNNELS_PER_SESSION = 100;
const UP = SUBNET_BENCH.upstreamIp;

type Row = Record<string, string | number>;
interface Stat {
  median: number;
  p90: number;
}

function stat(values: number[]): Stat {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p90: percentile(sorted, 90) };
}

/** SRT_BIN, else node_modules/.bin/srt, else undefined (srt rows are skipped). */
function findSrt(): string | undefined {
  const env = process.env.SRT_BIN;
  if (env && existsSync(env)) return env;
  return existsSync('node_modules/.bin/srt') ? 'node_modules/.bin/srt' : undefined;
}

/** Runs `script` in bash, through `srt -c` when `srt` is given (temp HOME with its settings). */
async function shell(script: string, srt?: { bin: string; home: string }): Promise<string> {
  const { stdout } = srt
    ? await run(srt.bin, ['-c', script], {
        env: { ...process.env, HOME: srt.home },
        cwd: srt.home,
        maxBuffer: 1 << 20,
      })
    : await run('bash', ['-c', script], { maxBuffer: 1 << 20 });
  return stdout;
}

/** `n` sequential curl processes (a new connection each); returns their total times in ms. */
async function curlTimes(
  n: number,
  args: string,
  srt?: { bin: string; home: string },
): Promise<number[]> {
  const out = await shell(
    `for i in $(seq ${n}); do curl -sS --fail -o /dev/null -w '%{time_total}\\n' ${args} || exit 1; done`,
    srt,
  );
  return out
    .trim()
    .split('\n')
    .map((l) => Number(l) * 1000);
}

/** curl download rates in MiB/s, `n` samples. */
async function curlRates(
  n: number,
  args: string,
  srt?: { bin: string; home: string },
): Promise<number[]> {
  const out = await shell(
    `for i in $(seq ${n}); do curl -sS --fail -o /dev/null -w '%{speed_download}\\n' ${args} || exit 1; done`,
    srt,
  );
  return out
    .trim()
    .split('\n')
    .map((l) => Number(l) / 1024 / 1024);
}

function row(metric: string, unit: string, direct: Stat, other: Stat, label: string): Row {
  const pct = unit === 'MiB/s' ? (other.median / direct.median) * 100 : undefined;
  return {
    metric,
    path: label,
    unit,
    median: other.median,
    p90: other.p90,
    'direct median': direct.median,
    'vs direct':
      pct === undefined
        ? `+${(other.median - direct.median).toFixed(2)} ms`
        : `${pct.toFixed(0)}% of direct`,
  };
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

async function latency(host: string, port: number, viaProxy: boolean): Promise<Stat> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 20; i++) await get(agent, host, port, '/echo', viaProxy);
  const times: number[] = [];
  for (let i = 0; i < LATENCY_REQUESTS; i++)
    times.push((await get(agent, host, port, '/echo', viaProxy))[0]);
  agent.destroy();
  return stat(times);
}

async function throughput(
  host: string,
  port: number,
  viaProxy: boolean,
  bytes: number,
  samples: number,
): Promise<Stat> {
  const agent = new Agent({ keepAlive: false });
  const rates: number[] = [];
  for (let i = 0; i < samples; i++) {
    const [ms, got] = await get(agent, host, port, `/bytes?n=${bytes}`, viaProxy);
    if (got !== bytes) throw new Error(`short read ${got}/${bytes}`);
    rates.push(bytes / 1024 / 1024 / (ms / 1000));
  }
  // For a rate, the slow tail is the low end: report p90 of time as its rate (10th percentile).
  const sorted = rates.sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p90: percentile(sorted, 10) };
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

/** The curl rows: per-request latency and 100 MiB rate, direct, ringfence and srt. */
async function curlRows(relayPort: number, dir: string): Promise<{ rows: Row[]; srt: string }> {
  const rows: Row[] = [];
  const direct = `http://${UP}`;
  const viaProxy = `--proxy http://127.0.0.1:${relayPort} http://api.example.test`;
  const bin = findSrt();
  let srt: { bin: string; home: string } | undefined;
  let srtNote = 'not installed (set SRT_BIN)';
  if (bin) {
    const home = await mkdtemp(join(dir, 'srt-home-'));
    await writeFile(
      join(home, '.srt-settings.json'),
      JSON.stringify({
        network: { allowedDomains: [UP], deniedDomains: [] },
        filesystem: { denyRead: [], allowWrite: [home], denyWrite: [] },
      }),
    );
    srt = { bin, home };
    srtNote = (await run(bin, ['--version'])).stdout.trim();
  } else console.error('srt not installed: set SRT_BIN or install @anthropic-ai/sandbox-runtime');
  await curlTimes(5, `${direct}/echo`);
  const lat = stat(await curlTimes(CURL_REQUESTS, `${direct}/echo`));
  await curlTimes(5, `${viaProxy}/echo`);
  const ours = stat(await curlTimes(CURL_REQUESTS, `${viaProxy}/echo`));
  rows.push(row('curl request, new connection', 'ms', lat, lat, 'direct'));
  rows.push(row('curl request, new connection', 'ms', lat, ours, 'ringfence'));
  if (srt) {
    // One srt sandbox runs the whole loop: the figure is per request, not srt's start-up.
    const theirs = stat(await curlTimes(CURL_REQUESTS, `${direct}/echo`, srt));
    rows.push(row('curl request, new connection', 'ms', lat, theirs, 'srt'));
  }
  const big = `/bytes?n=${100 << 20}`;
  const rate = (v: number[]): Stat => {
    const sorted = [...v].sort((a, b) => a - b);
    return { median: percentile(sorted, 50), p90: percentile(sorted, 10) };
  };
  const d = rate(await curlRates(SAMPLES_100MIB, `${direct}${big}`));
  rows.push(row('curl 100 MiB', 'MiB/s', d, d, 'direct'));
  rows.push(
    row(
      'curl 100 MiB',
      'MiB/s',
      d,
      rate(await curlRates(SAMPLES_100MIB, `${viaProxy}${big}`)),
      'ringfence',
    ),
  );
  if (srt)
    rows.push(
      row(
        'curl 100 MiB',
        'MiB/s',
        d,
        rate(await curlRates(SAMPLES_100MIB, `${direct}${big}`, srt)),
        'srt',
      ),
    );
  if (srt) await rm(srt.home, { recursive: true, force: true });
  return { rows, srt: srtNote };
}

const POLICY = {
  allow: ['api.example.test:80', 'api.example.test:8080'],
  deny: [],
  blockedPorts: [],
  resolve: { 'api.example.test': UP },
  rules: {},
};

/**
 * Child mode (`--serve <socket>`): the proxy in its own process, as in production, so the bench's
 * clients do not share its event loop. EGRESS_PROXY_MODULE may point at another build (before/after).
 */
async function serve(socketPath: string): Promise<void> {
  const mod = process.env.EGRESS_PROXY_MODULE ?? '../src/egress/egress-proxy.js';
  const { EgressProxy: Proxy } = (await import(mod)) as { EgressProxy: typeof EgressProxy };
  const proxy = new Proxy({ limits: { connectionsPerSecond: 10_000, connectionBurst: 10_000 } });
  await proxy.openSession({ sessionId: 'bench', socketPath, policy: POLICY });
  process.stdout.write('ready\n');
  process.stdin.resume();
  process.stdin.once('end', () => void proxy.close().then(() => process.exit(0)));
}

/** Starts the proxy child and waits until its session socket listens. */
async function startProxyProcess(socketPath: string): Promise<() => void> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1] ?? '', '--serve', socketPath],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`proxy process exited (${code})`)));
  });
  return () => child.stdin.end();
}

async function main(): Promise<void> {
  const skip = await netnsSkipReason();
  if (skip) {
    console.error(`egress bench skipped: ${skip}`);
    return;
  }
  const world = await createWorld(SUBNET_BENCH);
  const proxy = new EgressProxy({
    upstreamCa: [world.upstreamCa.certPem],
    limits: { connectionsPerSecond: 10_000, connectionBurst: 10_000 },
  });
  const policy = POLICY;
  const stopProxy = await startProxyProcess(join(world.dir, 'bench.sock'));
  try {
    const relay = await startRelay(
      join(world.dir, 'bench.sock'),
      Number(process.env.SOCAT_BLOCK ?? 131_072),
    );
    const rows: Row[] = [];
    const direct = await latency(UP, 80, false);
    const proxied = await latency('127.0.0.1', relay.port, true);
    rows.push(row('node keep-alive request', 'ms', direct, direct, 'direct'));
    rows.push(row('node keep-alive request', 'ms', direct, proxied, 'ringfence'));
    for (const [label, n, samples] of [
      ['1 MiB', 1 << 20, SAMPLES_1MIB],
      ['100 MiB', 100 << 20, SAMPLES_100MIB],
    ] as const) {
      const d = await throughput(UP, 80, false, n, samples);
      const p = await throughput('127.0.0.1', relay.port, true, n, samples);
      rows.push(row(`node ${label}`, 'MiB/s', d, d, 'direct'));
      rows.push(row(`node ${label}`, 'MiB/s', d, p, 'ringfence'));
    }
    const curlPart = await curlRows(relay.port, world.dir);
    rows.push(...curlPart.rows);
    relay.stop();
    stopProxy();

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
    rows.push({
      metric: `concurrent tunnels (${SESSIONS}x${TUNNELS_PER_SESSION})`,
      path: 'ringfence',
      unit: 'tunnels',
      median: ok,
      p90: '-',
      'direct median': '-',
      'vs direct': `${results.length - ok} errors, ${Date.now() - started} ms`,
    });
    for (const r of results) if (r.status === 'fulfilled') r.value.destroy();

    console.table(
      rows.map((r) =>
        Object.fromEntries(
          Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(2)) : v]),
        ),
      ),
    );
    await mkdir('bench/results', { recursive: true });
    await writeFile(
      'bench/results/egress.json',
      `${JSON.stringify(
        {
          at: new Date().toISOString(),
          node: process.version,
          relay: `socat -b ${process.env.SOCAT_BLOCK ?? 131_072} TCP->unix (nodelay)`,
          proxy: 'separate node process (as in production); tunnels test in-process',
          srt: curlPart.srt,
          note: 'throughput p90 = the 10th-percentile rate (p90 of transfer time)',
          rows,
        },
        null,
        2,
      )}\n`,
    );
    console.error('wrote bench/results/egress.json');
  } finally {
    stopProxy();
    await proxy.close();
    await world.destroy();
  }
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt > 0) await serve(process.argv[serveAt + 1] ?? '');
else await main();

// Egress proxy figures: request latency and 1 MiB / 100 MiB throughput direct vs through the
// relay + proxy (also from inside a real sandbox), the same curl requests through Anthropic's sandbox-runtime (srt)
// proxy, and 1,000 concurrent tunnels from 10 sessions. Medians and p90 of repeated samples.
// Run: SRT_BIN=/path/to/srt node --import tsx bench/egress.bench.ts (root, iproute2, socat, curl).
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { EgressProxy } from '../src/egress/egress-proxy.js';
import { RelayProcess, relayBinary } from '../src/egress/relay-process.js';
import { policySchema } from '../src/policy/policy-schema.js';
import { BubblewrapDriver } from '../src/sandbox/bubblewrap/bubblewrap-driver.js';
import type { Sandbox } from '../src/sandbox/driver.js';
import { provisionSandbox } from '../src/sandbox/provision.js';
import { netnsSkipReason } from '../test/helpers/netns.js';
import { createWorld, SUBNET_BENCH, type EgressWorld } from '../test/egress/egress-fixture.js';
import { startRelay } from '../test/egress/harness.js';
import { percentile } from './bench-stats.js';

const run = promisify(execFile);
const LATENCY_REQUESTS = 300;
const CURL_REQUESTS = 50;
const SAMPLES_1MIB = 15;
const SAMPLES_100MIB = 9;
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

/** Where a curl loop runs: on the host, in srt, or in a ringfence sandbox. */
type Runner = (script: string) => Promise<string>;

const onHost: Runner = async (script) =>
  (await run('bash', ['-c', script], { maxBuffer: 1 << 20 })).stdout;

/** `srt -c` with a temp HOME holding its settings. */
function inSrt(srt: { bin: string; home: string }): Runner {
  return async (script) =>
    (
      await run(srt.bin, ['-c', script], {
        env: { ...process.env, HOME: srt.home },
        cwd: srt.home,
        maxBuffer: 1 << 20,
      })
    ).stdout;
}

/** A shell inside a real ringfence sandbox (its egress: relay + the session's proxy). */
function inSandbox(sb: Sandbox): Runner {
  return async (script) => {
    const r = await sb.exec(['/bin/bash', '-c', script], { timeoutMs: 600_000 });
    if (r.exitCode !== 0) throw new Error(`sandbox curl failed: ${r.stderr.slice(0, 500)}`);
    return r.stdout;
  };
}

/** `n` sequential curl processes (a new connection each); each one's `-w` variable. */
async function curlLoop(
  n: number,
  variable: string,
  args: string,
  runner: Runner,
): Promise<number[]> {
  const out = await runner(
    `for i in $(seq ${n}); do curl -sS --fail -o /dev/null -w '%{${variable}}\\n' ${args} || exit 1; done`,
  );
  return out.trim().split('\n').map(Number);
}

/** Total times in ms of `n` curl requests. */
async function curlTimes(n: number, args: string, runner: Runner = onHost): Promise<number[]> {
  return (await curlLoop(n, 'time_total', args, runner)).map((s) => s * 1000);
}

/**
 * `n` requests on one kept-alive connection (curl's URL glob, one process): each one's total time
 * in ms, but the first, which also connects.
 */
async function curlKeptAlive(n: number, url: string, runner: Runner): Promise<number[]> {
  const out = await runner(`curl -sS --fail -w '\\nrf-time %{time_total}\\n' '${url}?i=[0-${n}]'`);
  const times = out.split('\n').filter((line) => line.startsWith('rf-time '));
  if (times.length !== n + 1)
    throw new Error(`curl kept-alive: ${times.length} of ${n + 1} answers`);
  return times.slice(1).map((line) => Number(line.slice(8)) * 1000);
}

/** curl download rates in MiB/s, `n` samples. */
async function curlRates(n: number, args: string, runner: Runner = onHost): Promise<number[]> {
  return (await curlLoop(n, 'speed_download', args, runner)).map((b) => b / 1024 / 1024);
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

/**
 * The anchor for the cost of any TCP relay hop on this machine: a minimal forwarder that splices
 * both directions of each connection to `host:port` (python3 os.splice; no policy, no proxy). On
 * 2 cores a raw stream through it loses a third to over half of its rate: what is left of
 * "direct" for ringfence is set by that hop as much as by ringfence. The sockmap anchor below is
 * the same hop with no process in the byte path at all.
 */
const SPLICE_FORWARDER = `
import os, socket, sys, threading
def pump(a, b):
    r, w = os.pipe()
    try:
        while True:
            n = os.splice(a.fileno(), w, 262144)
            if n <= 0: break
            while n > 0: n -= os.splice(r, b.fileno(), n)
    except OSError: pass
    try: b.shutdown(socket.SHUT_WR)
    except OSError: pass
    os.close(r); os.close(w)
def serve(c):
    u = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    t = threading.Thread(target=pump, args=(u, c)); t.start(); pump(c, u); t.join(); c.close(); u.close()
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(16)
print(l.getsockname()[1], flush=True)
while True:
    c, _ = l.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

interface Forwarder {
  port: number;
  stop: () => void;
}

/** Starts a forwarder child that prints its local port first; resolves that port. */
async function startForwarder(name: string, cmd: string, args: string[]): Promise<Forwarder> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const local = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${name} exited ${code}`)));
  });
  return { port: local, stop: () => child.kill('SIGKILL') };
}

/**
 * The latency anchor: the smallest Node forward proxy (http server -> http.request on a new
 * upstream connection -> pipe back; no policy, no relay). Node's own cost of a proxied request.
 */
const NODE_FORWARD_PROXY = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: false });
const [host, port] = process.argv.slice(1);
const server = http.createServer((req, res) => {
  const u = new URL(req.url);
  const up = http.request(
    { host, port: Number(port), path: u.pathname + u.search, method: req.method, headers: req.headers, agent },
    (r) => { res.writeHead(r.statusCode, r.headers); r.pipe(res); },
  );
  up.on('error', () => res.destroy());
  req.pipe(up);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/** The splice anchor to host:port. */
function startSpliceForwarder(host: string, port: number): Promise<Forwarder> {
  return startForwarder('splice forwarder', 'python3', [
    '-c',
    SPLICE_FORWARDER,
    host,
    String(port),
  ]);
}

/**
 * The second anchor: the same hop joined inside the kernel (bench/anchors/sockmap-forwarder.c, a
 * BPF sockhash redirecting each socket's bytes to the other's send side; no user-space copy,
 * no process in the byte path). Undefined, with the reason printed, where it cannot run (no gcc,
 * not root, a kernel without sockmap).
 */
async function startSockmapForwarder(
  dir: string,
  host: string,
  port: number,
): Promise<Forwarder | undefined> {
  const bin = join(dir, 'sockmap-forwarder');
  const src = new URL('./anchors/sockmap-forwarder.c', import.meta.url).pathname;
  try {
    await run('gcc', ['-O2', '-o', bin, src, '-lpthread']);
    return await startForwarder('sockmap forwarder', bin, [host, String(port)]);
  } catch (err) {
    console.error(`sockmap anchor row skipped: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

/**
 * The curl rows: per-request latency and 100 MiB rates over HTTP and HTTPS, direct on the host,
 * through ringfence's relay + proxy (host-side curl, and curl inside a real bubblewrap sandbox),
 * and through srt.
 */
async function curlRows(
  relayPort: number,
  world: EgressWorld,
  sandbox: Sandbox | undefined,
): Promise<{ rows: Row[]; srt: string }> {
  const rows: Row[] = [];
  const ca = `--cacert ${world.upstreamCaPath}`;
  // "tunnel": plain HTTP carried in a CONNECT tunnel (curl -p), the spliced path without TLS.
  const direct = {
    http: `http://${UP}`,
    https: `${ca} https://${UP}`,
    tunnel: `http://${UP}:8080`,
  };
  const proxied = `--proxy http://127.0.0.1:${relayPort}`;
  const viaProxy = {
    http: `${proxied} http://api.example.test`,
    https: `${proxied} ${ca} https://api.example.test`,
    tunnel: `${proxied} -p http://api.example.test:8080`,
  };
  // In the sandbox the proxy comes from its env (HTTP(S)_PROXY -> its relay on 127.0.0.1:3128).
  const inBox = {
    http: 'http://api.example.test',
    https: '--cacert ca.pem https://api.example.test',
    tunnel: '-p http://api.example.test:8080',
  };
  const bin = findSrt();
  let srt: { bin: string; home: string } | undefined;
  let srtNote = 'not installed (set SRT_BIN)';
  if (bin) {
    const home = await mkdtemp(join(world.dir, 'srt-home-'));
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
  await curlTimes(5, `${direct.http}/echo`);
  const lat = stat(await curlTimes(CURL_REQUESTS, `${direct.http}/echo`));
  await curlTimes(5, `${viaProxy.http}/echo`);
  const ours = stat(await curlTimes(CURL_REQUESTS, `${viaProxy.http}/echo`));
  rows.push(row('curl request, new connection', 'ms', lat, lat, 'direct'));
  rows.push(row('curl request, new connection', 'ms', lat, ours, 'ringfence (host curl)'));
  const nodeProxy = await startForwarder('node forward proxy', process.execPath, [
    '-e',
    NODE_FORWARD_PROXY,
    UP,
    '80',
  ]);
  const viaNode = `--proxy http://127.0.0.1:${nodeProxy.port} http://${UP}/echo`;
  await curlTimes(5, viaNode);
  const floor = stat(await curlTimes(CURL_REQUESTS, viaNode));
  nodeProxy.stop();
  rows.push(
    row('curl request, new connection', 'ms', lat, floor, 'bare Node forward proxy (anchor)'),
  );
  if (sandbox) {
    // curl inside the sandbox: its relay on the sandbox's own 127.0.0.1:3128, the proxy outside
    await curlTimes(5, `${inBox.http}/echo`, inSandbox(sandbox));
    const boxed = stat(await curlTimes(CURL_REQUESTS, `${inBox.http}/echo`, inSandbox(sandbox)));
    rows.push(row('curl request, new connection', 'ms', lat, boxed, 'ringfence (in sandbox)'));
  }
  if (srt) {
    // One srt sandbox runs the whole loop: the figure is per request, not srt's start-up.
    const theirs = stat(await curlTimes(CURL_REQUESTS, `${direct.http}/echo`, inSrt(srt)));
    rows.push(row('curl request, new connection', 'ms', lat, theirs, 'srt'));
  }
  // What an agent's HTTP client mostly does: HTTPS, and requests on a kept-alive connection.
  // Each with the URLs it fetches: the sandbox's go through its proxy env, srt's are direct.
  const others: [string, { http: string; https: string }, Runner][] = [
    ...(sandbox
      ? [['ringfence (in sandbox)', inBox, inSandbox(sandbox)] as [string, typeof inBox, Runner]]
      : []),
    ...(srt ? [['srt', direct, inSrt(srt)] as [string, typeof direct, Runner]] : []),
  ];
  const tlsDirect = stat(await curlTimes(CURL_REQUESTS, `${direct.https}/echo`));
  rows.push(row('curl HTTPS request, new connection', 'ms', tlsDirect, tlsDirect, 'direct'));
  for (const [label, urls, runner] of others) {
    await curlTimes(5, `${urls.https}/echo`, runner);
    const t = stat(await curlTimes(CURL_REQUESTS, `${urls.https}/echo`, runner));
    rows.push(row('curl HTTPS request, new connection', 'ms', tlsDirect, t, label));
  }
  const keptDirect = stat(await curlKeptAlive(LATENCY_REQUESTS, `${direct.http}/echo`, onHost));
  rows.push(row('curl request, kept-alive connection', 'ms', keptDirect, keptDirect, 'direct'));
  for (const [label, urls, runner] of others) {
    const t = stat(await curlKeptAlive(LATENCY_REQUESTS, `${urls.http}/echo`, runner));
    rows.push(row('curl request, kept-alive connection', 'ms', keptDirect, t, label));
  }
  const big = `/bytes?n=${100 << 20}`;
  const rate = (v: number[]): Stat => {
    const sorted = [...v].sort((a, b) => a - b);
    return { median: percentile(sorted, 50), p90: percentile(sorted, 10) };
  };
  const metrics = {
    http: 'curl HTTP 100 MiB',
    https: 'curl HTTPS 100 MiB',
    tunnel: 'curl HTTP in CONNECT 100 MiB',
  };
  const forwarder = await startSpliceForwarder(UP, 80);
  const sockmap = await startSockmapForwarder(world.dir, UP, 80);
  for (const proto of ['http', 'https', 'tunnel'] as const) {
    const metric = metrics[proto];
    const srtArgs = proto === 'tunnel' ? `-p ${direct[proto]}` : direct[proto];
    const paths: [string, string, Runner][] = [
      ['direct', direct[proto], onHost],
      ...(proto === 'http'
        ? [
            [
              'splice forwarder, no policy (anchor)',
              `http://127.0.0.1:${forwarder.port}`,
              onHost,
            ] as [string, string, Runner],
            ...(sockmap
              ? [
                  [
                    'in-kernel sockmap hop, no policy (anchor)',
                    `http://127.0.0.1:${sockmap.port}`,
                    onHost,
                  ] as [string, string, Runner],
                ]
              : []),
          ]
        : []),
      ['ringfence (host curl)', viaProxy[proto], onHost],
      ...(sandbox
        ? [['ringfence (in sandbox)', inBox[proto], inSandbox(sandbox)] as [string, string, Runner]]
        : []),
      ...(srt ? [['srt', srtArgs, inSrt(srt)] as [string, string, Runner]] : []),
    ];
    // Samples interleaved across the paths, so drift in the machine's load hits them alike.
    const samples = paths.map(() => [] as number[]);
    for (let i = 0; i < SAMPLES_100MIB; i++)
      for (const [k, [, args, runner]] of paths.entries())
        samples[k]?.push(...(await curlRates(1, `${args}${big}`, runner)));
    const d = rate(samples[0] ?? []);
    for (const [k, [label]] of paths.entries())
      rows.push(row(metric, 'MiB/s', d, rate(samples[k] ?? []), label));
  }
  forwarder.stop();
  sockmap?.stop();
  if (srt) await rm(srt.home, { recursive: true, force: true });
  return { rows, srt: srtNote };
}

const POLICY = {
  allow: ['api.example.test', 'api.example.test:80', 'api.example.test:8080'],
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
  const session = await proxy.openSession({ sessionId: 'bench', socketPath, policy: POLICY });
  // The relay that production starts per sandbox, here on the host's loopback; socat when the
  // C relay is not built (RELAY=socat forces it, for a before/after).
  let port = 0;
  if (relayBinary() && process.env.RELAY !== 'socat') {
    const relay = await RelayProcess.start({ socketPath, port: 0 });
    session.attachRelay(relay);
    port = relay.port;
  }
  process.stdout.write(`ready ${port}\n`);
  process.stdin.resume();
  process.stdin.once('end', () => void proxy.close().then(() => process.exit(0)));
}

/** Starts the proxy child; resolves its C relay's port (0: none) and how to stop it. */
async function startProxyProcess(
  socketPath: string,
): Promise<{ stop: () => void; relayPort: number }> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1] ?? '', '--serve', socketPath],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const relayPort = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      const m = /ready (\d+)/.exec(d.toString());
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`proxy process exited (${code})`)));
  });
  return { stop: () => child.stdin.end(), relayPort };
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
  const child = await startProxyProcess(join(world.dir, 'bench.sock'));
  const stopProxy = child.stop;
  const driver = new BubblewrapDriver();
  let sandbox: Sandbox | undefined;
  try {
    const block = Number(process.env.SOCAT_BLOCK ?? 131_072);
    const relay = child.relayPort
      ? { port: child.relayPort, stop: () => undefined }
      : await startRelay(join(world.dir, 'bench.sock'), block);
    const relayKind = child.relayPort
      ? 'rf-relay (C; approved CONNECT tunnels and plain-HTTP response bodies dialled and spliced by it)'
      : `socat -b ${block} TCP->unix (nodelay)`;
    // The production path: a bubblewrap sandbox whose egress is its own relay + this process's
    // proxy session (skipped without bwrap).
    sandbox = await provisionSandbox(driver, {
      workspace: await mkdtemp(join(world.dir, 'ws-')),
      sessionId: 'bench-sandbox',
      policy: policySchema.parse({ network: POLICY }),
      egress: { proxy },
    }).catch((err: unknown) => {
      console.error(`in-sandbox rows skipped: ${(err as Error).message}`);
      return undefined;
    });
    await sandbox?.writeFile('ca.pem', await readFile(world.upstreamCaPath));
    const rows: Row[] = [];
    const direct = await latency(UP, 80, false);
    const proxied = await latency('127.0.0.1', relay.port, true);
    rows.push(row('node keep-alive request', 'ms', direct, direct, 'direct'));
    rows.push(row('node keep-alive request', 'ms', direct, proxied, 'ringfence'));
    // Every latency row before any bulk transfer: after them every path measured 0.1-0.3 ms
    // slower for a while here, the bare Node proxy in its own fresh process included.
    const curlPart = await curlRows(relay.port, world, sandbox);
    const nodeRates: Row[] = [];
    for (const [label, n, samples] of [
      ['1 MiB', 1 << 20, SAMPLES_1MIB],
      ['100 MiB', 100 << 20, SAMPLES_100MIB],
    ] as const) {
      const d = await throughput(UP, 80, false, n, samples);
      const p = await throughput('127.0.0.1', relay.port, true, n, samples);
      nodeRates.push(row(`node ${label}`, 'MiB/s', d, d, 'direct'));
      nodeRates.push(row(`node ${label}`, 'MiB/s', d, p, 'ringfence'));
    }
    rows.push(...nodeRates, ...curlPart.rows);
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
          relay: relayKind,
          proxy:
            'host-curl and node rows: proxy in its own node process; in-sandbox rows: proxy in the bench process (as in ringfence run); tunnels test in-process',
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
    await sandbox?.destroy();
    await driver.close();
    stopProxy();
    await proxy.close();
    await world.destroy();
  }
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt > 0) await serve(process.argv[serveAt + 1] ?? '');
else await main();

// Plain HTTP through the C relay (src/egress/relay.c): the relay dials the pinned IP on the
// proxy's word and splices response bodies the proxy need not see; every decision, limit and
// event stays with the proxy. Real traffic: upstreams in a network namespace, the relay as nobody.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { EgressProxy } from '../../src/egress/egress-proxy.js';
import type { EgressSession } from '../../src/egress/egress-session.js';
import type { DecisionEvent } from '../../src/egress/events.js';
import {
  RelayProcess,
  relayBinary,
  type BodyAt,
  type BodyEnd,
  type RelayLink,
  type SplicedBody,
  type SplicedTunnel,
} from '../../src/egress/relay-process.js';
import type { SessionLimits } from '../../src/egress/limits.js';
import { missingRoot } from '../helpers/capabilities.js';
import { netnsSkipReason, waitForLine } from '../helpers/netns.js';
import { createWorld, type EgressWorld, type Subnet } from './egress-fixture.js';
import { curl } from './harness.js';

const skip =
  missingRoot() ??
  (await netnsSkipReason()) ??
  (relayBinary() ? undefined : 'build/rf-relay is not built (scripts/build-supervisor.sh)');
if (skip) console.error(`SKIP egress relay HTTP tests: ${skip}`);

/** This file's own /28 (relay.test.ts has 198.51.100.192/28). */
const SUBNET: Subnet = { hostIp: '198.51.100.209', upstreamIp: '198.51.100.210', prefix: 28 };
const UP = SUBNET.upstreamIp;
/** In the subnet, assigned to nothing: a dial there hangs until ARP gives up. */
const BLACKHOLE = '198.51.100.211';
const PORT = 8081;
const API = `http://api.example.test:${PORT}`;
/** The same server, ending each connection 50 ms after a response. */
const QUICK = `http://api.example.test:${PORT + 1}`;
/** The same server, answering one request per connection: it closes on the second. */
const ONCE = `http://api.example.test:${PORT + 2}`;
/** Allowed, and nothing listens there: a dial is refused at once. */
const CLOSED = `http://api.example.test:${PORT + 3}`;
const NOBODY = 65534;
const MIB = 1024 * 1024;
const CANARY = `rf-canary-${randomBytes(8).toString('hex')}`;

/** Bodies with a known sha256 (X-Sha256): random, chunked, close-delimited; 204, 304, uploads. */
const SERVER = `
const http = require('node:http');
const { createHash, randomBytes } = require('node:crypto');
const sha = (b) => createHash('sha256').update(b).digest('hex');
const handler = (req, res) => {
  const url = new URL(req.url, 'http://x');
  const n = Number(url.searchParams.get('n') ?? '0');
  if (url.pathname === '/upload') {
    const h = createHash('sha256');
    let length = 0;
    req.on('data', (d) => { h.update(d); length += d.length; });
    return req.on('end', () => {
      const body = JSON.stringify({ length, sha256: h.digest('hex') });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
      res.end(body);
    });
  }
  if (url.pathname === '/nocontent') return res.writeHead(204).end();
  if (url.pathname === '/notmodified') return res.writeHead(304, { ETag: '"x"' }).end();
  const body = randomBytes(n);
  if (url.pathname === '/random') {
    res.writeHead(200, { 'Content-Length': n, 'X-Sha256': sha(body) });
    return res.end(body);
  }
  if (url.pathname === '/chunked') {
    res.writeHead(200, { 'X-Sha256': sha(body) }); // no length: chunked
    for (let i = 0; i < n; i += 100000) res.write(body.subarray(i, i + 100000));
    return res.end();
  }
  if (url.pathname === '/close') {
    res.useChunkedEncodingByDefault = false; // no length, not chunked: ends with the connection
    res.writeHead(200, { 'X-Sha256': sha(body), Connection: 'close' });
    return res.end(body);
  }
  res.writeHead(404).end();
};
const port = Number(process.argv[3]);
http.createServer(handler).listen(port, process.argv[2], () => {
  // the same on the next port, ending each connection 50 ms after a response (kept alive till then)
  const quick = http.createServer((req, res) => {
    res.on('finish', () => setTimeout(() => req.socket.end(), 50));
    handler(req, res);
  });
  // one answer per connection, kept alive: a second request finds the connection closing, as
  // when a server's keep-alive timeout strikes just as the request arrives
  const once = http.createServer((req, res) => {
    if (req.socket.answered) return req.socket.destroy();
    req.socket.answered = true;
    handler(req, res);
  });
  quick.listen(port + 1, process.argv[2], () =>
    once.listen(port + 2, process.argv[2], () => console.log('special ready')),
  );
});
`;

const policy = {
  allow: [
    'api.example.test:80',
    `api.example.test:${PORT}`,
    `api.example.test:${PORT + 1}`,
    `api.example.test:${PORT + 2}`,
    `api.example.test:${PORT + 3}`,
    'bound.example.test:80',
    'blackhole.example.test:80',
  ],
  deny: [],
  blockedPorts: [],
  resolve: {
    'api.example.test': UP,
    'other.example.test': UP,
    'bound.example.test': UP,
    'blackhole.example.test': BLACKHOLE,
  },
  rules: {
    [`api.example.test:${PORT}`]: {
      methods: ['GET', 'HEAD', 'POST'],
      paths: ['/random', '/chunked', '/close', '/nocontent', '/notmodified', '/upload'],
    },
  },
};

interface BodyRecord {
  id: string;
  length: number;
  /** What the relay said after BODY: body bytes already on the leg, and what follows. */
  at?: BodyAt;
  /** Spliced bytes and how the splice ended (when the rest was `held`). */
  bytes?: number;
  why?: BodyEnd;
}

/** The relay as the session sees it, recording the hand-offs (bodies, copies, upstreams). */
class SpyRelay implements RelayLink {
  readonly upstreams: string[] = [];
  readonly bodies: BodyRecord[] = [];
  readonly copies: string[] = [];
  /** The ids of the legs the relay brought: a connection's, or 0 for one opened ahead. */
  readonly claims: string[] = [];
  readonly #inner: RelayProcess;

  constructor(inner: RelayProcess) {
    this.#inner = inner;
  }

  dial(id: string, ip: string, port: number): Promise<number> {
    return this.#inner.dial(id, ip, port);
  }
  splice(id: string, idleMs: number, tunnel: SplicedTunnel): void {
    this.#inner.splice(id, idleMs, tunnel);
  }
  pass(id: string): void {
    this.#inner.pass(id);
  }
  drop(id: string): void {
    this.#inner.drop(id);
  }
  upstream(id: string, ip: string, port: number): ReturnType<RelayLink['upstream']> {
    this.upstreams.push(id);
    return this.#inner.upstream(id, ip, port);
  }
  claimLeg(id: string, nonce: string, socket: Socket): boolean {
    const claimed = this.#inner.claimLeg(id, nonce, socket);
    if (claimed) this.claims.push(id);
    return claimed;
  }
  openAhead(): void {
    this.#inner.openAhead();
  }
  async bodyAt(id: string, length: number): Promise<BodyAt> {
    const record: BodyRecord = { id, length };
    this.bodies.push(record);
    record.at = await this.#inner.bodyAt(id, length);
    return record.at;
  }
  body(id: string, after: number, idleMs: number, body: SplicedBody): void {
    const record = this.bodies.at(-1) ?? { id, length: NaN };
    this.#inner.body(id, after, idleMs, {
      onBytes: (bytes) => body.onBytes(bytes),
      onEnd: (bytes, why) => {
        Object.assign(record, { bytes, why });
        body.onEnd(bytes, why);
      },
    });
  }
  copy(id: string): void {
    this.copies.push(id);
    this.#inner.copy(id);
  }
  rearm(id: string): Promise<number> {
    return this.#inner.rearm(id);
  }
}

/** A raw client connection: exact request bytes out, responses parsed in order. */
class RawClient {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  #chunks: Buffer[] = [];
  #length = 0;
  #ended = false;
  #wake: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    const wake = (): void => this.#wake?.();
    socket.on('data', (d: Buffer) => {
      this.#chunks.push(d);
      this.#length += d.length;
      wake();
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#ended = true;
        wake();
        resolve();
      }),
    );
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  send(text: string): void {
    this.socket.write(text);
  }

  /** The next response; `method` of the request it answers (HEAD has no body). */
  async response(method = 'GET'): Promise<Reply> {
    for (;;) {
      const head = (await this.#until('\r\n\r\n')).toString('latin1');
      const [line = '', ...fields] = head.slice(0, -4).split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(line)?.[1] ?? 0);
      if (status >= 100 && status < 200) continue;
      const headers: Record<string, string> = {};
      for (const f of fields) {
        const i = f.indexOf(':');
        headers[f.slice(0, i).trim().toLowerCase()] = f.slice(i + 1).trim();
      }
      return { status, headers, body: await this.#body(method, status, headers) };
    }
  }

  async #body(method: string, status: number, headers: Record<string, string>): Promise<Buffer> {
    if (method === 'HEAD' || status === 204 || status === 304) return Buffer.alloc(0);
    if (headers['transfer-encoding'] === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const size = parseInt((await this.#until('\r\n')).toString('latin1'), 16);
        if (size === 0) {
          await this.#until('\r\n');
          return Buffer.concat(parts);
        }
        parts.push(await this.#take(size));
        await this.#take(2);
      }
    }
    if (headers['content-length'] !== undefined)
      return this.#take(Number(headers['content-length']));
    await this.closed;
    return this.#take(this.#length);
  }

  async #more(): Promise<void> {
    if (this.#ended) throw new Error('connection closed');
    await new Promise<void>((resolve) => (this.#wake = resolve));
    this.#wake = undefined;
  }

  #flat(): Buffer {
    if (this.#chunks.length !== 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  async #until(separator: string): Promise<Buffer> {
    for (;;) {
      const i = this.#length ? this.#flat().indexOf(separator) : -1;
      if (i >= 0) return this.#take(i + separator.length);
      await this.#more();
    }
  }

  async #take(n: number): Promise<Buffer> {
    while (this.#length < n) await this.#more();
    const all = this.#flat();
    this.#chunks = [all.subarray(n)];
    this.#length -= n;
    return all.subarray(0, n);
  }
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** An absolute-form request (Host matching unless given). */
function request(method: string, url: string, extra = ''): string {
  const host = /^http:\/\/([^/]+)/.exec(url)?.[1] ?? '';
  const hostHeader = /^Host:/im.test(extra) ? '' : `Host: ${host}\r\n`;
  return `${method} ${url} HTTP/1.1\r\n${hostHeader}${extra}\r\n`;
}

/** Expects a response carrying the body the upstream announced in X-Sha256. */
function expectIntact(r: Reply, length: number): void {
  expect(r.status).toBe(200);
  expect(r.body.length).toBe(length);
  expect(sha256(r.body)).toBe(r.headers['x-sha256']);
}

describe.skipIf(skip)('the C relay splices plain-HTTP response bodies', () => {
  let world: EgressWorld;
  let dir: string;
  let proxy: EgressProxy;
  let server: ChildProcess;
  const decisions: DecisionEvent[] = [];
  const relays: RelayProcess[] = [];

  /** A session with its own relay behind a spy; `limits` override the session's defaults. */
  async function relayed(
    name: string,
    limits: Partial<SessionLimits> = {},
  ): Promise<{ session: EgressSession; spy: SpyRelay; port: number; relayPid: number }> {
    const socketPath = join(dir, `${name}.sock`);
    const session = await proxy.openSession({
      sessionId: name,
      policy,
      socketPath,
      limits,
      secrets: [
        {
          name: 'BOUND_TOKEN',
          value: CANARY,
          hosts: ['bound.example.test'],
          header: 'Authorization',
          format: 'Bearer {value}',
        },
      ],
    });
    await chown(socketPath, NOBODY, NOBODY);
    const relay = await RelayProcess.start({ socketPath, port: 0, uid: NOBODY });
    relays.push(relay);
    const spy = new SpyRelay(relay);
    session.attachRelay(spy);
    return { session, spy, port: relay.port, relayPid: relay.pid ?? 0 };
  }

  const eventsOf = (sessionId: string) => decisions.filter((d) => d.sessionId === sessionId);

  beforeAll(async () => {
    world = await createWorld(SUBNET);
    dir = await mkdtemp(join(tmpdir(), 'rf-relay-http-'));
    await mkdir(dir, { recursive: true });
    await chown(dir, NOBODY, NOBODY);
    const script = join(dir, 'special-server.cjs');
    await writeFile(script, SERVER);
    server = world.netns.spawn(process.execPath, [script, UP, String(PORT)]);
    await waitForLine(server, 'special ready');
    proxy = new EgressProxy({ ca: world.proxyCa, upstreamCa: [world.upstreamCa.certPem] });
    proxy.subscribe((ev) => decisions.push(ev));
  }, 30_000);

  afterAll(async () => {
    for (const r of relays) r.stop();
    server?.kill('SIGKILL');
    await proxy?.close();
    await world?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('splices a 6 MiB download intact and reports it: event bytes, spliced bytes, session bytes', async () => {
    const { session, spy, port } = await relayed('bulk');
    const n = 6 * MIB;
    const out = join(dir, 'bulk.bin');
    const r = await curl(port, ['-o', out, `${API}/random?n=${n}`]);
    expect(r.exitCode).toBe(0);
    const body = await readFile(out);
    expect(body.length).toBe(n);
    expect(sha256(body)).toBe(/^x-sha256: *(\w+)/im.exec(r.headers)?.[1]);
    await expect.poll(() => eventsOf('bulk').length).toBe(1);
    const [event] = eventsOf('bulk');
    expect(event).toMatchObject({ allowed: true, reason: 'allowed', kind: 'http', ip: UP });
    expect(event?.port).toBe(PORT);
    // head + body: the body's bytes were counted from the relay's reports, never read here
    expect(event?.bytesIn).toBeGreaterThan(n);
    expect(event?.bytesIn).toBeLessThan(n + 1024);
    // what came ahead on the leg went through the proxy, the rest was spliced
    expect(spy.bodies).toMatchObject([{ id: spy.upstreams[0], length: n, why: 'done' }]);
    const [spliced] = spy.bodies;
    expect(spliced?.at?.rest).toBe('held');
    expect((spliced?.at?.bytes ?? 0) + (spliced?.bytes ?? 0)).toBe(n);
    expect(spliced?.bytes).toBeGreaterThan(n - 128 * 1024);
    expect(spy.copies).toEqual([]);
    expect(session.stats().bytes).toBeGreaterThanOrEqual(n);
    await session.close();
  });

  it('decides every later request of a kept-alive connection: host, method, path, Host header', async () => {
    const { session, spy, port } = await relayed('keepalive');
    const c = await RawClient.open(port);
    c.send(request('GET', `${API}/random?n=${MIB}`));
    expectIntact(await c.response(), MIB);
    const refusals: [string, string][] = [
      [request('GET', 'http://other.example.test/echo'), 'host_not_allowed'],
      [request('DELETE', `${API}/random?n=5`), 'method_not_allowed'],
      [request('GET', `${API}/secret`), 'path_not_allowed'],
      [request('GET', `${API}/random?n=5`, 'Host: other.example.test\r\n'), 'host_header_mismatch'],
      // the client's own relay header on a later request is only a header
      [
        request('GET', 'http://other.example.test/', `X-Ringfence-Relay: ${spy.upstreams[0]}\r\n`),
        'host_not_allowed',
      ],
    ];
    for (const [text, reason] of refusals) {
      c.send(text);
      const r = await c.response();
      expect([r.status, r.headers['x-proxy-error']]).toEqual([403, reason]);
    }
    c.send(request('GET', `${API}/random?n=${2 * MIB}`));
    expectIntact(await c.response(), 2 * MIB);
    // the client may have the last byte before the relay's BODYEND line is read
    await expect
      .poll(() => spy.bodies.map((b) => [b.length, b.at?.rest, b.why]))
      .toEqual([
        [MIB, 'held', 'done'],
        [2 * MIB, 'held', 'done'],
      ]);
    // the relay kept its upstream and leg for the second download
    expect(spy.upstreams).toHaveLength(1);
    expect(c.socket.destroyed).toBe(false);
    c.socket.destroy();
    await session.close();
  });

  it('answers pipelined requests in order: spliced, refused, copied, HEAD and 204 bodies', async () => {
    const { session, spy, port } = await relayed('pipelined');
    const c = await RawClient.open(port);
    c.send(
      [
        request('GET', `${API}/random?n=${2 * MIB}`),
        request('GET', 'http://other.example.test/echo'),
        request('GET', 'http://api.example.test/echo'),
        request('HEAD', `${API}/random?n=5000`),
        request('GET', `${API}/nocontent`),
        request('GET', `${API}/random?n=300000`),
      ].join(''),
    );
    expectIntact(await c.response(), 2 * MIB);
    const refused = await c.response();
    expect([refused.status, refused.headers['x-proxy-error']]).toEqual([403, 'host_not_allowed']);
    const echo = await c.response();
    expect(echo.status).toBe(200);
    const seen = JSON.parse(echo.body.toString()) as { url: string; headers: object };
    expect(seen.url).toBe('/echo');
    // the relay's mark never goes upstream
    expect(Object.keys(seen.headers)).not.toContain('x-ringfence-relay');
    const head = await c.response('HEAD');
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([
      200,
      '5000',
      0,
    ]);
    expect((await c.response()).status).toBe(204);
    expectIntact(await c.response(), 300000);
    await expect
      .poll(() => spy.bodies.map((b) => [b.length, b.at?.rest, b.why]))
      .toEqual([
        [2 * MIB, 'held', 'done'],
        [0, 'next', undefined], // HEAD and 204: nothing to splice
        [0, 'next', undefined],
        [300000, 'held', 'done'],
      ]);
    expect(spy.copies).toHaveLength(1); // /echo is chunked: the proxy copies it
    // a new upstream for each change of address (:8081, :80, :8081), else the kept one
    expect(spy.upstreams).toHaveLength(3);
    c.socket.destroy();
    await session.close();
  });

  it('copies a chunked body, splices one delimited by the close and then closes the client', async () => {
    const { session, spy, port } = await relayed('framing');
    const c = await RawClient.open(port);
    c.send(request('GET', `${API}/chunked?n=${3 * MIB}`));
    const chunked = await c.response();
    expect(chunked.headers['transfer-encoding']).toBe('chunked');
    expectIntact(chunked, 3 * MIB);
    expect(spy.copies).toHaveLength(1);
    c.send(request('GET', `${API}/close?n=${2 * MIB}`));
    const closing = await c.response();
    expect(closing.headers.connection).toBe('close');
    expectIntact(closing, 2 * MIB);
    await c.closed;
    await expect
      .poll(() => spy.bodies)
      .toMatchObject([{ length: -1, at: { rest: 'held' }, why: 'done' }]);
    expect((spy.bodies[0]?.at?.bytes ?? 0) + (spy.bodies[0]?.bytes ?? 0)).toBe(2 * MIB);
    expect(spy.upstreams).toHaveLength(1); // the copied response's leg carried the next request
    await expect.poll(() => eventsOf('framing').length).toBe(2);
    expect(eventsOf('framing').every((e) => e.allowed)).toBe(true);
    await session.close();
  });

  it('dials again when upstream closed the connection kept for the next request', async () => {
    const { session, spy, port } = await relayed('reopen');
    const c = await RawClient.open(port);
    c.send(request('GET', `${QUICK}/random?n=1000`));
    expectIntact(await c.response(), 1000);
    c.send(request('GET', `${API}/random?n=2000`));
    expectIntact(await c.response(), 2000);
    c.send(request('GET', `${API}/random?n=2000`));
    expectIntact(await c.response(), 2000);
    c.send(request('GET', `${QUICK}/random?n=2000`));
    expectIntact(await c.response(), 2000);
    expect(spy.upstreams).toHaveLength(3); // :8082, :8081 (kept once), :8082
    const kept = spy.upstreams.length;
    // upstream ends its idle connection after 50 ms; the relay closes the leg with it
    await new Promise((resolve) => setTimeout(resolve, 600));
    c.send(request('GET', `${QUICK}/random?n=3000`));
    expectIntact(await c.response(), 3000);
    expect(spy.upstreams).toHaveLength(kept + 1);
    c.socket.destroy();
    await session.close();
  });

  it('sends a GET again on a new upstream when the kept one closes under it, never a POST', async () => {
    const { session, spy, port } = await relayed('resend');
    const c = await RawClient.open(port);
    c.send(request('GET', `${ONCE}/random?n=1000`));
    expectIntact(await c.response(), 1000);
    // written on the kept leg; upstream closes without a byte of answer: dialled again
    c.send(request('GET', `${ONCE}/random?n=2000`));
    expectIntact(await c.response(), 2000);
    expect(spy.upstreams).toHaveLength(2);
    // a request with a body is not sent twice: the client hears of the failure
    c.send(request('POST', `${ONCE}/upload`, 'Content-Length: 3\r\n') + 'abc');
    const failed = await c.response();
    expect([failed.status, failed.headers['x-proxy-error']]).toEqual([502, 'upstream_unreachable']);
    expect(spy.upstreams).toHaveLength(2);
    await expect.poll(() => eventsOf('resend').length).toBe(3);
    expect(eventsOf('resend').map((e) => [e.allowed, e.reason])).toEqual([
      [true, 'allowed'],
      [true, 'allowed'],
      [false, 'upstream_unreachable'],
    ]);
    c.socket.destroy();
    await session.close();
  });

  it("writes a new connection's request on a leg the relay opened ahead, while it dials", async () => {
    const { session, spy, port } = await relayed('ahead');
    const first = await RawClient.open(port);
    first.send(request('GET', `${API}/random?n=1000`));
    expectIntact(await first.response(), 1000);
    const firstId = spy.upstreams[0] ?? '';
    const ahead = () => spy.claims.filter((id) => id === '0').length;
    // the first request's leg came after its dial; once answered, one is opened ahead
    await expect.poll(() => [...spy.claims].sort()).toEqual(['0', firstId].sort());
    first.socket.destroy();
    // each new connection takes the leg opened ahead (no leg of its own comes); another follows
    for (const [k, n] of [2000, 3 * MIB].entries()) {
      await expect.poll(ahead).toBe(k + 1);
      const c = await RawClient.open(port);
      c.send(request('GET', `${API}/random?n=${n}`));
      expectIntact(await c.response(), n);
      c.socket.destroy();
    }
    expect(spy.upstreams).toHaveLength(3);
    await expect.poll(ahead).toBe(3);
    expect(spy.claims.filter((id) => id !== '0')).toEqual([firstId]);
    await expect.poll(() => spy.bodies.at(-1)).toMatchObject({ length: 3 * MIB, why: 'done' });
    // a dial that fails closes the leg the request was written on: 502, and nothing hangs
    const refused = await RawClient.open(port);
    refused.send(request('GET', `${CLOSED}/`));
    const r = await refused.response();
    expect([r.status, r.headers['x-proxy-error']]).toEqual([502, 'upstream_unreachable']);
    expect(spy.claims.filter((id) => id !== '0')).toEqual([firstId]);
    // ... and the connection goes on, on the next leg opened ahead (once it is there)
    await expect.poll(ahead).toBe(4);
    refused.send(request('GET', `${API}/random?n=500`));
    expectIntact(await refused.response(), 500);
    expect(spy.claims.filter((id) => id !== '0')).toEqual([firstId]);
    await expect.poll(() => eventsOf('ahead').length).toBe(5);
    expect(eventsOf('ahead').map((e) => [e.allowed, e.reason, e.port])).toEqual([
      [true, 'allowed', PORT],
      [true, 'allowed', PORT],
      [true, 'allowed', PORT],
      [false, 'upstream_unreachable', PORT + 3],
      [true, 'allowed', PORT],
    ]);
    refused.socket.destroy();
    await session.close();
  });

  it('never uses a leg opened ahead that closed unused, and the relay lets it go', async () => {
    const { session, spy, port, relayPid } = await relayed('stale', { idleTimeoutMs: 300 });
    const openFds = async (): Promise<number> => (await readdir(`/proc/${relayPid}/fd`)).length;
    const idle = await openFds();
    const first = await RawClient.open(port);
    first.send(request('GET', `${API}/random?n=1000`));
    expectIntact(await first.response(), 1000);
    await expect.poll(() => spy.claims).toContain('0');
    first.socket.destroy();
    // the session's idle timeout closes the leg opened ahead: the relay closes its end too
    await expect.poll(openFds, { timeout: 5_000 }).toBe(idle);
    const next = await RawClient.open(port);
    next.send(request('GET', `${API}/random?n=2000`));
    expectIntact(await next.response(), 2000);
    // its own leg came after the dial
    expect(spy.claims.filter((id) => id !== '0')).toEqual(spy.upstreams);
    next.socket.destroy();
    await session.close();
  });

  it('carries a request itself when the session socket has no room for the leg', async () => {
    // one session connection: the client's; the relay's leg is refused
    const { session, spy, port } = await relayed('full', { maxClientConnections: 1 });
    const c = await RawClient.open(port);
    c.send(request('GET', `${API}/random?n=${MIB}`));
    expectIntact(await c.response(), MIB);
    expect(spy.upstreams).toHaveLength(1);
    expect(spy.bodies).toEqual([]);
    await expect.poll(() => eventsOf('full').length).toBe(1);
    expect(eventsOf('full')[0]).toMatchObject({ allowed: true, bytesIn: MIB });
    c.socket.destroy();
    await session.close();
  });

  it('sends no body for HEAD, 204 and 304 and keeps the connection', async () => {
    const { session, port } = await relayed('nobody');
    const c = await RawClient.open(port);
    c.send(request('HEAD', `${API}/random?n=70000`));
    const head = await c.response('HEAD');
    expect([head.status, head.headers['content-length']]).toEqual([200, '70000']);
    c.send(request('GET', `${API}/nocontent`));
    expect((await c.response()).status).toBe(204);
    c.send(request('GET', `${API}/notmodified`));
    const notModified = await c.response();
    expect([notModified.status, notModified.headers.etag]).toEqual([304, '"x"']);
    // a stray body byte of any of them would be read as this response's head
    c.send(request('GET', `${API}/random?n=100`));
    expectIntact(await c.response(), 100);
    c.socket.destroy();
    await session.close();
  });

  it('uploads with Expect: 100-continue; a small answer comes whole on the leg', async () => {
    const { session, spy, port } = await relayed('upload');
    const file = join(dir, 'upload.bin');
    const data = randomBytes(3 * MIB + 17);
    await writeFile(file, data);
    const r = await curl(port, [
      '-H',
      'Expect: 100-continue',
      '--data-binary',
      `@${file}`,
      `${API}/upload`,
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.headers).toMatch(/^HTTP\/1\.1 100 Continue/m);
    expect(JSON.parse(r.body)).toEqual({ length: data.length, sha256: sha256(data) });
    const answer = JSON.stringify({ length: data.length, sha256: sha256(data) });
    expect(spy.bodies).toEqual([
      { id: spy.upstreams[0], length: answer.length, at: { bytes: answer.length, rest: 'next' } },
    ]);
    await expect.poll(() => eventsOf('upload').length).toBe(1);
    expect(eventsOf('upload')[0]?.bytesOut).toBe(data.length);
    await session.close();
  });

  it('marks every first request: after empty lines, never an oversized head, not non-HTTP bytes', async () => {
    const { session, spy, port } = await relayed('marks');
    // empty lines before the request: dropped by the relay, whose mark still comes first
    const lines = await RawClient.open(port);
    lines.send(`\r\n\r\n${request('GET', `${API}/random?n=10`, 'X-Ringfence-Relay: 99\r\n')}`);
    expectIntact(await lines.response(), 10);
    expect(spy.upstreams).toHaveLength(1);
    expect(spy.upstreams[0]).not.toBe('99');
    // a head the relay cannot mark within its cap is refused by the relay itself
    const big = await RawClient.open(port);
    // exactly the relay's 32 KiB, no end: all of it read when the relay closes (no reset)
    const start = `GET ${API}/random?n=10 HTTP/1.1\r\nX-Pad: `;
    big.send(start + 'a'.repeat(32 * 1024 - start.length));
    const refused = await big.response();
    expect([refused.status, refused.headers['x-proxy-error']]).toEqual([431, 'invalid_request']);
    await big.closed;
    // far past the cap, curl still sending when refused: the answer is not lost to a reset
    const pad = join(dir, 'pad-header');
    await writeFile(pad, `X-Pad: ${'a'.repeat(MIB / 4)}\n`); // curl's own cap is 1 MiB
    const huge = await curl(port, ['-H', `@${pad}`, `${API}/random?n=10`]);
    expect([huge.exitCode, huge.status, huge.proxyError]).toEqual([0, 431, 'invalid_request']);
    // the same, reading the answer only once all of it is written: a reset meanwhile would fail
    // the write and lose the answer with the connection
    const late = await RawClient.open(port);
    late.socket.pause();
    await new Promise((resolve) => late.socket.write(start + 'a'.repeat(16 * MIB), resolve));
    late.socket.resume();
    await late.closed;
    const refusedLate = await late.response();
    expect([refusedLate.status, refusedLate.headers['x-proxy-error']]).toEqual([
      431,
      'invalid_request',
    ]);
    // bytes that cannot start a request go to the proxy unmarked, which refuses them
    const tls = await RawClient.open(port);
    tls.send('\x16\x03\x01\x00\x05hello\r\n\r\n');
    const bad = await tls.response();
    expect([bad.status, bad.headers['x-proxy-error']]).toEqual([400, 'invalid_request']);
    expect(spy.upstreams).toHaveLength(1);
    lines.socket.destroy();
    await session.close();
  });

  it('never takes a client CONNECT for a leg, whatever headers it carries', async () => {
    const { session, spy, port } = await relayed('forged');
    const nonce = randomBytes(16).toString('hex');
    const legHead = (extra: string) =>
      `CONNECT leg HTTP/1.1\r\n${extra}X-Ringfence-Leg: ${nonce}\r\n\r\n`;
    // A request of another connection waits for its leg (the dial hangs on an unused address).
    const victim = await RawClient.open(port);
    victim.send(request('GET', 'http://blackhole.example.test/'));
    await expect.poll(() => spy.upstreams.length).toBe(1);
    const victimId = spy.upstreams[0] ?? '';
    const forged = [
      legHead(''),
      legHead('X-Ringfence-Relay: 1\r\n'),
      legHead(`X-Ringfence-Relay: ${victimId}\r\n`),
      legHead('X-Ringfence-Relay: 0\r\n'), // as a leg opened ahead
    ];
    for (const text of forged) {
      const c = await RawClient.open(port);
      c.send(text);
      const r = await c.response();
      expect([r.status, r.headers['x-proxy-error']]).toEqual([403, 'invalid_host']);
      await c.closed;
    }
    // ... and as a later request of a connection whose request was just relayed
    const later = await RawClient.open(port);
    later.send(request('GET', `${API}/random?n=10`));
    expectIntact(await later.response(), 10);
    later.send(legHead(`X-Ringfence-Relay: ${spy.upstreams.at(-1) ?? ''}\r\n`));
    const r = await later.response();
    expect([r.status, r.headers['x-proxy-error']]).toEqual([403, 'invalid_host']);
    // the victim's request goes on as if nothing happened: its dial fails on its own
    const v = await victim.response();
    expect([v.status, v.headers['x-proxy-error']]).toEqual([502, 'upstream_unreachable']);
    const connects = eventsOf('forged').filter((e) => e.kind === 'connect');
    expect(connects.map((e) => [e.allowed, e.reason])).toEqual(
      Array.from({ length: 5 }, () => [false, 'invalid_host']),
    );
    victim.socket.destroy();
    later.socket.destroy();
    await session.close();
  }, 30_000);

  it('drops a spliced body at the session byte cap and says so in the event', async () => {
    const { session, spy, port } = await relayed('capped', { maxBytes: 2 * MIB });
    const c = await RawClient.open(port);
    let received = 0;
    c.socket.on('data', (d: Buffer) => (received += d.length));
    c.send(request('GET', `${API}/random?n=${64 * MIB}`));
    await c.closed;
    expect(received).toBeLessThan(64 * MIB);
    await expect.poll(() => eventsOf('capped').length).toBe(1);
    expect(eventsOf('capped')[0]).toMatchObject({ allowed: false, reason: 'bytes_exceeded' });
    await expect.poll(() => spy.bodies).toMatchObject([{ why: 'drop' }]);
    expect(session.stats().bytes).toBeGreaterThan(2 * MIB);
    await session.close();
  });

  it('keeps a credential-bound plain-HTTP host on the proxy path: injected and redacted', async () => {
    const { session, spy, port } = await relayed('bound');
    const reflect = await curl(port, ['http://bound.example.test/reflect']);
    expect(reflect.body).toContain('raw=[REDACTED:BOUND_TOKEN]');
    expect(reflect.body).not.toContain(CANARY);
    const echo = await curl(port, ['http://bound.example.test/echo']);
    expect((JSON.parse(echo.body) as { authSha256: string }).authSha256).toBe(
      sha256(Buffer.from(`Bearer ${CANARY}`)),
    );
    expect(spy.upstreams).toEqual([]);
    await expect.poll(() => eventsOf('bound').length).toBe(2);
    expect(eventsOf('bound').map((e) => e.injected)).toEqual([['BOUND_TOKEN'], ['BOUND_TOKEN']]);
    await session.close();
  });
});

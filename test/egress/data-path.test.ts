// The fast data path keeps its guarantees: every request on a reused (keep-alive) upstream
// connection is still decided, bytes are counted exactly, and the session byte cap cuts transfers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { EgressProxy } from '../../src/egress/egress-proxy.js';
import type { DecisionEvent } from '../../src/egress/events.js';
import { netnsSkipReason } from '../helpers/netns.js';
import { createWorld, SUBNET_D, type EgressWorld } from './egress-fixture.js';
import { curl, startRelay } from './harness.js';

const skip = await netnsSkipReason();
if (skip) console.error(`egress data-path tests skipped: ${skip}`);

const UP = SUBNET_D.upstreamIp;
const MIB = 1 << 20;
const policy = {
  allow: ['api.example.test:80', 'api.example.test:8080'],
  deny: [],
  blockedPorts: [],
  resolve: { 'api.example.test': UP },
  rules: { 'api.example.test:80': { methods: ['GET'], paths: ['/echo', '/bytes'] } },
};

/** GET (or `method` with `body`) through the relay on a keep-alive client agent; resolves
 * status, X-Proxy-Error, body. */
function get(
  agent: Agent,
  port: number,
  url: string,
  host = 'api.example.test',
  method = 'GET',
  body?: string,
): Promise<{ status: number; error: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, agent, path: url, method, headers: { host } };
    const req = request(options, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        const err = res.headers['x-proxy-error'];
        resolve({
          status: res.statusCode ?? 0,
          error: typeof err === 'string' ? err : undefined,
          body,
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe.skipIf(skip)('egress data path', () => {
  let world: EgressWorld;
  let proxy: EgressProxy;
  const events: DecisionEvent[] = [];

  beforeAll(async () => {
    world = await createWorld(SUBNET_D);
    proxy = new EgressProxy();
    proxy.subscribe((ev) => events.push(ev));
  });

  afterAll(async () => {
    await proxy?.close();
    await world?.destroy();
  });

  it('reuses one upstream connection for keep-alive requests yet decides each one', async () => {
    const session = await proxy.openSession({
      sessionId: 'keepalive',
      socketPath: join(world.dir, 'ka.sock'),
      policy,
    });
    const relay = await startRelay(session.socketPath);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      events.length = 0;
      const statuses: (number | string | undefined)[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await get(agent, relay.port, 'http://api.example.test/echo');
        statuses.push(r.status);
      }
      // One client connection on the session socket and one pooled upstream connection.
      expect(session.stats().connections).toBe(2);
      const path = await get(agent, relay.port, 'http://api.example.test/secret');
      const host = await get(
        agent,
        relay.port,
        'http://api.example.test/echo',
        'evil.example.test',
      );
      const other = await get(
        agent,
        relay.port,
        'http://other.example.test/echo',
        'other.example.test',
      );
      statuses.push(path.error, host.error, other.error);
      expect(statuses).toEqual([
        200,
        200,
        200,
        'path_not_allowed',
        'host_header_mismatch',
        'host_not_allowed',
      ]);
      expect(events.map((e) => [e.allowed, e.reason])).toEqual([
        [true, 'allowed'],
        [true, 'allowed'],
        [true, 'allowed'],
        [false, 'path_not_allowed'],
        [false, 'host_header_mismatch'],
        [false, 'host_not_allowed'],
      ]);
    } finally {
      agent.destroy();
      relay.stop();
      await session.close();
    }
  });

  it('sends a GET again on a new upstream connection when the pooled one closes under it', async () => {
    const session = await proxy.openSession({
      sessionId: 'resend',
      socketPath: join(world.dir, 'resend.sock'),
      policy,
    });
    const relay = await startRelay(session.socketPath);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const host = 'api.example.test:8080';
    const api = `http://${host}`;
    try {
      events.length = 0;
      const first = await get(agent, relay.port, `${api}/echo`, host);
      // the pooled upstream connection closes as this request arrives: it goes on a new one
      const again = await get(agent, relay.port, `${api}/hangup`, host);
      expect([first.status, again.status]).toEqual([200, 200]);
      expect(JSON.parse(again.body)).toMatchObject({ method: 'GET', url: '/hangup' });
      // a request with a body is never sent twice: the client hears of the failure
      const post = await get(agent, relay.port, `${api}/hangup`, host, 'POST', 'abc');
      expect([post.status, post.error]).toEqual([502, 'upstream_unreachable']);
      expect(events.map((e) => [e.allowed, e.reason])).toEqual([
        [true, 'allowed'],
        [true, 'allowed'],
        [false, 'upstream_unreachable'],
      ]);
    } finally {
      agent.destroy();
      relay.stop();
      await session.close();
    }
  });

  it('counts the body bytes of a plain-HTTP response and of a CONNECT tunnel exactly', async () => {
    const session = await proxy.openSession({
      sessionId: 'count',
      socketPath: join(world.dir, 'count.sock'),
      policy,
    });
    const relay = await startRelay(session.socketPath);
    try {
      events.length = 0;
      const plain = await curl(relay.port, [
        '-o',
        '/dev/null',
        `http://api.example.test/bytes?n=${MIB}`,
      ]);
      expect(plain.exitCode).toBe(0);
      const tunnel = await curl(relay.port, [
        '-p',
        '-o',
        '/dev/null',
        `http://api.example.test:8080/bytes?n=${MIB}`,
      ]);
      expect(tunnel.exitCode).toBe(0);
      await new Promise((r) => setTimeout(r, 100)); // the tunnel's event follows its close
      const http = events.find((e) => e.kind === 'http');
      const connect = events.find((e) => e.kind === 'connect');
      expect(http?.bytesIn).toBe(MIB);
      // The tunnel carries the response headers too: exactly one MiB of body plus a header block.
      expect(connect?.bytesIn).toBeGreaterThan(MIB);
      expect(connect?.bytesIn).toBeLessThan(MIB + 1024);
      expect(session.stats().bytes).toBe(
        (http?.bytesIn ?? 0) +
          (http?.bytesOut ?? 0) +
          (connect?.bytesIn ?? 0) +
          (connect?.bytesOut ?? 0),
      );
    } finally {
      relay.stop();
      await session.close();
    }
  });

  for (const mode of ['plain HTTP', 'CONNECT'] as const) {
    it(`cuts a ${mode} transfer at the session byte cap and refuses the next connection`, async () => {
      const cap = 256 * 1024;
      const session = await proxy.openSession({
        sessionId: `cap-${mode}`,
        socketPath: join(world.dir, `cap-${mode === 'CONNECT' ? 'c' : 'h'}.sock`),
        policy,
        limits: { maxBytes: cap },
      });
      const relay = await startRelay(session.socketPath);
      try {
        const args =
          mode === 'CONNECT'
            ? ['-p', `http://api.example.test:8080/bytes?n=${4 * MIB}`]
            : [`http://api.example.test/bytes?n=${4 * MIB}`];
        const big = await curl(relay.port, ['-o', '/dev/null', '-w', '%{size_download}', ...args]);
        expect(big.exitCode).not.toBe(0);
        // Nothing past the chunk that crossed the cap reaches the client (chunks are ≤ 128 KiB).
        expect(Number(big.body)).toBeLessThan(cap + 128 * 1024);
        expect(session.stats().bytes).toBeGreaterThan(cap);
        const next = await curl(relay.port, ['http://api.example.test/echo']);
        expect([next.status, next.proxyError]).toEqual([429, 'bytes_exceeded']);
      } finally {
        relay.stop();
        await session.close();
      }
    });
  }
});

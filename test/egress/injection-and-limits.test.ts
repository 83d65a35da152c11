// Credential injection through terminated TLS and plain HTTP, redirects, response redaction,
// and per-session limits (one exhausted session does not affect another). Real traffic.
import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EgressProxy } from '../../src/egress/egress-proxy.js';
import type { EgressSession } from '../../src/egress/egress-session.js';
import type { DecisionEvent } from '../../src/egress/events.js';
import { proxyEnv } from '../../src/egress/proxy-env.js';
import { netnsSkipReason } from '../helpers/netns.js';
import { createWorld, SUBNET_B, type EgressWorld } from './egress-fixture.js';

const UPSTREAM_IP = SUBNET_B.upstreamIp;
import { curl, startRelay, type Relay } from './harness.js';

const skipReason = await netnsSkipReason();
if (skipReason) console.warn(`[egress] skipping injection/limits tests: ${skipReason}`);

const run = promisify(execFile);
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

const resolveMap = {
  'api.example.test': UPSTREAM_IP,
  'other.example.test': UPSTREAM_IP,
  'bound.example.test': UPSTREAM_IP,
};

describe.skipIf(skipReason !== undefined)('egress credential injection and limits', () => {
  let world: EgressWorld;
  let proxy: EgressProxy;
  let session: EgressSession;
  let relay: Relay;
  const canary = `canary-${randomBytes(12).toString('hex')}`;
  const events: DecisionEvent[] = [];

  beforeAll(async () => {
    world = await createWorld(SUBNET_B);
    proxy = new EgressProxy({ ca: world.proxyCa, upstreamCa: [world.upstreamCa.certPem] });
    proxy.subscribe((ev) => events.push(ev));
    session = await proxy.openSession({
      sessionId: 'inject',
      socketPath: join(world.dir, 'inject.sock'),
      policy: {
        allow: [
          'api.example.test',
          'api.example.test:80',
          'bound.example.test',
          'bound.example.test:80',
        ],
        deny: [],
        blockedPorts: [],
        resolve: resolveMap,
        rules: {},
      },
      secrets: [{ name: 'API_TOKEN', value: canary, hosts: ['bound.example.test'] }],
    });
    relay = await startRelay(session.socketPath);
  });

  afterAll(async () => {
    relay?.stop();
    await proxy?.close();
    await world?.destroy();
  });

  it('injects the header toward the bound host over HTTPS (terminated) and replaces the placeholder', async () => {
    events.length = 0;
    const r = await curl(relay.port, [
      '--cacert',
      world.bundlePath,
      '-H',
      'Authorization: Bearer placeholder',
      'https://bound.example.test/echo',
    ]);
    expect(r.status).toBe(200);
    const echo = JSON.parse(r.body) as { authSha256: string; headers: Record<string, string> };
    expect(echo.authSha256).toBe(sha(`Bearer ${canary}`));
    // The echo of the credential is redacted on the way back to the sandbox.
    expect(echo.headers.authorization).toBe('Bearer [REDACTED:API_TOKEN]');
    expect(r.body).not.toContain(canary);
    await new Promise((res) => setTimeout(res, 50));
    expect(events.find((e) => e.kind === 'http')).toMatchObject({
      host: 'bound.example.test',
      injected: ['API_TOKEN'],
      terminated: true,
      allowed: true,
    });
  });

  it('injects over plain HTTP too', async () => {
    const r = await curl(relay.port, ['http://bound.example.test/echo']);
    expect((JSON.parse(r.body) as { authSha256: string }).authSha256).toBe(sha(`Bearer ${canary}`));
  });

  it('never injects toward an unbound host, and never terminates its TLS', async () => {
    events.length = 0;
    const r = await curl(relay.port, [
      '--cacert',
      world.upstreamCaPath,
      'https://api.example.test/echo',
    ]);
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { authSha256: string | null }).authSha256).toBeNull();
    await new Promise((res) => setTimeout(res, 50));
    expect(events.find((e) => e.kind === 'connect')).toMatchObject({
      terminated: false,
      allowed: true,
    });
  });

  it('a redirect from the bound host to another origin arrives there without the credential', async () => {
    const to = encodeURIComponent('https://api.example.test/echo');
    const r = await curl(relay.port, [
      '-L',
      '--cacert',
      world.bundlePath,
      `https://bound.example.test/redirect?to=${to}`,
    ]);
    expect(r.status).toBe(200);
    const echo = JSON.parse(r.body) as { host: string; authSha256: string | null };
    expect(echo.host).toBe('api.example.test');
    expect(echo.authSha256).toBeNull();
  });

  it('redacts the secret (raw, base64, hex, URL-encoded) in response body and headers', async () => {
    const r = await curl(relay.port, [
      '--cacert',
      world.bundlePath,
      'https://bound.example.test/reflect',
    ]);
    const b = Buffer.from(canary);
    for (const v of [canary, b.toString('base64'), b.toString('hex'), encodeURIComponent(canary)]) {
      expect(r.body).not.toContain(v);
      expect(r.headers).not.toContain(v);
    }
    expect(r.body.match(/\[REDACTED:API_TOKEN\]/g)?.length).toBe(4);
    expect(r.headers).toMatch(/x-echo: \[REDACTED:API_TOKEN\]/i);
  });

  it('re-checks Host on every request inside terminated TLS', async () => {
    const r = await curl(relay.port, [
      '--cacert',
      world.bundlePath,
      '-H',
      'Host: api.example.test',
      'https://bound.example.test/echo',
    ]);
    expect([r.status, r.proxyError]).toEqual([403, 'host_header_mismatch']);
  });

  it('python3 trusts the deployment CA through proxyEnv and gets the injected call', async () => {
    const env = { ...process.env, ...proxyEnv({ port: relay.port, caCertPath: world.bundlePath }) };
    const code =
      'import urllib.request, json; print(json.load(urllib.request.urlopen("https://bound.example.test/echo"))["authSha256"])';
    const { stdout } = await run('python3', ['-c', code], { env });
    expect(stdout.trim()).toBe(sha(`Bearer ${canary}`));
  });

  /** Opens a CONNECT tunnel and returns the socket plus the proxy's status line. */
  function openTunnel(port: number, target: string): Promise<{ socket: Socket; status: string }> {
    return new Promise((resolve, reject) => {
      const socket = netConnect(port, '127.0.0.1', () =>
        socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
      );
      socket.once('data', (d: Buffer) => resolve({ socket, status: d.toString('latin1') }));
      socket.once('error', reject);
    });
  }

  it('too many tunnels in one session is refused (429) while another session still works', async () => {
    const policy = {
      allow: ['api.example.test'],
      deny: [],
      blockedPorts: [],
      resolve: resolveMap,
      rules: {},
    };
    const small = await proxy.openSession({
      sessionId: 'small',
      socketPath: join(world.dir, 'small.sock'),
      policy,
      limits: { maxTunnels: 2 },
    });
    const other = await proxy.openSession({
      sessionId: 'other',
      socketPath: join(world.dir, 'other.sock'),
      policy,
    });
    const r1 = await startRelay(small.socketPath);
    const r2 = await startRelay(other.socketPath);
    const held: Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const t = await openTunnel(r1.port, 'api.example.test:443');
        expect(t.status).toMatch(/^HTTP\/1.1 200/);
        held.push(t.socket);
      }
      const third = await openTunnel(r1.port, 'api.example.test:443');
      held.push(third.socket);
      expect(third.status).toMatch(/^HTTP\/1.1 429/);
      expect(third.status).toMatch(/X-Proxy-Error: too_many_tunnels/);
      const fine = await curl(r2.port, [
        '--cacert',
        world.upstreamCaPath,
        'https://api.example.test/echo',
      ]);
      expect(fine.status).toBe(200);
    } finally {
      for (const s of held) s.destroy();
      r1.stop();
      r2.stop();
      await small.close();
      await other.close();
    }
  });

  it('rate-limits new connections per session with a token bucket', async () => {
    const policy = {
      allow: ['api.example.test'],
      deny: [],
      blockedPorts: [],
      resolve: resolveMap,
      rules: {},
    };
    const slow = await proxy.openSession({
      sessionId: 'slow',
      socketPath: join(world.dir, 'slow.sock'),
      policy,
      limits: { connectionsPerSecond: 0.001, connectionBurst: 2 },
    });
    const r = await startRelay(slow.socketPath);
    try {
      const codes: (string | undefined)[] = [];
      for (let i = 0; i < 3; i++)
        codes.push((await curl(r.port, ['http://api.example.test/echo'])).proxyError);
      expect(codes).toEqual([undefined, undefined, 'rate_limited']);
      const main = await curl(relay.port, ['http://api.example.test/echo']);
      expect(main.status).toBe(200);
    } finally {
      r.stop();
      await slow.close();
    }
  });

  it('refuses to open a session with bindings but no CA, and an invalid policy', async () => {
    const bare = new EgressProxy();
    await expect(
      bare.openSession({
        sessionId: 'x',
        socketPath: join(world.dir, 'x.sock'),
        policy: { allow: [], deny: [], blockedPorts: [], resolve: {}, rules: {} },
        secrets: [{ name: 'T', value: canary, hosts: ['a.example.test'] }],
      }),
    ).rejects.toThrow(/CA/);
    await expect(
      bare.openSession({
        sessionId: 'y',
        socketPath: join(world.dir, 'y.sock'),
        policy: { allow: ['*'], deny: [], blockedPorts: [], resolve: {}, rules: {} },
      }),
    ).rejects.toThrow(/every host/);
    await bare.close();
  });
});

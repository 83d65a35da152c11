// Real traffic through the proxy (socat relay → session socket → netns upstream): allowed
// HTTP/HTTPS, and every Egress class of SECURITY.md refused with its reason code.
import { stat } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EgressProxy } from '../../src/egress/egress-proxy.js';
import type { EgressSession } from '../../src/egress/egress-session.js';
import type { DecisionEvent } from '../../src/egress/events.js';
import { proxyEnv } from '../../src/egress/proxy-env.js';
import { netnsSkipReason } from '../helpers/netns.js';
import { createWorld, fakeLookup, SUBNET_A, type EgressWorld } from './egress-fixture.js';
import { curl, rawRequest, startRelay, type Relay } from './harness.js';

const skipReason = await netnsSkipReason();
if (skipReason) console.warn(`[egress] skipping policy-enforcement tests: ${skipReason}`);

const run = promisify(execFile);
const UPSTREAM_IP = SUBNET_A.upstreamIp;
const HOST_SIDE_IP = SUBNET_A.hostIp;

describe.skipIf(skipReason !== undefined)('egress proxy policy enforcement (real traffic)', () => {
  let world: EgressWorld;
  let proxy: EgressProxy;
  let session: EgressSession;
  let relay: Relay;
  const events: DecisionEvent[] = [];

  beforeAll(async () => {
    world = await createWorld(SUBNET_A);
    proxy = new EgressProxy({
      upstreamCa: [world.upstreamCa.certPem],
      lookup: fakeLookup({
        localhost: ['127.0.0.1', '::1'],
        'mixed.example.test': [UPSTREAM_IP, '10.0.0.7'],
        'nat64.example.test': ['64:ff9b::a9fe:a9fe'],
      }),
    });
    proxy.subscribe((ev) => events.push(ev));
    session = await proxy.openSession({
      sessionId: 'enforce',
      socketPath: join(world.dir, 'enforce.sock'),
      policy: {
        allow: [
          'api.example.test',
          'api.example.test:8080',
          'api.example.test:25',
          'other.example.test',
          'blocked.example.test',
          'localhost',
          'metadata.example.test',
          'private.example.test',
          'cgnat.example.test',
          'mixed.example.test',
          'nat64.example.test',
          'own.example.test',
          'missing.example.test',
          '169.254.169.254',
          '127.0.0.1',
          '[::1]',
          '[::ffff:127.0.0.1]',
        ],
        deny: ['blocked.example.test'],
        blockedPorts: [25],
        resolve: {
          'api.example.test': UPSTREAM_IP,
          'other.example.test': UPSTREAM_IP,
          'blocked.example.test': UPSTREAM_IP,
          'metadata.example.test': '169.254.169.254',
          'private.example.test': '10.1.2.3',
          'cgnat.example.test': '100.64.3.4',
          'own.example.test': HOST_SIDE_IP,
        },
        rules: { 'api.example.test:8080': { methods: ['GET'], paths: ['/echo'] } },
      },
    });
    relay = await startRelay(session.socketPath);
  });

  afterAll(async () => {
    relay?.stop();
    await proxy?.close();
    await world?.destroy();
  });

  it('listens on a 0600 unix socket', async () => {
    expect((await stat(session.socketPath)).mode & 0o777).toBe(0o600);
  });

  it('forwards plain HTTP to an allowed host and reports the decision', async () => {
    events.length = 0;
    const r = await curl(relay.port, ['http://api.example.test/echo']);
    expect(r.status).toBe(200);
    const echo = JSON.parse(r.body) as { host: string; headers: Record<string, string> };
    expect(echo.host).toBe('api.example.test');
    expect(echo.headers['proxy-connection']).toBeUndefined();
    const ev = events.find((e) => e.kind === 'http' && e.allowed);
    expect(ev).toMatchObject({
      sessionId: 'enforce',
      host: 'api.example.test',
      port: 80,
      ip: UPSTREAM_IP,
      rule: 'api.example.test',
      reason: 'allowed',
    });
    expect(ev?.bytesIn).toBeGreaterThan(0);
  });

  it('tunnels HTTPS via CONNECT to an allowed host with the upstream certificate verified', async () => {
    events.length = 0;
    const r = await curl(relay.port, [
      '--cacert',
      world.upstreamCaPath,
      'https://api.example.test/echo',
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ host: 'api.example.test' });
    await new Promise((res) => setTimeout(res, 50));
    expect(events.find((e) => e.kind === 'connect')).toMatchObject({
      allowed: true,
      port: 443,
      ip: UPSTREAM_IP,
      terminated: false,
    });
  });

  it('works for python3 urllib with the env from proxyEnv', async () => {
    const env = {
      ...process.env,
      ...proxyEnv({ port: relay.port, caCertPath: world.upstreamCaPath }),
    };
    const code = [
      'import urllib.request, json',
      'print(urllib.request.urlopen("http://api.example.test/echo").status)',
      'print(json.load(urllib.request.urlopen("https://api.example.test/echo"))["host"])',
    ].join('\n');
    const { stdout } = await run('python3', ['-c', code], { env });
    expect(stdout.trim().split('\n')).toEqual(['200', 'api.example.test']);
  });

  it('refuses a host not in the allowlist with a one-line body that echoes nothing', async () => {
    const r = await rawRequest(
      relay.port,
      'GET http://nope.example.test/x?q=canary HTTP/1.1\r\nHost: nope.example.test\r\n\r\n',
    );
    expect(r.status).toBe(403);
    expect(r.headers['x-proxy-error']).toBe('host_not_allowed');
    expect(r.body).toBe('blocked by ringfence egress policy: host not in allowlist\n');
    const c = await curl(relay.port, ['https://nope.example.test/']);
    expect([c.status, c.proxyError]).toEqual([403, 'host_not_allowed']);
  });

  const ssrfCases: [string, string][] = [
    ['metadata via a mapped name', 'http://metadata.example.test/'],
    ['metadata as a listed raw IP', 'http://169.254.169.254/latest/meta-data/'],
    ['localhost', 'http://localhost/'],
    ['localhost.', 'http://localhost./'],
    ['LOCALHOST', 'http://LOCALHOST/'],
    ['loopback listed raw IP', 'http://127.0.0.1/'],
    ['[::1]', 'http://[::1]/'],
    ['[::ffff:127.0.0.1]', 'http://[::ffff:127.0.0.1]/'],
    ['private 10/8', 'http://private.example.test/'],
    ['CGNAT 100.64/10', 'http://cgnat.example.test/'],
    ['mixed public and private answers', 'http://mixed.example.test/'],
    ['NAT64-embedded metadata', 'http://nat64.example.test/'],
    ["the proxy host's own address", 'http://own.example.test/'],
  ];
  it.each(ssrfCases)('refuses %s as ssrf_private_address', async (_name, url) => {
    const r = await curl(relay.port, [url]);
    expect([r.status, r.proxyError]).toEqual([403, 'ssrf_private_address']);
  });

  it('refuses CONNECT to an internal address the same way', async () => {
    const r = await curl(relay.port, ['https://localhost/']);
    expect([r.status, r.proxyError]).toEqual([403, 'ssrf_private_address']);
  });

  it.each(['2130706433', '0x7f000001', '0177.0.0.1', '127.1', '127.0.0.1.', '0x7f.1'])(
    'refuses the alternative IPv4 spelling %s as invalid_host',
    async (host) => {
      const r = await rawRequest(
        relay.port,
        `GET http://${host}/ HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
      );
      expect([r.status, r.headers['x-proxy-error']]).toEqual([403, 'invalid_host']);
      const c = await rawRequest(
        relay.port,
        `CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n\r\n`,
      );
      expect([c.status, c.headers['x-proxy-error']]).toEqual([403, 'invalid_host']);
    },
  );

  it('refuses hostname tricks: userinfo, suffix, fragment, odd dots, control bytes', async () => {
    const cases: [string, number, string][] = [
      [
        'GET http://api.example.test@nope.example.test/ HTTP/1.1\r\nHost: nope.example.test',
        403,
        'invalid_host',
      ],
      ['CONNECT api.example.test@nope.example.test:443 HTTP/1.1\r\nHost: x', 403, 'invalid_host'],
      [
        'GET http://api.example.test.evil.example/ HTTP/1.1\r\nHost: api.example.test.evil.example',
        403,
        'host_not_allowed',
      ],
      [
        'GET http://evil.example#.api.example.test/ HTTP/1.1\r\nHost: evil.example',
        400,
        'invalid_request',
      ],
      [
        'GET http://api\uff0eexample.test/ HTTP/1.1\r\nHost: api.example.test',
        400,
        'invalid_request',
      ], // node's parser refuses non-ASCII targets
      [
        'GET http://api.example.test%00.evil/ HTTP/1.1\r\nHost: api.example.test',
        403,
        'invalid_host',
      ],
      [
        `GET http://${'a'.repeat(64)}.example.test/ HTTP/1.1\r\nHost: x.example.test`,
        403,
        'invalid_host',
      ],
    ];
    for (const [head, status, reason] of cases) {
      const r = await rawRequest(relay.port, `${head}\r\n\r\n`);
      expect([r.status, r.headers['x-proxy-error']], head).toEqual([status, reason]);
    }
  });

  it('refuses a raw IP that is not itself listed', async () => {
    const r = await curl(relay.port, [`http://${UPSTREAM_IP}/echo`]);
    expect([r.status, r.proxyError]).toEqual([403, 'raw_ip_not_allowed']);
  });

  it('refuses an allowed host on a port not allowed, and blocked ports whatever the allowlist says', async () => {
    const p = await curl(relay.port, ['http://api.example.test:8081/echo']);
    expect([p.status, p.proxyError]).toEqual([403, 'port_not_allowed']);
    const c = await curl(relay.port, [
      '--cacert',
      world.upstreamCaPath,
      'https://api.example.test:8443/echo',
    ]);
    expect([c.status, c.proxyError]).toEqual([403, 'port_not_allowed']);
    const b = await curl(relay.port, ['http://api.example.test:25/']);
    expect([b.status, b.proxyError]).toEqual([403, 'port_blocked']);
  });

  it('checks the deny list before the allowlist', async () => {
    const r = await curl(relay.port, ['http://blocked.example.test/echo']);
    expect([r.status, r.proxyError]).toEqual([403, 'host_denied']);
  });

  it('refuses a name that does not resolve', async () => {
    const r = await curl(relay.port, ['http://missing.example.test/']);
    expect([r.status, r.proxyError]).toEqual([403, 'dns_failed']);
  });

  it('refuses a Host header different from the requested host', async () => {
    const r = await rawRequest(
      relay.port,
      'GET http://api.example.test/echo HTTP/1.1\r\nHost: other.example.test\r\n\r\n',
    );
    expect([r.status, r.headers['x-proxy-error']]).toEqual([403, 'host_header_mismatch']);
    const two = await rawRequest(
      relay.port,
      'GET http://api.example.test/echo HTTP/1.1\r\nHost: api.example.test\r\nHost: other.example.test\r\n\r\n',
    );
    expect(two.status).not.toBe(200);
  });

  it('re-checks every request on a kept-alive client connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (
      url: string,
    ): Promise<{ status: number; reason: string | undefined; reused: boolean }> =>
      new Promise((resolve, reject) => {
        const u = new URL(url);
        const req = request(
          { host: '127.0.0.1', port: relay.port, path: url, agent, headers: { host: u.host } },
          (res) => {
            res.resume();
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                reason: res.headers['x-proxy-error'] as string | undefined,
                reused: req.reusedSocket,
              }),
            );
          },
        );
        req.on('error', reject);
        req.end();
      });
    const first = await get('http://api.example.test/echo');
    const second = await get('http://nope.example.test/echo');
    const third = await get('http://other.example.test/echo');
    agent.destroy();
    expect(first).toMatchObject({ status: 200 });
    expect(second).toEqual({ status: 403, reason: 'host_not_allowed', reused: true });
    expect(third).toMatchObject({ status: 200, reused: true });
  });

  it('applies per-host method and path rules', async () => {
    const ok = await curl(relay.port, ['http://api.example.test:8080/echo']);
    expect(ok.status).toBe(200);
    const post = await curl(relay.port, [
      '-X',
      'POST',
      '-d',
      'x',
      'http://api.example.test:8080/echo',
    ]);
    expect([post.status, post.proxyError]).toEqual([403, 'method_not_allowed']);
    const path = await curl(relay.port, ['http://api.example.test:8080/bytes?n=1']);
    expect([path.status, path.proxyError]).toEqual([403, 'path_not_allowed']);
    const dots = await rawRequest(
      relay.port,
      'GET http://api.example.test:8080/echo/../bytes HTTP/1.1\r\nHost: api.example.test:8080\r\n\r\n',
    );
    expect([dots.status, dots.headers['x-proxy-error']]).toEqual([403, 'path_not_allowed']);
  });

  /** Opens a CONNECT tunnel through the relay and starts TLS with the given SNI. */
  function tlsThroughTunnel(target: string, servername: string | undefined): Promise<string> {
    return new Promise((resolve) => {
      const sock = netConnect(relay.port, '127.0.0.1', () =>
        sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
      );
      sock.once('data', (d: Buffer) => {
        if (!d.toString().startsWith('HTTP/1.1 200'))
          return resolve(`refused: ${d.toString().split('\r\n')[0]}`);
        const tls = tlsConnect(
          {
            socket: sock,
            ca: world.upstreamCa.certPem,
            ...(servername === undefined ? {} : { servername }),
          },
          () => {
            tls.destroy();
            resolve('connected');
          },
        );
        tls.on('error', (err: Error) => resolve(`tls error: ${err.message}`));
      });
      sock.on('error', (err) => resolve(`socket error: ${err.message}`));
    });
  }

  it('requires TLS SNI == CONNECT host (domain fronting refused)', async () => {
    events.length = 0;
    expect(await tlsThroughTunnel('api.example.test:443', 'api.example.test')).toBe('connected');
    const fronted = await tlsThroughTunnel('api.example.test:443', 'other.example.test');
    expect(fronted).toMatch(/tls error/);
    const noSni = await tlsThroughTunnel('api.example.test:443', '');
    expect(noSni).toMatch(/tls error|socket error/);
    await new Promise((res) => setTimeout(res, 50));
    const reasons = events.filter((e) => e.kind === 'connect' && !e.allowed).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['sni_mismatch', 'sni_missing']));
  });

  it('with openssl s_client: a mismatching -servername gets no server certificate', async () => {
    const out = await new Promise<string>((resolve) => {
      const sock = netConnect(relay.port, '127.0.0.1');
      sock.write('CONNECT api.example.test:443 HTTP/1.1\r\nHost: api.example.test:443\r\n\r\n');
      sock.once('data', () => {
        // Hand the tunnel to s_client through a one-shot local TCP bridge.
        void import('node:net').then(({ createServer }) => {
          const bridge = createServer((c) => {
            c.pipe(sock).pipe(c);
            bridge.close();
          }).listen(0, '127.0.0.1', () => {
            const port = (bridge.address() as { port: number }).port;
            execFile(
              'openssl',
              [
                's_client',
                '-connect',
                `127.0.0.1:${port}`,
                '-servername',
                'other.example.test',
                '-CAfile',
                world.upstreamCaPath,
              ],
              { timeout: 10_000 },
              (_e, stdout, stderr) => resolve(stdout + stderr),
            );
          });
        });
      });
    });
    expect(out).not.toMatch(/BEGIN CERTIFICATE/);
    expect(out).toMatch(/alert|errno|error/i);
  });

  it('an empty allowlist denies everything', async () => {
    const empty = await proxy.openSession({
      sessionId: 'empty',
      socketPath: join(world.dir, 'empty.sock'),
      policy: {
        allow: [],
        deny: [],
        blockedPorts: [],
        resolve: { 'api.example.test': UPSTREAM_IP },
        rules: {},
      },
    });
    const r2 = await startRelay(empty.socketPath);
    try {
      const h = await curl(r2.port, ['http://api.example.test/echo']);
      expect([h.status, h.proxyError]).toEqual([403, 'host_not_allowed']);
      const s = await curl(r2.port, ['https://api.example.test/echo']);
      expect([s.status, s.proxyError]).toEqual([403, 'host_not_allowed']);
    } finally {
      r2.stop();
      await empty.close();
    }
  });
});

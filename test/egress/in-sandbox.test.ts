// Egress from inside a real bubblewrap sandbox: the only way out is the session's proxy,
// reached through the relay on the sandbox's own loopback. Upstreams live in a network namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BubblewrapDriver } from '../../src/sandbox/bubblewrap/bubblewrap-driver.js';
import { DockerDriver } from '../../src/sandbox/docker/docker-driver.js';
import type { SandboxDriver } from '../../src/sandbox/driver.js';
import { dockerUnavailable, selected } from '../sandbox-docker/availability.js';
import { provisionSandbox } from '../../src/sandbox/provision.js';
import { EgressProxy, type DecisionEvent } from '../../src/egress/index.js';
import { policySchema } from '../../src/policy/policy-schema.js';
import type { Sandbox } from '../../src/sandbox/driver.js';
import { missingBubblewrap, missingRoot } from '../helpers/capabilities.js';
import { netnsSkipReason } from '../helpers/netns.js';
import { createWorld, SUBNET_C, type EgressWorld } from './egress-fixture.js';

const common = missingRoot() ?? (await netnsSkipReason());
const DRIVERS: { name: string; create: () => SandboxDriver; unavailable: string | undefined }[] = [
  {
    name: 'bubblewrap',
    create: () => new BubblewrapDriver(),
    unavailable: common ?? missingBubblewrap(),
  },
  {
    name: 'docker',
    create: () => new DockerDriver(),
    unavailable:
      common ?? (selected('docker') ? await dockerUnavailable() : 'not selected by DRIVERS'),
  },
];

for (const { name, create, unavailable } of DRIVERS) {
  if (unavailable) process.stderr.write(`SKIP egress in a ${name} sandbox: ${unavailable}\n`);
  describe.skipIf(unavailable)(`egress from inside a real ${name} sandbox`, () => {
    egressSuite(create);
  });
}

function egressSuite(createDriver: () => SandboxDriver): void {
  const IP = SUBNET_C.upstreamIp;
  const canary = `rf-canary-${randomBytes(12).toString('hex')}`;
  let world: EgressWorld;
  let driver: SandboxDriver;
  let proxy: EgressProxy;
  let sb: Sandbox;
  let root: string;
  let hostServer: Server;
  let hostPort = 0;
  const decisions: DecisionEvent[] = [];

  const sh = (script: string) => sb.exec(['/bin/bash', '-c', script], { timeoutMs: 20_000 });

  beforeAll(async () => {
    world = await createWorld(SUBNET_C);
    root = await mkdtemp(join(tmpdir(), 'rf-egress-sb-'));
    driver = createDriver();
    proxy = new EgressProxy({ ca: world.proxyCa, upstreamCa: [world.upstreamCa.certPem] });
    proxy.subscribe((ev) => decisions.push(ev));
    hostServer = createServer((_req, res) => res.end('host loopback secret'));
    await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', r));
    hostPort = (hostServer.address() as { port: number }).port;
    const policy = policySchema.parse({
      network: {
        allow: [
          'api.example.test:80',
          'api.example.test',
          'bound.example.test',
          '169.254.169.254:80',
          `127.0.0.1:${hostPort}`,
        ],
        resolve: { 'api.example.test': IP, 'bound.example.test': IP, 'other.example.test': IP },
      },
    });
    sb = await provisionSandbox(driver, {
      workspace: join(root, 'ws'),
      policy,
      sessionId: 'egress-test',
      egress: {
        proxy,
        ca: world.proxyCa,
        secrets: [
          {
            name: 'BOUND_TOKEN',
            value: canary,
            hosts: ['bound.example.test'],
            header: 'Authorization',
            format: 'Bearer {value}',
          },
        ],
      },
    });
    await sb.writeFile('upstream-ca.pem', readFileSync(world.upstreamCaPath));
  }, 60_000);

  afterAll(async () => {
    await sb?.destroy();
    await driver?.close();
    await proxy?.close();
    hostServer?.close();
    await world?.destroy();
    await rm(root, { recursive: true, force: true });
  });

  it('an allowed host works over HTTP and HTTPS with curl and python, through the proxy env only', async () => {
    const http = await sh('curl -s -o /dev/null -w "%{http_code}" http://api.example.test/echo');
    expect(http.stdout).toBe('200');
    const https = await sh(
      'curl -s --cacert upstream-ca.pem -o /dev/null -w "%{http_code}" https://api.example.test/echo',
    );
    expect(https.stdout).toBe('200');
    const py = await sb.exec([
      'python3',
      '-c',
      'import urllib.request; print(urllib.request.urlopen("http://api.example.test/echo").status)',
    ]);
    expect(py.stdout.trim()).toBe('200');
    expect(decisions.some((d) => d.allowed && d.host === 'api.example.test')).toBe(true);
  });

  it('a host outside the allowlist gets a 403 the agent can read', async () => {
    const r = await sh('curl -s -D - http://other.example.test/echo');
    expect(r.stdout).toMatch(/^HTTP\/1\.1 403/);
    expect(r.stdout).toMatch(/x-proxy-error: host_not_allowed/i);
    expect(r.stdout).toContain('blocked by ringfence egress policy');
  });

  it('metadata and the host loopback are refused even when listed', async () => {
    const meta = await sh('curl -s -D - http://169.254.169.254/latest/meta-data/');
    expect(meta.stdout).toMatch(/x-proxy-error: ssrf_private_address/i);
    const loop = await sh(
      `curl -s -D - http://127.0.0.1:${hostPort}/ ; echo; curl -s --noproxy '*' http://127.0.0.1:${hostPort}/; echo rc=$?`,
    );
    expect(loop.stdout).not.toContain('host loopback secret');
  });

  it('programs that ignore the proxy variables have no route out', async () => {
    const r = await sh(
      [
        `curl -s -m 3 --noproxy '*' http://${IP}/echo; echo curl_rc=$?`,
        `env -u http_proxy -u HTTP_PROXY -u ALL_PROXY -u all_proxy curl -s -m 3 http://${IP}/echo; echo env_rc=$?`,
        `(exec 3<>/dev/tcp/${IP}/80) 2>/dev/null; echo devtcp_rc=$?`,
        `python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('${IP}', 53))" 2>/dev/null; echo udp_rc=$?`,
        `python3 -c "import socket; s=socket.socket(socket.AF_INET6); s.settimeout(2); s.connect(('2001:db8::1', 80))" 2>/dev/null; echo v6_rc=$?`,
      ].join('\n'),
    );
    expect(r.stdout).not.toContain('"method"');
    for (const key of ['curl_rc', 'env_rc', 'devtcp_rc', 'udp_rc', 'v6_rc']) {
      expect(r.stdout).toMatch(new RegExp(`${key}=[1-9]`));
    }
  });

  it('a bound secret is injected toward its host only and never visible in the sandbox', async () => {
    const bound = await sh('curl -s --cacert "$SSL_CERT_FILE" https://bound.example.test/reflect');
    expect(bound.stdout).toContain('raw=[REDACTED:BOUND_TOKEN]');
    expect(bound.stdout).not.toContain(canary);
    const other = await sh('curl -s --cacert upstream-ca.pem https://api.example.test/reflect');
    expect(other.stdout).toContain('raw=\n');
    const look = await sh(
      'env; cat /proc/*/environ 2>/dev/null | tr "\\0" "\\n"; cat "$SSL_CERT_FILE" | head -3; grep -r . /tmp /workspace 2>/dev/null | head -50',
    );
    for (const form of [
      canary,
      Buffer.from(canary).toString('base64'),
      Buffer.from(canary).toString('hex'),
    ]) {
      expect(look.stdout).not.toContain(form);
    }
  });
}

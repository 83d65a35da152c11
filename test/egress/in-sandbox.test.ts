// Egress from inside a real sandbox (bubblewrap, docker, gvisor): the only way out is the session's
// proxy, reached through the relay on the sandbox's own loopback. Upstreams live in a netns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BubblewrapDriver } from '../../src/sandbox/bubblewrap/bubblewrap-driver.js';
import { DockerDriver } from '../../src/sandbox/docker/docker-driver.js';
import { GvisorDriver } from '../../src/sandbox/gvisor/gvisor-driver.js';
import type { SandboxDriver } from '../../src/sandbox/driver.js';
import { dockerUnavailable, selected } from '../sandbox-docker/availability.js';
import { provisionSandbox } from '../../src/sandbox/provision.js';
import { EgressProxy, type DecisionEvent } from '../../src/egress/index.js';
import { policySchema } from '../../src/policy/policy-schema.js';
import type { Sandbox } from '../../src/sandbox/driver.js';
import { missingBubblewrap, missingRoot } from '../helpers/capabilities.js';
import { netnsSkipReason } from '../helpers/netns.js';
import { createWorld, SUBNET_C, type EgressWorld } from './egress-fixture.js';
import { PROBE, publishTools } from './tool-fixtures.js';

const common = missingRoot() ?? (await netnsSkipReason());
const DRIVERS: {
  name: string;
  create: () => SandboxDriver;
  unavailable: string | undefined;
  /** Forces the socat relay (the fallback when build/rf-relay is absent). */
  socat?: boolean;
}[] = [
  {
    name: 'bubblewrap',
    create: () => new BubblewrapDriver(),
    unavailable: common ?? missingBubblewrap(),
  },
  {
    name: 'bubblewrap (socat relay)',
    create: () => new BubblewrapDriver(),
    unavailable: common ?? missingBubblewrap(),
    socat: true,
  },
  {
    name: 'docker',
    create: () => new DockerDriver(),
    unavailable:
      common ?? (selected('docker') ? await dockerUnavailable() : 'not selected by DRIVERS'),
  },
  {
    // Relay inside the sandbox (runsc's netstack is in its sentry), socket via --host-uds=open.
    name: 'gvisor',
    create: () => new GvisorDriver(),
    unavailable:
      common ?? (selected('gvisor') ? await dockerUnavailable('runsc') : 'not selected by DRIVERS'),
  },
];

for (const { name, create, unavailable, socat } of DRIVERS) {
  if (unavailable) process.stderr.write(`SKIP egress in a ${name} sandbox: ${unavailable}\n`);
  describe.skipIf(unavailable)(`egress from inside a real ${name} sandbox`, () => {
    egressSuite(name, create, socat ?? false);
  });
}

function egressSuite(name: string, createDriver: () => SandboxDriver, socat: boolean): void {
  const IP = SUBNET_C.upstreamIp;
  const canary = `rf-canary-${randomBytes(12).toString('hex')}`;
  /** What the git repository, the npm package and the wheel served upstream carry. */
  const marker = `rf-probe-${randomBytes(6).toString('hex')}`;
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const noEnvProxy =
    major >= 24 || (major === 22 && minor >= 21)
      ? undefined
      : `Node ${process.version} ignores NODE_USE_ENV_PROXY (22.21+ and 24+ honour it)`;
  const noPackageTools = name.startsWith('bubblewrap')
    ? undefined
    : 'the default image has no npm or pip (IMAGE_PACKAGES)';
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
    if (socat) process.env.RINGFENCE_EGRESS_RELAY = 'socat';
    world = await createWorld(SUBNET_C);
    await publishTools(world.filesDir, marker);
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
    if (socat) delete process.env.RINGFENCE_EGRESS_RELAY;
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

  it('git clones over HTTP and HTTPS through the proxy env only', async () => {
    const r = await sh(
      [
        'cd /tmp && rm -rf c1 c2',
        'git clone -q http://api.example.test/files/repo.git c1',
        // the upstream's private CA (the proxy's upstreamCa) is in the sandbox's trust bundle
        'git clone -q https://api.example.test/files/repo.git c2',
        'cat c1/README c2/README',
      ].join(' && '),
    );
    expect(r.stdout, r.stderr).toBe(`${marker}\n${marker}\n`);
  });

  if (noEnvProxy)
    process.stderr.write(`SKIP Node's env proxy in a ${name} sandbox: ${noEnvProxy}\n`);
  it.skipIf(noEnvProxy)(
    "Node's fetch and http reach an allowed host through NODE_USE_ENV_PROXY alone",
    async () => {
      // the Node running this suite, in the workspace: the sandbox's own may be older
      await copyFile(process.execPath, join(root, 'ws', 'node'));
      const script = [
        "const get = (u) => new Promise((ok, no) => require(u.slice(0, u.indexOf(':'))).get(u, (r) => { r.resume(); ok(r.statusCode); }).on('error', no));",
        "Promise.all([fetch('http://api.example.test/echo').then((r) => r.status),",
        "  fetch('https://api.example.test/echo').then((r) => r.status),",
        "  get('http://api.example.test/echo'), get('https://api.example.test/echo')])",
        "  .then((s) => console.log(s.join(' ')), (e) => console.log(String(e.cause ?? e)));",
      ].join('\n');
      const r = await sb.exec(['./node', '--no-warnings', '-e', script], { timeoutMs: 20_000 });
      expect(r.stdout.trim(), r.stderr).toBe('200 200 200 200');
    },
  );

  if (noPackageTools)
    process.stderr.write(`SKIP npm and pip in a ${name} sandbox: ${noPackageTools}\n`);
  it.skipIf(noPackageTools)(
    'npm installs and pip downloads from their registries through the proxy env only',
    async () => {
      const npm = await sh(
        [
          'mkdir -p /tmp/np && cd /tmp/np',
          `npm install -s --no-audit --no-fund --no-update-notifier --cache /tmp/npm-cache --registry http://api.example.test/files/npm/ ${PROBE}`,
          `node -p "require('/tmp/np/node_modules/${PROBE}')"`,
        ].join(' && '),
      );
      expect(npm.stdout.trim(), npm.stderr).toBe(marker);
      const pip = await sh(
        [
          // verified with the sandbox's trust bundle (REQUESTS_CA_BUNDLE), as git above
          'python3 -m pip download -q --no-deps --no-cache-dir --disable-pip-version-check -d /tmp/wheels ' +
            `--index-url https://api.example.test/files/simple/ ${PROBE}`,
          `python3 -c "import zipfile; print(zipfile.ZipFile('/tmp/wheels/rf_probe-1.0-py3-none-any.whl').read('rf_probe/__init__.py').decode())"`,
        ].join(' && '),
      );
      expect(pip.stdout, pip.stderr).toContain(marker);
    },
  );

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

  it('the relay carries large transfers intact both ways and concurrent connections', async () => {
    const r = await sh(
      [
        'head -c 3000000 /dev/zero | tr "\\0" "b" > /tmp/up.bin',
        'curl -s --cacert upstream-ca.pem -o /dev/null -w "down=%{size_download}\\n" "https://api.example.test/bytes?n=16777216"',
        'curl -s --cacert upstream-ca.pem -H "Content-Type: application/octet-stream" --data-binary @/tmp/up.bin https://api.example.test/echo | python3 -c "import json,sys; print(\'up=%d\' % len(json.load(sys.stdin)[\'body\']))"',
        // 4, not more: 16 busy processes crash a gVisor sandbox (runsc's host threads hit pids.max).
        'for i in 1 2 3 4; do curl -s -o /dev/null -w "%{http_code}\\n" "http://api.example.test/bytes?n=200000" & done; wait',
      ].join('\n'),
    );
    expect(r.stdout).toContain('down=16777216');
    expect(r.stdout).toContain('up=3000000');
    expect(r.stdout.split('\n').filter((l) => l === '200')).toHaveLength(4);
  });

  if (name === 'gvisor')
    it("on the host, the socket is the sandbox uid's only, in a root-only directory", () => {
      const dir = '/run/ringfence/egress/inside';
      const socks = readdirSync(dir).filter((f) => f.startsWith('egress-test-'));
      expect(socks).toHaveLength(1);
      const dirStat = statSync(dir);
      expect([dirStat.uid, dirStat.mode & 0o777]).toEqual([0, 0o700]);
      const sock = statSync(join(dir, socks[0] ?? ''));
      expect(sock.isSocket()).toBe(true);
      expect([sock.uid, sock.mode & 0o777]).toEqual([1000, 0o600]);
    });

  // Last in the suite: it kills the relay (as the agent could), which ends this sandbox's egress.
  // Registered for gvisor only: there the relay runs inside; the others' relay is on the host.
  if (name === 'gvisor')
    it('the relay runs inside as the sandbox user, and killing it leaves the sandbox no way out', async () => {
      const r = await sh(
        [
          'for p in /proc/[0-9]*; do grep -qa "egress-rela[y]" "$p/cmdline" 2>/dev/null && relay=${p#/proc/}; done',
          'echo "relay_uid=$(awk \'/^Uid:/ {print $2}\' /proc/$relay/status)"',
          'kill -9 "$relay"; sleep 0.2',
          'curl -s -m 5 http://api.example.test/echo; echo after_kill_rc=$?',
        ].join('\n'),
      );
      expect(r.stdout).toContain('relay_uid=1000');
      expect(r.stdout).toMatch(/after_kill_rc=[1-9]/);
      expect(r.stdout).not.toContain('"method"');
    });
}

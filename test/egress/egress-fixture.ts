// One namespace-backed world for the egress tests: upstream HTTP/HTTPS servers on
// 198.51.100.10, CAs in a temp dir, a proxy with a fake resolver that never leaves the machine.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CertificateAuthority } from '../../src/egress/ca.js';
import type { LookupFn } from '../../src/egress/resolve.js';
import { createNetns, waitForLine, type TestNetns } from '../helpers/netns.js';

/** Each test file gets its own subnet so files can run in parallel without route clashes. */
export interface Subnet {
  hostIp: string;
  upstreamIp: string;
  /** Prefix length; a /28 inside a /24 used by another file routes by longest prefix. */
  prefix?: number;
}
export const SUBNET_A: Subnet = { hostIp: '198.51.100.1', upstreamIp: '198.51.100.10' };
export const SUBNET_B: Subnet = { hostIp: '203.0.113.1', upstreamIp: '203.0.113.10' };
export const SUBNET_C: Subnet = {
  hostIp: '198.51.100.129',
  upstreamIp: '198.51.100.130',
  prefix: 28,
};
/** The data-path tests (keep-alive reuse, byte caps). */
export const SUBNET_D: Subnet = {
  hostIp: '203.0.113.225',
  upstreamIp: '203.0.113.226',
  prefix: 28,
};
/** test/agent/web-fetch.test.ts (WebFetch through a session's egress proxy). */
/** The remote-MCP agent test's host (198.51.100.176/28). */
export const SUBNET_MCP: Subnet = {
  hostIp: '198.51.100.177',
  upstreamIp: '198.51.100.178',
  prefix: 28,
};
export const SUBNET_AGENT: Subnet = {
  hostIp: '203.0.113.129',
  upstreamIp: '203.0.113.130',
  prefix: 28,
};
/** test/egress/relay.test.ts (the C relay's hand-off). */
export const SUBNET_RELAY: Subnet = {
  hostIp: '198.51.100.193',
  upstreamIp: '198.51.100.194',
  prefix: 28,
};
/** bench/egress.bench.ts, so the bench can run while the tests do. */
export const SUBNET_BENCH: Subnet = {
  hostIp: '203.0.113.209',
  upstreamIp: '203.0.113.210',
  prefix: 28,
};
export const TEST_NAMES = ['api.example.test', 'other.example.test', 'bound.example.test'];

export interface EgressWorld {
  dir: string;
  netns: TestNetns;
  upstreamCa: CertificateAuthority;
  proxyCa: CertificateAuthority;
  /** upstream CA + proxy CA, for clients talking to bound and unbound hosts. */
  bundlePath: string;
  upstreamCaPath: string;
  proxyCaPath: string;
  /** What the upstream serves under /files/ (see fixtures/upstream-server.mjs). */
  filesDir: string;
  destroy(): Promise<void>;
}

/** Test-only resolver: fixed answers, everything else fails (no DNS query ever leaves). */
export function fakeLookup(answers: Record<string, readonly string[]>): LookupFn {
  return async (host) => {
    const list = answers[host];
    if (!list) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address }));
  };
}

export async function createWorld(subnet: Subnet): Promise<EgressWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'rf-egress-'));
  const netns = await createNetns({
    hostIp: subnet.hostIp,
    nsIps: [subnet.upstreamIp],
    ...(subnet.prefix ? { prefix: subnet.prefix } : {}),
  });
  try {
    const upstreamCa = await CertificateAuthority.loadOrCreate(
      join(dir, 'upstream-ca'),
      'test upstream CA',
    );
    const proxyCa = await CertificateAuthority.loadOrCreate(join(dir, 'proxy-ca'));
    const leaf = upstreamCa.issue(TEST_NAMES[0] ?? '', [...TEST_NAMES.slice(1), subnet.upstreamIp]);
    await writeFile(join(dir, 'up-cert.pem'), leaf.certPem);
    await writeFile(join(dir, 'up-key.pem'), leaf.keyPem, { mode: 0o600 });
    const bundlePath = join(dir, 'bundle.pem');
    await writeFile(bundlePath, upstreamCa.certPem + proxyCa.certPem);
    const script = fileURLToPath(new URL('./fixtures/upstream-server.mjs', import.meta.url));
    const child = netns.spawn(process.execPath, [script], {
      LISTEN_IPS: subnet.upstreamIp,
      TLS_CERT: join(dir, 'up-cert.pem'),
      TLS_KEY: join(dir, 'up-key.pem'),
      FILES_DIR: join(dir, 'files'),
    });
    await waitForLine(child, 'upstream ready');
    return {
      dir,
      netns,
      upstreamCa,
      proxyCa,
      bundlePath,
      upstreamCaPath: upstreamCa.certPath,
      proxyCaPath: proxyCa.certPath,
      filesDir: join(dir, 'files'),
      async destroy() {
        await netns.destroy();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await netns.destroy();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

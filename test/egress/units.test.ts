// Pure pieces of the egress proxy: address classes, target parsing, decisions, SNI parsing,
// streamed redaction across chunk boundaries, the token bucket, proxyEnv and the CA on disk.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../src/egress/ca.js';
import { compileNetworkPolicy, decideRequest, decideTarget } from '../../src/egress/decide.js';
import { classifyAddress } from '../../src/egress/ip-address.js';
import { TokenBucket } from '../../src/egress/limits.js';
import { proxyEnv } from '../../src/egress/proxy-env.js';
import { RedactStream } from '../../src/egress/redact.js';
import { parseAuthority, type Target } from '../../src/egress/target.js';
import { parseClientHello } from '../../src/egress/tls-client-hello.js';

describe('classifyAddress', () => {
  it.each([
    ['169.254.169.254', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['10.9.8.7', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['fc00::1', 'private'],
    ['169.254.1.1', 'link_local'],
    ['fe80::1', 'link_local'],
    ['100.64.0.1', 'cgnat'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['240.1.2.3', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:198.51.100.10', 'ipv4_mapped'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['2002:7f00:1::1', 'loopback'],
    ['2002:0a00:0001::1', 'private'],
  ])('%s is %s', (ip, cls) => {
    expect(classifyAddress(ip)).toBe(cls);
  });
  it('lets documentation and public addresses through, and flags own addresses', () => {
    for (const ip of ['198.51.100.10', '203.0.113.5', '93.184.216.34', '2606:4700::1111'])
      expect(classifyAddress(ip), ip).toBeUndefined();
    expect(classifyAddress('203.0.113.5', new Set(['203.0.113.5']))).toBe('own_address');
  });
});

describe('decisions', () => {
  const policy = compileNetworkPolicy({
    allow: ['*.example.test', 'api.example.test:8443', '198.51.100.10:80'],
    deny: ['bad.example.test'],
    blockedPorts: [25],
    resolve: {},
    rules: { 'reg.example.test': { methods: ['GET', 'HEAD'], paths: ['/pkg'] } },
  });
  const t = (authority: string, port?: number): Target => {
    const r = parseAuthority(authority, port);
    if (!r.ok) throw new Error(r.denial.reason);
    return r.target;
  };
  it('*.x matches subdomains only, with default ports per kind', () => {
    expect(decideTarget(policy, t('a.example.test:443'), 'connect')).toMatchObject({
      allowed: true,
    });
    expect(decideTarget(policy, t('a.example.test:80'), 'http')).toMatchObject({ allowed: true });
    expect(decideTarget(policy, t('a.example.test:80'), 'connect')).toMatchObject({
      allowed: false,
    });
    expect(decideTarget(policy, t('example.test:443'), 'connect')).toMatchObject({
      allowed: false,
      denial: { reason: 'host_not_allowed' },
    });
    expect(decideTarget(policy, t('bad.example.test:443'), 'connect')).toMatchObject({
      denial: { reason: 'host_denied' },
    });
    expect(decideTarget(policy, t('a.example.test:25'), 'connect')).toMatchObject({
      denial: { reason: 'port_blocked' },
    });
    expect(decideTarget(policy, t('198.51.100.10:80'), 'http')).toMatchObject({ allowed: true });
    expect(decideTarget(policy, t('198.51.100.11:80'), 'http')).toMatchObject({
      denial: { reason: 'raw_ip_not_allowed' },
    });
  });
  it('refuses alternative IPv4 spellings and userinfo at parse time', () => {
    for (const a of [
      '2130706433:80',
      '0x7f000001:80',
      '0177.0.0.1:80',
      '127.1:80',
      'a@b.example:80',
    ])
      expect(parseAuthority(a, undefined)).toMatchObject({
        ok: false,
        denial: { reason: 'invalid_host' },
      });
  });
  it('applies method and segment-aware path rules', () => {
    const reg = t('reg.example.test:443');
    expect(decideRequest(policy, reg, 'GET', '/pkg/x?y=1')).toBeUndefined();
    expect(decideRequest(policy, reg, 'PUT', '/pkg/x')).toEqual({ reason: 'method_not_allowed' });
    expect(decideRequest(policy, reg, 'GET', '/pkgevil')).toEqual({ reason: 'path_not_allowed' });
    expect(decideRequest(policy, reg, 'GET', '/pkg/%2e%2e/admin')).toEqual({
      reason: 'path_not_allowed',
    });
  });
});

describe('parseClientHello', () => {
  it('extracts the SNI of a real ClientHello, also from a prefix-by-prefix stream', async () => {
    const hello = await new Promise<Buffer>((resolve) => {
      const srv = createServer((s) => {
        s.once('data', (d: Buffer) => {
          resolve(d);
          s.destroy();
          srv.close();
        });
      }).listen(0, '127.0.0.1', () => {
        const port = (srv.address() as { port: number }).port;
        tlsConnect({ port, host: '127.0.0.1', servername: 'api.example.test' }).on(
          'error',
          () => undefined,
        );
      });
    });
    expect(parseClientHello(hello)).toEqual({ status: 'ok', serverName: 'api.example.test' });
    expect(parseClientHello(hello.subarray(0, 3))).toEqual({ status: 'need_more' });
    expect(parseClientHello(hello.subarray(0, hello.length - 1))).toEqual({ status: 'need_more' });
    expect(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n'))).toEqual({ status: 'not_tls' });
  });
});

describe('RedactStream', () => {
  it('replaces every encoding even when split across chunk boundaries', async () => {
    const secret = 'sk-test-0123456789abcdef';
    const text = `a ${secret} b ${Buffer.from(secret).toString('base64')} c ${Buffer.from(secret).toString('hex')} d ${encodeURIComponent(secret)} e`;
    for (const size of [1, 3, 7, 64]) {
      const stream = new RedactStream([{ name: 'KEY', value: secret }]);
      const out: Buffer[] = [];
      stream.on('data', (d: Buffer) => out.push(d));
      const done = new Promise((r) => stream.on('end', r));
      for (let i = 0; i < text.length; i += size)
        stream.write(Buffer.from(text.slice(i, i + size)));
      stream.end();
      await done;
      const result = Buffer.concat(out).toString();
      expect(result, `chunk ${size}`).toBe(
        'a [REDACTED:KEY] b [REDACTED:KEY] c [REDACTED:KEY] d [REDACTED:KEY] e',
      );
    }
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then the sustained rate', () => {
    let now = 0;
    const b = new TokenBucket(10, 2, () => now);
    expect([b.take(), b.take(), b.take()]).toEqual([true, true, false]);
    now += 100;
    expect([b.take(), b.take()]).toEqual([true, false]);
  });
});

describe('proxyEnv', () => {
  it('sets proxy variables, loopback-only NO_PROXY and CA variables', () => {
    const env = proxyEnv({ port: 3128, caCertPath: '/etc/ringfence/ca.pem' });
    for (const k of [
      'HTTP_PROXY',
      'HTTPS_PROXY',
      'ALL_PROXY',
      'http_proxy',
      'https_proxy',
      'all_proxy',
    ])
      expect(env[k]).toBe('http://127.0.0.1:3128');
    expect(env.NO_PROXY).toBe('localhost,127.0.0.1,::1');
    expect(env.NODE_USE_ENV_PROXY).toBe('1');
    for (const k of [
      'SSL_CERT_FILE',
      'NODE_EXTRA_CA_CERTS',
      'REQUESTS_CA_BUNDLE',
      'GIT_SSL_CAINFO',
      'CURL_CA_BUNDLE',
    ])
      expect(env[k]).toBe('/etc/ringfence/ca.pem');
    expect(proxyEnv({ port: 1 }).SSL_CERT_FILE).toBeUndefined();
  });
});

describe('CertificateAuthority', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  it('is created once with a 0600 key and reused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rf-ca-'));
    dirs.push(dir);
    const a = await CertificateAuthority.loadOrCreate(join(dir, 'ca'));
    const b = await CertificateAuthority.loadOrCreate(join(dir, 'ca'));
    expect(b.certPem).toBe(a.certPem);
    expect((await stat(join(dir, 'ca', 'ca-key.pem'))).mode & 0o777).toBe(0o600);
    expect(a.contextFor('x.example.test')).toBe(a.contextFor('x.example.test'));
  });
});

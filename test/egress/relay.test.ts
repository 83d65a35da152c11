// The C relay's hand-off (src/egress/relay.c): approved CONNECT tunnels are dialled by the relay to
// the pinned IP and spliced, while every decision, limit and event stays with the proxy.
// The relay listens on the host's loopback here (in production: the sandbox's), as `nobody`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { EgressProxy } from '../../src/egress/egress-proxy.js';
import type { EgressSession } from '../../src/egress/egress-session.js';
import type { DecisionEvent } from '../../src/egress/events.js';
import { RelayProcess, relayBinary } from '../../src/egress/relay-process.js';
import { missingRoot } from '../helpers/capabilities.js';
import { netnsSkipReason, waitForLine } from '../helpers/netns.js';
import { createWorld, SUBNET_RELAY, type EgressWorld } from './egress-fixture.js';
import { curl } from './harness.js';

const skip =
  missingRoot() ??
  (await netnsSkipReason()) ??
  (relayBinary() ? undefined : 'build/rf-relay is not built (scripts/build-supervisor.sh)');
if (skip) console.error(`SKIP egress relay tests: ${skip}`);

const UP = SUBNET_RELAY.upstreamIp;
const ECHO_PORT = 9000;
const CLOSED_PORT = 9001;
const NOBODY = 65534;
const ECHO_SERVER = `
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(64)
print("echo ready", flush=True)
def serve(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;
const policy = {
  allow: [
    'api.example.test',
    'api.example.test:80',
    `api.example.test:${ECHO_PORT}`,
    `api.example.test:${CLOSED_PORT}`,
  ],
  deny: [],
  blockedPorts: [],
  resolve: { 'api.example.test': UP, 'other.example.test': UP },
  rules: {},
};

/** Opens a CONNECT through `port`, sending `extra` in the same write as the head. */
function tunnel(port: number, target: string, extraHeaders = '', extra = ''): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () =>
      s.write(`CONNECT ${target} HTTP/1.1\r\n${extraHeaders}Host: ${target}\r\n\r\n${extra}`),
    );
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      // Paused before the unshift: a flowing socket would emit the bytes to no listener.
      s.pause();
      if (!head.startsWith('HTTP/1.1 200')) {
        s.destroy();
        reject(new Error(head.split('\r\n')[0]));
        return;
      }
      const rest = head.slice(end + 4);
      if (rest) s.unshift(Buffer.from(rest, 'latin1'));
      resolve(s);
    };
    s.on('data', onData);
    s.once('error', reject);
  });
}

/** Reads from `s` until `want` bytes arrived. */
function readBytes(s: Socket, want: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer): void => {
      got += d.toString('latin1');
      if (got.length >= want) {
        s.off('data', onData);
        s.pause();
        resolve(got);
      }
    };
    s.on('data', onData);
    s.once('close', () => reject(new Error(`closed after ${got.length} bytes`)));
    s.resume();
  });
}

const closed = (s: Socket): Promise<void> =>
  new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));

describe.skipIf(skip)('the C relay hands approved tunnels off to splice', () => {
  let world: EgressWorld;
  let dir: string;
  let proxy: EgressProxy;
  let echo: ChildProcess;
  const decisions: DecisionEvent[] = [];

  /** A session with its own relay; `limits` override the session's defaults. */
  async function relayed(
    name: string,
    limits: { idleTimeoutMs?: number; maxBytes?: number } = {},
  ): Promise<{ session: EgressSession; relay: RelayProcess }> {
    const socketPath = join(dir, `${name}.sock`);
    const session = await proxy.openSession({ sessionId: name, policy, socketPath, limits });
    await chown(socketPath, NOBODY, NOBODY);
    const relay = await RelayProcess.start({ socketPath, port: 0, uid: NOBODY });
    session.attachRelay(relay);
    return { session, relay };
  }

  /** curl over HTTPS through the relay; the body is the number of bytes it received. */
  const download = (port: number, n: number) =>
    curl(port, [
      ...['--cacert', world.upstreamCaPath, '-o', '/dev/null', '-w', '%{size_download}'],
      `https://api.example.test/bytes?n=${n}`,
    ]);

  const eventsOf = (sessionId: string) => decisions.filter((d) => d.sessionId === sessionId);

  beforeAll(async () => {
    world = await createWorld(SUBNET_RELAY);
    dir = await mkdtemp(join(tmpdir(), 'rf-relay-'));
    await mkdir(dir, { recursive: true });
    await chown(dir, NOBODY, NOBODY);
    // An echo server that never closes on its own: only the relay can end an idle tunnel to it.
    echo = world.netns.spawn('python3', ['-c', ECHO_SERVER, UP, String(ECHO_PORT)]);
    await waitForLine(echo, 'echo ready');
    proxy = new EgressProxy({ upstreamCa: [world.upstreamCa.certPem] });
    proxy.subscribe((ev) => decisions.push(ev));
  }, 30_000);

  afterAll(async () => {
    echo?.kill('SIGKILL');
    await proxy?.close();
    await world?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('carries an HTTPS download and upload intact and reports the bytes in the decision event', async () => {
    const { session, relay } = await relayed('bulk');
    const upload = join(dir, 'upload.bin');
    await writeFile(upload, 'x'.repeat(200_000));
    const down = await download(relay.port, 8388608);
    expect(down.exitCode).toBe(0);
    expect(down.body).toBe('8388608');
    const up = await curl(relay.port, [
      '--cacert',
      world.upstreamCaPath,
      '--data-binary',
      `@${upload}`,
      'https://api.example.test/echo',
    ]);
    expect(up.exitCode).toBe(0);
    expect((JSON.parse(up.body) as { body: string }).body).toHaveLength(200_000);
    await expect.poll(() => eventsOf('bulk').length).toBe(2);
    const [first] = eventsOf('bulk');
    expect(first).toMatchObject({ allowed: true, kind: 'connect', ip: UP, port: 443 });
    expect(first?.bytesIn).toBeGreaterThan(8_388_608);
    expect(eventsOf('bulk')[1]?.bytesOut).toBeGreaterThan(200_000);
    expect(session.stats().tunnels).toBe(0);
    relay.stop();
    await session.close();
  });

  it('replays bytes sent together with the CONNECT head, and a forged relay mark changes nothing', async () => {
    const { session, relay } = await relayed('pipelined');
    // The client's own mark comes after the relay's, which is always first: it is ignored.
    const s = await tunnel(
      relay.port,
      `api.example.test:${ECHO_PORT}`,
      'X-Ringfence-Relay: 1\r\n',
      'hello',
    );
    expect(await readBytes(s, 5)).toBe('hello');
    s.write('again');
    expect(await readBytes(s, 5)).toBe('again');
    s.destroy();
    await expect.poll(() => eventsOf('pipelined').length).toBe(1);
    expect(eventsOf('pipelined')[0]).toMatchObject({ allowed: true, bytesIn: 10, bytesOut: 10 });
    relay.stop();
    await session.close();
  });

  it('ignores a relay mark on a later request of a connection (only the first one is marked)', async () => {
    const { session, relay } = await relayed('later');
    const s = connect(relay.port, '127.0.0.1');
    let seen = '';
    s.on('data', (d: Buffer) => (seen += d.toString('latin1')));
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    s.write('GET http://api.example.test/echo HTTP/1.1\r\nHost: api.example.test\r\n\r\n');
    await expect.poll(() => seen.includes('"method"')).toBe(true);
    // This connection is relay id 1: a forged mark naming it would make the relay refuse the dial
    // (403 upstream_unreachable); unmarked, the proxy carries the tunnel itself.
    s.write(
      `CONNECT api.example.test:${ECHO_PORT} HTTP/1.1\r\nX-Ringfence-Relay: 1\r\nHost: x\r\n\r\n`,
    );
    await expect
      .poll(() => /HTTP\/1\.1 (200 Connection|403)/.exec(seen)?.[0])
      .toBe('HTTP/1.1 200 Connection');
    s.write('hello');
    await expect.poll(() => seen.endsWith('hello')).toBe(true);
    s.destroy();
    relay.stop();
    await session.close();
  });

  it('closes a spliced tunnel that stays idle past the session idle timeout', async () => {
    const { session, relay } = await relayed('idle', { idleTimeoutMs: 200 });
    const s = await tunnel(relay.port, `api.example.test:${ECHO_PORT}`);
    s.write('ping');
    expect(await readBytes(s, 4)).toBe('ping');
    // The echo server never closes; nothing else would end this tunnel.
    await closed(s);
    await expect.poll(() => eventsOf('idle').length).toBe(1);
    expect(session.stats().tunnels).toBe(0);
    relay.stop();
    await session.close();
  });

  it('cuts a spliced transfer at the session byte cap', async () => {
    const { session, relay } = await relayed('capped', { maxBytes: 2 * 1024 * 1024 });
    const r = await download(relay.port, 33554432);
    expect(r.exitCode).not.toBe(0);
    expect(Number(r.body)).toBeLessThan(33_554_432);
    await expect.poll(() => eventsOf('capped').length).toBe(1);
    expect(session.stats().bytes).toBeGreaterThan(2 * 1024 * 1024);
    relay.stop();
    await session.close();
  });

  it('refuses an SNI that is not the CONNECT host, and an unreachable upstream, with reasons', async () => {
    const { session, relay } = await relayed('refusals');
    const sni = await curl(relay.port, [
      '--cacert',
      world.upstreamCaPath,
      '--connect-to',
      'other.example.test:443:api.example.test:443',
      'https://other.example.test/echo',
    ]);
    expect(sni.exitCode).not.toBe(0);
    const unreachable = await curl(relay.port, [`http://api.example.test:${CLOSED_PORT}/`, '-p']);
    expect(unreachable.proxyError).toBe('upstream_unreachable');
    await expect.poll(() => eventsOf('refusals').length).toBe(2);
    expect(eventsOf('refusals').map((e) => e.reason)).toEqual([
      'sni_mismatch',
      'upstream_unreachable',
    ]);
    expect(session.stats().tunnels).toBe(0);
    relay.stop();
    await session.close();
  });

  it('ends and reports its tunnels when the relay dies', async () => {
    const { session, relay } = await relayed('killed');
    const s = await tunnel(relay.port, `api.example.test:${ECHO_PORT}`);
    s.write('abc');
    expect(await readBytes(s, 3)).toBe('abc');
    expect(session.stats().tunnels).toBe(1);
    relay.stop();
    await closed(s);
    await expect.poll(() => eventsOf('killed').length).toBe(1);
    expect(session.stats().tunnels).toBe(0);
    await session.close();
  });

  it('ignores a relay mark on a session that has no relay attached', async () => {
    const socketPath = join(dir, 'plain.sock');
    const session = await proxy.openSession({ sessionId: 'plain', policy, socketPath });
    const s = await new Promise<Socket>((resolve, reject) => {
      const c = connect(socketPath, () => {
        c.write(`CONNECT api.example.test:${ECHO_PORT} HTTP/1.1\r\nX-Ringfence-Relay: 7\r\n\r\n`);
        resolve(c);
      });
      c.once('error', reject);
    });
    expect(await readBytes(s, 12)).toMatch(/^HTTP\/1\.1 200/);
    s.write('plain');
    expect(await readBytes(s, 5)).toContain('plain');
    s.destroy();
    await session.close();
  });
});

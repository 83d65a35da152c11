import { describe, expect, it, afterEach } from 'vitest';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BubblewrapDriver } from '../../src/sandbox/bubblewrap/bubblewrap-driver.js';
import { DockerDriver } from '../../src/sandbox/docker/docker-driver.js';
import { defaultPolicy } from '../../src/policy/policy-schema.js';
import type { SandboxDriver } from '../../src/sandbox/driver.js';
import { WarmPool } from '../../src/sandbox/warm-pool.js';
import { missingBubblewrap } from '../helpers/capabilities.js';
import { dockerUnavailable, selected } from './availability.js';

const noBwrap = missingBubblewrap();
const noDocker = selected('docker') ? await dockerUnavailable() : 'not selected by DRIVERS';
if (noBwrap) process.stderr.write(`SKIP warm pool (bubblewrap): ${noBwrap}\n`);
if (noDocker) process.stderr.write(`SKIP warm pool (docker): ${noDocker}\n`);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function pool(
  driver: SandboxDriver,
  config: ConstructorParameters<typeof WarmPool>[0]['config'],
  now?: () => number,
  warmup?: string[],
) {
  const p = new WarmPool({
    driver,
    template: { policy: defaultPolicy() },
    ...(config ? { config } : {}),
    ...(now ? { now } : {}),
    ...(warmup ? { warmup } : {}),
  });
  cleanups.push(async () => {
    await p.close();
    await driver.close();
  });
  return p;
}

describe.skipIf(Boolean(noBwrap))('warm pool (bubblewrap)', () => {
  it('fills to size, hands each sandbox out once and refills in the background', async () => {
    const p = pool(new BubblewrapDriver(), { size: 2, refillPerSec: 50 });
    await p.start();
    expect(p.readyCount).toBe(2);
    const a = await p.acquire();
    const b = await p.acquire();
    expect(a.pooled && b.pooled).toBe(true);
    expect(a.sandbox.id).not.toBe(b.sandbox.id);
    expect(a.workspace).not.toBe(b.workspace);
    await p.drain();
    expect(p.readyCount).toBe(2);
    const ids = new Set([a.sandbox.id, b.sandbox.id]);
    const c = await p.acquire();
    expect(ids.has(c.sandbox.id)).toBe(false);
    // The workspace bound at create time is the one handed out: a file put there is seen inside.
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(c.workspace, 'restored.txt'), 'from session');
    expect((await c.sandbox.exec(['cat', 'restored.txt'])).stdout).toBe('from session');
    await p.release(c);
    await expect(c.sandbox.exec(['true'])).rejects.toMatchObject({ code: 'sandbox_destroyed' });
    expect(existsSync(c.workspace)).toBe(false);
    await p.release(a);
    await p.release(b);
  });

  it('falls back to on-demand creation when empty', async () => {
    const p = pool(new BubblewrapDriver(), { size: 0 });
    await p.start();
    const a = await p.acquire();
    expect(a.pooled).toBe(false);
    expect((await a.sandbox.exec(['echo', 'ok'])).stdout).toBe('ok\n');
    await p.release(a);
  });

  it('replaces expired sandboxes instead of handing them out', async () => {
    let now = 1_000_000;
    const p = pool(new BubblewrapDriver(), { size: 1, maxAgeSec: 60, refillPerSec: 50 }, () => now);
    await p.start();
    const first = await p.acquire();
    await p.drain();
    expect(p.readyCount).toBe(1);
    now += 61_000;
    const second = await p.acquire();
    // The ready one was older than maxAge: destroyed, so this one was created on demand.
    expect(second.pooled).toBe(false);
    await p.drain();
    expect(p.readyCount).toBe(1);
    await p.release(first);
    await p.release(second);
  });
});

/** Delegates to `inner`, counting create() calls. */
function counting(inner: SandboxDriver): SandboxDriver & { creates: number } {
  const d = {
    name: inner.name,
    creates: 0,
    create: (o: Parameters<SandboxDriver['create']>[0]) => {
      d.creates++;
      return inner.create(o);
    },
    probe: () => inner.probe(),
    close: () => inner.close(),
  };
  return d;
}

describe.skipIf(Boolean(noBwrap))('warm pool warm-up and refill delay (bubblewrap)', () => {
  it('warms each sandbox before pooling it; refills wait while others are ready, not when empty', async () => {
    const driver = counting(new BubblewrapDriver());
    const p = pool(driver, { size: 2, refillPerSec: 50, refillDelayMs: 60_000 }, undefined, [
      '/bin/sh',
      '-c',
      'echo warm > /tmp/warmed',
    ]);
    await p.start();
    expect([driver.creates, p.readyCount]).toEqual([2, 2]);
    const a = await p.acquire();
    expect((await a.sandbox.exec(['cat', '/tmp/warmed'])).stdout).toBe('warm\n');
    // One is still ready: the replacement waits out refillDelayMs (60 s here).
    await new Promise((r) => setTimeout(r, 50));
    expect([driver.creates, p.readyCount]).toEqual([2, 1]);
    // The pool is empty after this one: the refill starts at once (drain would wait 60 s if not).
    const b = await p.acquire();
    await p.drain();
    expect([driver.creates, p.readyCount]).toEqual([4, 2]);
    await p.release(a);
    await p.release(b);
  }, 30_000);

  it('a sandbox whose warm-up cannot run is destroyed, never handed out', async () => {
    // Killing the supervisor ends the sandbox in the middle of its warm-up exec.
    const p = pool(new BubblewrapDriver(), { size: 1, refillPerSec: 50 }, undefined, [
      '/bin/sh',
      '-c',
      'kill -9 $PPID; sleep 5',
    ]);
    await p.start();
    expect(p.readyCount).toBe(0);
    const a = await p.acquire();
    expect(a.pooled).toBe(false);
    expect((await a.sandbox.exec(['echo', 'ok'])).stdout).toBe('ok\n');
    await p.release(a);
  }, 30_000);

  it('a warm-up command the image lacks still pools the (live) sandbox', async () => {
    const p = pool(new BubblewrapDriver(), { size: 1, refillPerSec: 50 }, undefined, [
      'no-such-warmup-command',
    ]);
    await p.start();
    expect(p.readyCount).toBe(1);
    const a = await p.acquire();
    expect(a.pooled).toBe(true);
    expect((await a.sandbox.exec(['echo', 'ok'])).stdout).toBe('ok\n');
    await p.release(a);
  }, 30_000);
});

describe.skipIf(Boolean(noDocker))('warm pool (docker)', () => {
  it('acquire hands out a ready container whose empty workspace is the session workspace', async () => {
    const p = pool(new DockerDriver(), { size: 1, refillPerSec: 20 });
    await p.start();
    const a = await p.acquire();
    expect(a.pooled).toBe(true);
    const r = await a.sandbox.exec(['/bin/sh', '-c', 'ls -A /workspace; echo made > out.txt']);
    expect(r.stdout).toBe('');
    expect(await readFile(join(a.workspace, 'out.txt'), 'utf8')).toBe('made\n');
    await p.release(a, { keepWorkspace: false });
  });
});

// Runs the TaskQueue conformance suite on the SQLite backend, plus its multi-process race:
// two processes on one database file lease 200 tasks and each task is leased exactly once.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { backoff } from '../../src/queue/backoff.js';
import { createQueue } from '../../src/queue/create-queue.js';
import { SqliteQueue } from '../../src/queue/sqlite/sqlite-queue.js';
import { runQueueSuite } from './queue-suite.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'rf-queue-'));
}

runQueueSuite({
  name: 'sqlite',
  create: async (clock) => {
    const dir = tempDir();
    const queue = await createQueue({
      backend: 'sqlite',
      dataDir: dir,
      clock,
      backoffBaseMs: 1_000,
      backoffCapMs: 60_000,
    });
    return {
      queue,
      cleanup: async () => {
        await queue.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

describe('backoff', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([1, 2, 3, 4].map((a) => backoff(a, 1_000, 5_000))).toEqual([1_000, 2_000, 4_000, 5_000]);
    expect(backoff(10_000, 1_000, 5_000)).toBe(5_000);
  });
});

const RACER = fileURLToPath(new URL('./fixtures/lease-racer.ts', import.meta.url));

interface Racer {
  ready: Promise<void>;
  go(): void;
  result: Promise<string[]>;
}

function startRacer(dir: string, worker: string): Racer {
  const child = spawn(process.execPath, ['--import', 'tsx', RACER, dir, worker], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
    if (err.includes('ready\n')) onReady();
  });
  const result = new Promise<string[]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`racer ${worker} exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as string[]);
    });
  });
  return { ready, go: () => child.stdin.write('go\n'), result };
}

describe('SqliteQueue across processes', () => {
  it('two processes racing on one file lease each of 200 tasks exactly once', async () => {
    const dir = tempDir();
    try {
      const queue = new SqliteQueue({ dataDir: dir });
      for (let i = 0; i < 200; i++) {
        await queue.enqueue({ id: `t${i}`, tenantId: `tenant${i % 3}`, sessionId: `s${i}` });
      }
      await queue.close();
      const racers = [startRacer(dir, 'wA'), startRacer(dir, 'wB')];
      await Promise.all(racers.map((r) => r.ready));
      for (const r of racers) r.go();
      const [a = [], b = []] = await Promise.all(racers.map((r) => r.result));
      process.stderr.write(`lease race: wA leased ${a.length}, wB leased ${b.length}\n`);
      const all = [...a, ...b];
      expect(all).toHaveLength(200);
      expect(new Set(all).size).toBe(200);
      const check = new SqliteQueue({ dataDir: dir });
      const stats = await check.stats();
      await check.close();
      expect(stats.byStatus.completed).toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

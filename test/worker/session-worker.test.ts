// SessionWorker on the real SQLite queue + session store with a test TurnRunner (not an agent):
// success, crash recovery after lease expiry without repeating a turn, fencing of the stale
// worker, SIGTERM-style drain releasing the lease, retry on failure, cancel, retention.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StaleEpochError } from '../../src/queue/stale-epoch-error.js';
import { SessionControl } from '../../src/server/session-control.js';
import { enqueueSessionTask } from '../../src/server/session-tasks.js';
import { openServiceStores, type ServiceStores } from '../../src/service/service-stores.js';
import { RetentionJob } from '../../src/worker/retention-job.js';
import { SessionWorker } from '../../src/worker/session-worker.js';
import type { SessionWorkerOptions } from '../../src/worker/worker-options.js';
import { TurnRunner } from './turn-runner.js';

let dir: string;
let s: ServiceStores;
const workers: SessionWorker[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rf-worker-'));
  s = openServiceStores({ dataDir: dir });
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close(0)));
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function newSession(id: string, tenantId = 't1'): Promise<void> {
  await s.store.create({
    id,
    tenantId,
    prompt: 'p',
    tier: 'dev',
    role: 'default',
    mode: 'default',
  });
  await enqueueSessionTask(s.queue, { sessionId: id, tenantId, prompt: 'p' });
}

function worker(runner: TurnRunner, extra: Partial<SessionWorkerOptions> = {}): SessionWorker {
  const w = new SessionWorker({
    queue: s.queue,
    store: s.store,
    runner,
    control: new SessionControl(),
    pollIntervalMs: 20,
    heartbeatIntervalMs: 50,
    visibilityMs: 2_000,
    ...extra,
  });
  workers.push(w);
  w.start();
  return w;
}

async function until(cond: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const statusOf = async (id: string) => (await s.store.get(id))?.status;

describe('SessionWorker', () => {
  it('runs a session to succeeded: events fenced by epoch, snapshots per turn, task completed', async () => {
    const effects: string[] = [];
    worker(new TurnRunner({ turns: 3, effects }));
    await newSession('s1');
    await until(async () => (await statusOf('s1')) === 'succeeded', 'success');
    const rec = await s.store.get('s1');
    expect(rec?.lastCompletedTurn).toBe(3);
    expect(rec?.result).toEqual({ text: 'did 3 turns' });
    const events = await s.store.events('s1');
    expect(events.map((e) => e.type)).toEqual([
      'worker',
      'tool_use',
      'tool_result',
      'tool_use',
      'tool_result',
      'tool_use',
      'tool_result',
      'session_end',
    ]);
    expect(events.every((e) => e.epoch === 1)).toBe(true);
    expect((await s.store.latestSnapshot('s1'))?.turn).toBe(3);
    expect(effects).toEqual(['s1:1', 's1:2', 's1:3']);
    expect((await s.queue.list('completed')).length).toBe(1);
  });

  it('crash recovery: a stuck worker loses its lease; another resumes after the last completed turn, no turn repeated, stale writes refused', async () => {
    const effects: string[] = [];
    // Worker A never heartbeats within the visibility window: it is "dead" once the lease expires.
    const stuck = new TurnRunner({ turns: 4, effects, hangBefore: 3 });
    worker(stuck, { heartbeatIntervalMs: 60_000, visibilityMs: 300, concurrency: 1 });
    await newSession('s2');
    await stuck.hanging;
    expect((await s.store.get('s2'))?.lastCompletedTurn).toBe(2);
    const restored: string[][] = [];
    worker(new TurnRunner({ turns: 4, effects, restored }));
    await until(async () => (await statusOf('s2')) === 'succeeded', 'resumed success');
    expect(effects).toEqual(['s2:1', 's2:2', 's2:3', 's2:4']);
    expect(restored).toEqual([['turn-1.txt', 'turn-2.txt']]);
    const events = await s.store.events('s2');
    const workerEvents = events
      .filter((e) => e.type === 'worker')
      .map((e) => (e.data as { event: string }).event);
    expect(workerEvents).toEqual(['started', 'resumed']);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const task = (await s.queue.list('completed'))[0];
    expect(task?.attempts).toBe(0);
    expect(task?.leaseCount).toBe(2);
    // The stuck worker wakes up: its epoch is stale, every write is refused.
    await expect(
      stuck.hungCtx?.emit({ type: 'tool_use', data: { turn: 3 } }),
    ).rejects.toBeInstanceOf(StaleEpochError);
  });

  it('drain: running sessions past the deadline are released (status queued, no attempt used) and resumed later', async () => {
    const effects: string[] = [];
    const stuck = new TurnRunner({ turns: 2, effects, hangBefore: 2 });
    const w = worker(stuck);
    await newSession('s3');
    await stuck.hanging;
    await w.close(50);
    expect(await statusOf('s3')).toBe('queued');
    const waiting = await s.queue.list('waiting');
    expect(waiting.map((t) => [t.sessionId, t.attempts])).toEqual([['s3', 0]]);
    worker(new TurnRunner({ turns: 2, effects }));
    await until(async () => (await statusOf('s3')) === 'succeeded', 'success after drain');
    expect(effects).toEqual(['s3:1', 's3:2']);
  });

  it('a throwing run is retried with backoff and then succeeds', async () => {
    const effects: string[] = [];
    worker(new TurnRunner({ turns: 1, effects, failFirst: 1 }));
    await newSession('s4');
    await until(async () => (await statusOf('s4')) === 'succeeded', 'success after retry');
    expect((await s.queue.list('completed'))[0]?.attempts).toBe(1);
    expect(effects).toEqual(['s4:1']);
  });

  it('cancel while running aborts the run and leaves the session cancelled', async () => {
    const effects: string[] = [];
    const stuck = new TurnRunner({ turns: 2, effects, hangBefore: 2 });
    worker(stuck);
    await newSession('s5');
    await stuck.hanging;
    await s.store.updateStatus('s5', 'cancelled');
    const task = (await s.queue.list('leased'))[0];
    if (task === undefined) throw new Error('no leased task');
    await s.queue.cancel(task.id);
    await until(
      async () => (await s.queue.list('leased')).length === 0 && workers[0]?.running.length === 0,
      'run stopped',
    );
    expect(await statusOf('s5')).toBe('cancelled');
    expect(effects).toEqual(['s5:1']);
  });

  it('retention deletes transcripts and snapshots of old finished sessions, keeps the row', async () => {
    worker(new TurnRunner({ turns: 1, effects: [] }));
    await newSession('s6');
    await until(async () => (await statusOf('s6')) === 'succeeded', 'success');
    const job = new RetentionJob({
      store: s.store,
      retentionMs: 1_000,
      now: () => Date.now() + 60_000,
    });
    const r = await job.runOnce();
    expect(r.sessions).toBe(1);
    expect(await s.store.events('s6')).toEqual([]);
    expect(await s.store.latestSnapshot('s6')).toBeUndefined();
    expect((await s.store.get('s6'))?.purgedAt).toBeDefined();
    await job.close();
  });
});

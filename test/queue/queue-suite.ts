// Conformance suite of the TaskQueue contract; every backend runs it with its own factory.
// Usage: runQueueSuite({ name: 'sqlite', create: async (clock) => ({ queue, cleanup }) }).
import { afterEach, describe, expect, it } from 'vitest';
import type { TaskQueue } from '../../src/queue/queue.js';
import { StaleEpochError } from '../../src/queue/stale-epoch-error.js';
import { RingfenceError } from '../../src/errors.js';
import { ManualClock } from './manual-clock.js';

export interface QueueHarness {
  queue: TaskQueue;
  cleanup(): Promise<void>;
}

export interface QueueSuiteOptions {
  name: string;
  /** Builds a fresh, empty queue using `clock`; backoff base must be 1000 ms, cap 60 s. */
  create(clock: ManualClock): Promise<QueueHarness>;
  skip?: { reason: string; tests: string[] }[];
}

const VIS = 30_000;

export function runQueueSuite(options: QueueSuiteOptions): void {
  const skipped = new Map<string, string>();
  for (const s of options.skip ?? []) for (const t of s.tests) skipped.set(t, s.reason);

  describe(`TaskQueue conformance: ${options.name}`, () => {
    let harness: QueueHarness | undefined;
    let clock: ManualClock;

    async function setup(): Promise<TaskQueue> {
      clock = new ManualClock();
      harness = await options.create(clock);
      return harness.queue;
    }
    afterEach(async () => {
      await harness?.cleanup();
      harness = undefined;
    });

    function test(name: string, fn: () => Promise<void>): void {
      const reason = skipped.get(name);
      if (reason !== undefined) {
        it.skip(`${name} (skipped: ${reason})`, fn);
        return;
      }
      it(name, fn);
    }

    test('leases an enqueued task once, with epoch 1', async () => {
      const q = await setup();
      await q.enqueue({ id: 't1', tenantId: 'a', sessionId: 's1', payload: { x: 1 } });
      const lease = await q.lease('w1', { visibilityMs: VIS });
      expect(lease?.task.id).toBe('t1');
      expect(lease?.epoch).toBe(1);
      expect(lease?.leaseUntil).toBe(clock.now() + VIS);
      expect(lease?.task.payload).toEqual({ x: 1 });
      expect(lease?.task.status).toBe('leased');
      expect(await q.lease('w2', { visibilityMs: VIS })).toBeUndefined();
    });

    test('refuses a duplicate id and invalid input', async () => {
      const q = await setup();
      await q.enqueue({ id: 't1', tenantId: 'a', sessionId: 's1' });
      await expect(q.enqueue({ id: 't1', tenantId: 'a', sessionId: 's1' })).rejects.toMatchObject({
        code: 'conflict',
      });
      await expect(q.enqueue({ id: '', tenantId: 'a', sessionId: 's1' })).rejects.toMatchObject({
        code: 'invalid_request',
      });
      await expect(
        q.enqueue({ id: 't2', tenantId: 'a', sessionId: 's1', maxAttempts: 0 }),
      ).rejects.toBeInstanceOf(RingfenceError);
    });

    test('complete ends the task; a second complete is a stale epoch', async () => {
      const q = await setup();
      await q.enqueue({ id: 't1', tenantId: 'a', sessionId: 's1' });
      const lease = await q.lease('w1', { visibilityMs: VIS });
      await q.complete('t1', lease?.epoch ?? -1);
      expect((await q.get('t1'))?.status).toBe('completed');
      await expect(q.complete('t1', lease?.epoch ?? -1)).rejects.toBeInstanceOf(StaleEpochError);
    });

    test('an expired lease is re-leased with epoch+1 and attempts unchanged; the old epoch is refused', async () => {
      const q = await setup();
      await q.enqueue({ id: 't1', tenantId: 'a', sessionId: 's1' });
      const first = await q.lease('w1', { visibilityMs: VIS });
      expect(await q.lease('w2', { visibilityMs: VIS })).toBeUndefined();
      clock.advance(VIS);
      const second = await q.lease('w2', { visibilityMs: VIS });
      expect(second?.task.id).toBe('t1');
      expect(second?.epoch).toBe((first?.epoch ?? 0) + 1);
      expect(second?.task.attempts).toBe(0);
      expect(second?.task.leaseCount).toBe(2);
      expect(second?.task.workerId).toBe('w2');
      const err = await q.complete('t1', first?.epoch ?? -1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StaleEpochError);
      expect(err).toMatchObject({ code: 'conflict' });
      await expect(q.heartbeat('t1', first?.epoch ?? -1, VIS)).rejects.toBeInstanceOf(
        StaleEpochError,
      );
      await expect(
        q.fail('t1', first?.epoch ?? -1, 'x', { retryable: true }),
      ).rejects.toBeInstanceOf(StaleEpochError);
      await q.complete('t1', second?.epoch ?? -1);
    });

    test('heartbeat extends the lease', async () => {
      const q = await setup();
      await q.enqueue({ id: 't1', tenantId: 'a', sessionId: 's1' });
      const lease = await q.lease('w1', { visibilityMs: VIS });
      clock.advance(VIS - 1);
      const hb = await q.heartbeat('t1', lease?.epoch ?? -1, VIS);
      expect(hb.leaseUntil).toBe(clock.now() + VIS);
      clock.advance(VIS - 1);
      expect(await q.lease('w2', { visibilityMs: VIS })).toBeUndefined();
      clock.advance(1);
      expect((await q.lease('w2', { visibilityMs: VIS }))?.task.id).toBe('t1');
    });

    test('a retryable failure retries after exponential backoff, then dead-letters', async () => {
      const q = await setup();
      await q.enqueue({ id: 't1', tenantId: 'a', sessionId: 's1', maxAttempts: 3 });
      let lease = await q.lease('w1', { visibilityMs: VIS });
      const out1 = await q.fail('t1', lease?.epoch ?? -1, 'boom 1', { retryable: true });
      expect(out1).toEqual({ status: 'waiting', availableAt: clock.now() + 1_000 });
      expect(await q.lease('w1', { visibilityMs: VIS })).toBeUndefined();
      clock.advance(1_000);
      lease = await q.lease('w1', { visibilityMs: VIS });
      expect(lease?.task.attempts).toBe(1);
      const out2 = await q.fail('t1', lease?.epoch ?? -1, 'boom 2', { retryable: true });
      expect(out2.availableAt).toBe(clock.now() + 2_000);
      clock.advance(2_000);
      lease = await q.lease('w1', { visibilityMs: VIS });
      const out3 = await q.fail('t1', lease?.epoch ?? -1, 'boom 3', { retryable: true });
      expect(out3).toEqual({ status: 'dead', availableAt: undefined });
      const task = await q.get('t1');
      expect(task).toMatchObject({ status: 'dead', attempts: 3, lastError: 'boom 3' });
      expect((await q.list('dead')).map((t) => t.id)).toEqual(['t1']);
      clock.advance(3_600_000);
      expect(await q.lease('w1', { visibilityMs: VIS })).toBeUndefined();
    });

    test('a non-retryable failure fails at once', async () => {
      const q = await setup();
      await q.enqueue({ id: 't1', tenantId: 'a', sessionId: 's1', maxAttempts: 5 });
      const lease = await q.lease('w1', { visibilityMs: VIS });
      expect(await q.fail('t1', lease?.epoch ?? -1, 'bad input', { retryable: false })).toEqual({
        status: 'failed',
        availableAt: undefined,
      });
      expect((await q.get('t1'))?.attempts).toBe(1);
    });

    test('release puts the task back at once without using an attempt', async () => {
      const q = await setup();
      await q.enqueue({ id: 't1', tenantId: 'a', sessionId: 's1' });
      const first = await q.lease('w1', { visibilityMs: VIS });
      await q.release('t1', first?.epoch ?? -1);
      const second = await q.lease('w2', { visibilityMs: VIS });
      expect(second?.task).toMatchObject({ id: 't1', attempts: 0, workerId: 'w2' });
      expect(second?.epoch).toBe((first?.epoch ?? 0) + 1);
      await expect(q.release('t1', first?.epoch ?? -1)).rejects.toBeInstanceOf(StaleEpochError);
    });

    test('cancel stops a waiting task and fences a leased one', async () => {
      const q = await setup();
      await q.enqueue({ id: 't1', tenantId: 'a', sessionId: 's1' });
      await q.enqueue({ id: 't2', tenantId: 'a', sessionId: 's2' });
      const lease = await q.lease('w1', { visibilityMs: VIS });
      const other = lease?.task.id === 't1' ? 't2' : 't1';
      expect(await q.cancel(other)).toBe(true);
      expect(await q.cancel(lease?.task.id ?? '')).toBe(true);
      await expect(
        q.heartbeat(lease?.task.id ?? '', lease?.epoch ?? -1, VIS),
      ).rejects.toBeInstanceOf(StaleEpochError);
      expect(await q.cancel(other)).toBe(false);
      clock.advance(VIS * 2);
      expect(await q.lease('w2', { visibilityMs: VIS })).toBeUndefined();
      await expect(q.cancel('nope')).rejects.toMatchObject({ code: 'not_found' });
    });

    test('fairness: a tenant with 2 tasks is served among the first leases despite 100 of another', async () => {
      const q = await setup();
      for (let i = 0; i < 100; i++) {
        await q.enqueue({ id: `a${i}`, tenantId: 'A', sessionId: `sa${i}` });
        clock.advance(1);
      }
      await q.enqueue({ id: 'b0', tenantId: 'B', sessionId: 'sb0' });
      await q.enqueue({ id: 'b1', tenantId: 'B', sessionId: 'sb1' });
      const order: string[] = [];
      for (let i = 0; i < 6; i++)
        order.push((await q.lease('w', { visibilityMs: VIS }))?.task.tenantId ?? '-');
      expect(order.slice(0, 4).filter((t) => t === 'B')).toHaveLength(2);
      expect(order.filter((t) => t === 'A').length).toBeGreaterThanOrEqual(3);
    });

    test('higher priority is leased first; FIFO within a priority', async () => {
      const q = await setup();
      await q.enqueue({ id: 'low1', tenantId: 'a', sessionId: 's1', priority: 0 });
      await q.enqueue({ id: 'low2', tenantId: 'a', sessionId: 's2', priority: 0 });
      await q.enqueue({ id: 'high', tenantId: 'a', sessionId: 's3', priority: 5 });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++)
        ids.push((await q.lease('w', { visibilityMs: VIS }))?.task.id ?? '-');
      expect(ids).toEqual(['high', 'low1', 'low2']);
    });

    test('per-tenant concurrency caps hold back a tenant at its cap', async () => {
      const q = await setup();
      for (let i = 0; i < 3; i++)
        await q.enqueue({ id: `a${i}`, tenantId: 'A', sessionId: `sa${i}` });
      await q.enqueue({ id: 'b0', tenantId: 'B', sessionId: 'sb0' });
      const opts = { visibilityMs: VIS, tenantCaps: { A: 1 }, defaultTenantCap: 5 };
      const got: string[] = [];
      for (let i = 0; i < 4; i++) got.push((await q.lease('w', opts))?.task.id ?? '-');
      expect(got.filter((id) => id.startsWith('a'))).toHaveLength(1);
      expect(got).toContain('b0');
      expect(got.filter((id) => id === '-')).toHaveLength(2);
      const leasedA = got.find((id) => id.startsWith('a')) ?? '';
      const task = await q.get(leasedA);
      await q.complete(leasedA, task?.epoch ?? -1);
      expect((await q.lease('w', opts))?.task.tenantId).toBe('A');
    });

    test('two tasks of one session are never leased at the same time', async () => {
      const q = await setup();
      await q.enqueue({ id: 't1', tenantId: 'a', sessionId: 's1' });
      await q.enqueue({ id: 't2', tenantId: 'a', sessionId: 's1' });
      const first = await q.lease('w1', { visibilityMs: VIS });
      expect(await q.lease('w2', { visibilityMs: VIS })).toBeUndefined();
      await q.complete('t1', first?.epoch ?? -1);
      const second = await q.lease('w2', { visibilityMs: VIS });
      expect(second?.task.id).toBe('t2');
      // Epochs are per session, so the old task's epoch can never match the new lease.
      expect(second?.epoch).toBe((first?.epoch ?? 0) + 1);
    });

    test('stats report depth by status and the oldest wait', async () => {
      const q = await setup();
      await q.enqueue({ id: 't1', tenantId: 'a', sessionId: 's1' });
      clock.advance(500);
      await q.enqueue({ id: 't2', tenantId: 'a', sessionId: 's2' });
      await q.enqueue({
        id: 't3',
        tenantId: 'a',
        sessionId: 's3',
        availableAt: clock.now() + 60_000,
      });
      clock.advance(250);
      let stats = await q.stats();
      expect(stats.byStatus.waiting).toBe(3);
      expect(stats.oldestWaitMs).toBe(750);
      const lease = await q.lease('w', { visibilityMs: VIS });
      await q.complete(lease?.task.id ?? '', lease?.epoch ?? -1);
      stats = await q.stats();
      expect(stats.byStatus).toMatchObject({ waiting: 2, completed: 1, leased: 0, dead: 0 });
      expect(stats.oldestWaitMs).toBe(250);
    });

    test('close is idempotent', async () => {
      const q = await setup();
      const a = q.close();
      const b = q.close();
      expect(a).toBe(b);
      await a;
    });
  });
}

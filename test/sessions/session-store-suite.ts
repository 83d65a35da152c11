// Conformance suite of the SessionStore contract; each backend runs it with its own factory,
// paired with the queue of the same backend (the fencing tests lease through that queue).
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { TaskQueue } from '../../src/queue/queue.js';
import { StaleEpochError } from '../../src/queue/stale-epoch-error.js';
import type {
  CreateSessionInput,
  SessionEvent,
  SessionStore,
} from '../../src/sessions/session-store.js';
import { ManualClock } from '../queue/manual-clock.js';

export interface SessionStoreHarness {
  store: SessionStore;
  /** The queue whose leases fence this store's writes (same database). */
  queue: TaskQueue;
  cleanup(): Promise<void>;
}

export interface SessionStoreSuiteOptions {
  name: string;
  create(clock: ManualClock): Promise<SessionStoreHarness>;
  skip?: { reason: string; tests: string[] }[];
}

const VIS = 30_000;

function input(id: string, tenantId = 't1'): CreateSessionInput {
  return { id, tenantId, prompt: `do ${id}`, tier: 'dev', role: 'developer', mode: 'default' };
}

export function runSessionStoreSuite(options: SessionStoreSuiteOptions): void {
  const skipped = new Map<string, string>();
  for (const s of options.skip ?? []) for (const t of s.tests) skipped.set(t, s.reason);

  describe(`SessionStore conformance: ${options.name}`, () => {
    let harness: SessionStoreHarness | undefined;
    let clock: ManualClock;

    async function setup(): Promise<SessionStoreHarness> {
      clock = new ManualClock();
      harness = await options.create(clock);
      return harness;
    }
    afterEach(async () => {
      await harness?.cleanup();
      harness = undefined;
    });
    function test(name: string, fn: () => Promise<void>): void {
      const reason = skipped.get(name);
      if (reason !== undefined) it.skip(`${name} (skipped: ${reason})`, fn);
      else it(name, fn);
    }

    /** Creates a session with a queue task and leases it; returns the epoch. */
    async function leased(h: SessionStoreHarness, id: string): Promise<number> {
      await h.store.create(input(id));
      await h.queue.enqueue({ id: `task-${id}`, tenantId: 't1', sessionId: id });
      const lease = await h.queue.lease('w1', { visibilityMs: VIS });
      if (lease === undefined) throw new Error('no lease');
      await h.store.updateStatus(id, 'running', { epoch: lease.epoch });
      return lease.epoch;
    }

    test('creates and reads a session with defaults', async () => {
      const { store } = await setup();
      const created = await store.create({
        ...input('s1'),
        metadata: { ticket: 42 },
        options: { maxTurns: 5 },
      });
      expect(created).toMatchObject({
        id: 's1',
        tenantId: 't1',
        status: 'queued',
        prompt: 'do s1',
        tier: 'dev',
        role: 'developer',
        mode: 'default',
        metadata: { ticket: 42 },
        options: { maxTurns: 5 },
        lastCompletedTurn: -1,
        lastEventSeq: 0,
        usage: { inputTokens: 0, outputTokens: 0, costUsd: 0 },
        result: undefined,
      });
      expect(created.createdAt).toBe(clock.now());
      expect(await store.get('s1')).toEqual(created);
      expect(await store.get('nope')).toBeUndefined();
      await expect(store.create(input('s1'))).rejects.toMatchObject({ code: 'conflict' });
      await expect(store.create({ ...input('x'), tenantId: '' })).rejects.toMatchObject({
        code: 'invalid_request',
      });
    });

    test('lists newest first with filters and stable opaque cursors', async () => {
      const { store } = await setup();
      for (let i = 0; i < 7; i++) {
        await store.create(input(`s${i}`, i % 2 === 0 ? 'even' : 'odd'));
      }
      await store.updateStatus('s2', 'running');
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list({ limit: 3, ...(cursor === undefined ? {} : { cursor }) });
        seen.push(...page.sessions.map((s) => s.id));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor !== undefined);
      expect(pages).toBe(3);
      expect(seen).toEqual(['s6', 's5', 's4', 's3', 's2', 's1', 's0']);
      const even = await store.list({ tenantId: 'even', limit: 2 });
      expect(even.sessions.map((s) => s.id)).toEqual(['s6', 's4']);
      const evenNext = await store.list({
        tenantId: 'even',
        limit: 2,
        cursor: even.nextCursor ?? '',
      });
      expect(evenNext.sessions.map((s) => s.id)).toEqual(['s2', 's0']);
      expect(evenNext.nextCursor).toBeUndefined();
      const running = await store.list({ status: 'running' });
      expect(running.sessions.map((s) => s.id)).toEqual(['s2']);
      const either = await store.list({ status: ['running', 'queued'], tenantId: 'odd' });
      expect(either.sessions.map((s) => s.id)).toEqual(['s5', 's3', 's1']);
      await expect(store.list({ cursor: 'garbage!' })).rejects.toMatchObject({
        code: 'invalid_request',
      });
    });

    test('enforces status transitions and records result and usage', async () => {
      const { store } = await setup();
      await store.create(input('s1'));
      await expect(store.updateStatus('s1', 'succeeded')).rejects.toMatchObject({
        code: 'conflict',
      });
      await store.updateStatus('s1', 'running');
      await store.updateStatus('s1', 'waiting_approval');
      await store.updateStatus('s1', 'running');
      const usage = { inputTokens: 10, outputTokens: 5, costUsd: 0.01 };
      const done = await store.updateStatus('s1', 'succeeded', {
        result: { ok: true },
        usage,
        lastCompletedTurn: 3,
      });
      expect(done).toMatchObject({
        status: 'succeeded',
        result: { ok: true },
        usage,
        lastCompletedTurn: 3,
      });
      await expect(store.updateStatus('s1', 'running')).rejects.toMatchObject({ code: 'conflict' });
      await store.updateStatus('s1', 'queued');
      await store.updateStatus('s1', 'cancelled');
      await expect(store.updateStatus('s1', 'queued')).rejects.toMatchObject({ code: 'conflict' });
      await expect(store.updateStatus('nope', 'running')).rejects.toMatchObject({
        code: 'not_found',
      });
    });

    test('appends events with gapless per-session seq and pages them', async () => {
      const { store } = await setup();
      await store.create(input('s1'));
      await store.create(input('s2'));
      for (let i = 0; i < 5; i++) await store.appendEvent('s1', { type: 'assistant', data: { i } });
      const other = await store.appendEvent('s2', { type: 'status', data: 'x' });
      expect(other.seq).toBe(1);
      const all = await store.events('s1');
      expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(all[2]).toMatchObject({
        sessionId: 's1',
        type: 'assistant',
        data: { i: 2 },
        epoch: undefined,
      });
      expect((await store.events('s1', { afterSeq: 2, limit: 2 })).map((e) => e.seq)).toEqual([
        3, 4,
      ]);
      expect((await store.get('s1'))?.lastEventSeq).toBe(5);
      await expect(store.appendEvent('nope', { type: 'x', data: 1 })).rejects.toMatchObject({
        code: 'not_found',
      });
    });

    test('subscribe delivers appended events until unsubscribed', async () => {
      const { store } = await setup();
      await store.create(input('s1'));
      await store.create(input('s2'));
      const got: SessionEvent[] = [];
      const unsubscribe = store.subscribe('s1', (e) => got.push(e));
      store.subscribe('s1', () => {
        throw new Error('a broken listener must not break the writer');
      });
      await store.appendEvent('s1', { type: 'a', data: 1 });
      await store.appendEvent('s2', { type: 'other-session', data: 0 });
      await store.appendEvent('s1', { type: 'b', data: 2 });
      unsubscribe();
      await store.appendEvent('s1', { type: 'c', data: 3 });
      expect(got.map((e) => [e.seq, e.type])).toEqual([
        [1, 'a'],
        [2, 'b'],
      ]);
    });

    test('fencing: writes of a leased session need its current epoch; a moved lease refuses the old one', async () => {
      const h = await setup();
      const { store, queue } = h;
      const e1 = await leased(h, 's1');
      const ev = await store.appendEvent('s1', { type: 'turn', data: 1 }, { epoch: e1 });
      expect(ev.epoch).toBe(e1);
      await expect(store.appendEvent('s1', { type: 'api', data: 1 })).rejects.toBeInstanceOf(
        StaleEpochError,
      );
      clock.advance(VIS);
      const lease2 = await queue.lease('w2', { visibilityMs: VIS });
      expect(lease2?.epoch).toBe(e1 + 1);
      const e2 = lease2?.epoch ?? -1;
      const stale = await store
        .appendEvent('s1', { type: 'zombie', data: 1 }, { epoch: e1 })
        .catch((e: unknown) => e);
      expect(stale).toBeInstanceOf(StaleEpochError);
      expect(stale).toMatchObject({ code: 'conflict', currentEpoch: e2 });
      await expect(store.updateStatus('s1', 'succeeded', { epoch: e1 })).rejects.toBeInstanceOf(
        StaleEpochError,
      );
      await expect(store.recordTurn('s1', 1, undefined, { epoch: e1 })).rejects.toBeInstanceOf(
        StaleEpochError,
      );
      await expect(
        store.putSnapshot('s1', 1, Buffer.from('x'), { epoch: e1 }),
      ).rejects.toBeInstanceOf(StaleEpochError);
      await expect(queue.complete('task-s1', e1)).rejects.toBeInstanceOf(StaleEpochError);
      expect((await store.events('s1')).map((e) => e.type)).toEqual(['turn']);
      await store.appendEvent('s1', { type: 'turn', data: 2 }, { epoch: e2 });
      expect((await store.recordTurn('s1', 2, undefined, { epoch: e2 })).lastCompletedTurn).toBe(2);
      await store.updateStatus('s1', 'succeeded', { epoch: e2 });
      await queue.complete('task-s1', e2);
      // After the lease ended its epoch is refused too; API-side writes without epoch are fine.
      await expect(
        store.appendEvent('s1', { type: 'late', data: 1 }, { epoch: e2 }),
      ).rejects.toBeInstanceOf(StaleEpochError);
      await store.appendEvent('s1', { type: 'api-note', data: 1 });
    });

    test('fencing: cancel needs no epoch while leased, and fences the worker afterwards', async () => {
      const h = await setup();
      const e1 = await leased(h, 's1');
      await h.queue.cancel('task-s1');
      await h.store.updateStatus('s1', 'cancelled');
      await expect(
        h.store.appendEvent('s1', { type: 'x', data: 1 }, { epoch: e1 }),
      ).rejects.toBeInstanceOf(StaleEpochError);
      await expect(
        h.store.appendEvent('never', { type: 'x', data: 1 }, { epoch: 1 }),
      ).rejects.toMatchObject({ code: 'not_found' });
    });

    test('snapshots round-trip, dedupe identical blobs and return the latest', async () => {
      const { store } = await setup();
      await store.create(input('s1'));
      await store.create(input('s2'));
      expect(await store.latestSnapshot('s1')).toBeUndefined();
      const a = Buffer.from('tarball-a');
      const r0 = await store.putSnapshot('s1', 0, a);
      const r1 = await store.putSnapshot(
        's1',
        1,
        Readable.from([Buffer.from('tarball-'), Buffer.from('b')]),
      );
      const shared = await store.putSnapshot('s2', 0, Buffer.from('tarball-a'));
      expect(shared.sha256).toBe(r0.sha256);
      expect(r0.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(r1).toMatchObject({ sessionId: 's1', turn: 1, sizeBytes: 9 });
      expect(await store.latestSnapshot('s1')).toEqual(r1);
      expect((await store.readSnapshot(r1)).toString()).toBe('tarball-b');
      expect((await store.readSnapshot(shared)).equals(a)).toBe(true);
    });

    test("retention deletes finished sessions' events and snapshots only", async () => {
      const { store } = await setup();
      await store.create(input('old'));
      await store.create(input('live'));
      await store.appendEvent('old', { type: 'x', data: 1 });
      await store.appendEvent('live', { type: 'x', data: 1 });
      const shared = await store.putSnapshot('old', 0, Buffer.from('same'));
      const own = await store.putSnapshot('old', 1, Buffer.from('only-old'));
      await store.putSnapshot('live', 0, Buffer.from('same'));
      await store.updateStatus('old', 'running');
      await store.updateStatus('old', 'succeeded');
      clock.advance(1_000);
      await store.updateStatus('live', 'running');
      const result = await store.deleteExpired(clock.now());
      expect(result).toEqual({ sessions: 1, events: 1, snapshots: 2, blobs: 1 });
      expect(await store.events('old')).toEqual([]);
      expect(await store.latestSnapshot('old')).toBeUndefined();
      expect((await store.get('old'))?.purgedAt).toBe(clock.now());
      expect(await store.events('live')).toHaveLength(1);
      expect((await store.readSnapshot(shared)).toString()).toBe('same');
      await expect(store.readSnapshot(own)).rejects.toMatchObject({ code: 'not_found' });
      expect(await store.deleteExpired(clock.now())).toEqual({
        sessions: 0,
        events: 0,
        snapshots: 0,
        blobs: 0,
      });
    });

    test('close is idempotent', async () => {
      const { store } = await setup();
      const a = store.close();
      expect(store.close()).toBe(a);
      await a;
    });
  });
}

// The service end to end in one process: real bubblewrap sandboxes, the scripted model over
// HTTP, SQLite, the real API over TCP. Concurrent tenants with isolation, an approval answered
// over the API resuming the loop, and SSE resume with Last-Event-ID on a real session.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RingfenceService } from '../../src/service/ringfence-service.js';
import { missingBubblewrap, missingRoot, reportSkip } from '../helpers/capabilities.js';
import {
  allEvents,
  client,
  executedToolUseIds,
  finished,
  threeToolScript,
  until,
  writeServiceConfig,
  type Client,
  startTestService,
} from './service-harness.js';

const skip = reportSkip('service e2e', missingBubblewrap() ?? missingRoot());

async function startService(
  turns: ReturnType<typeof threeToolScript>,
  allow?: string[],
): Promise<{ service: RingfenceService; dir: string }> {
  const { dir, configPath, dataDir } = writeServiceConfig(turns, allow ? { allow } : {});
  const service = await startTestService({ configPath, dataDir }, { workers: 3 });
  return { service, dir };
}

describe.skipIf(skip)('service end to end (in-process, real sandboxes)', () => {
  let service: RingfenceService;
  let dir: string;
  const c: Record<string, Client> = {};
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    ({ service, dir } = await startService(threeToolScript()));
    for (const t of ['t-a', 't-b', 't-c']) {
      keys[t] = (await service.stores.keys.createKey(t, 'submit')).key;
      c[t] = client(service.url!, keys[t]);
    }
  }, 60_000);
  afterAll(async () => {
    await service?.close(1_000);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs 20 sessions from 3 tenants concurrently, each with its transcript; tenants are isolated', async () => {
    const ids: Record<string, string[]> = {};
    const perTenant: Record<string, number> = { 't-a': 7, 't-b': 7, 't-c': 6 };
    await Promise.all(
      Object.entries(c).map(async ([tenant, cl]) => {
        ids[tenant] = [];
        for (let i = 0; i < (perTenant[tenant] ?? 0); i++) {
          const r = await cl.post('/v1/sessions', { prompt: `task ${tenant} ${i}` });
          expect(r.status).toBe(202);
          ids[tenant].push((r.body as { id: string }).id);
        }
      }),
    );
    for (const [tenant, list] of Object.entries(ids)) {
      const cl = c[tenant]!;
      for (const id of list) {
        const done = await finished(cl, id);
        expect(done.status, JSON.stringify(done.result)).toBe('succeeded');
        expect(done.result).toMatchObject({
          subtype: 'success',
          result: expect.stringContaining('Done') as unknown,
        });
        const events = await allEvents(cl, id);
        const types = events.map((e) => e.type);
        expect(types.filter((t) => t === 'assistant')).toHaveLength(4);
        expect(types.filter((t) => t === 'user')).toHaveLength(3);
        expect(types.at(-1)).toBe('session_end');
        const toolIds = executedToolUseIds(events);
        expect(toolIds).toHaveLength(3);
        expect(new Set(toolIds).size).toBe(3);
        // The Bash call saw the file written by the Write call in the same sandboxed workspace.
        const bashResult = events.find(
          (e) => e.type === 'user' && JSON.stringify(e.data).includes('two'),
        );
        expect(JSON.stringify(bashResult?.data)).toContain('one\\ntwo');
      }
    }
    // Isolation: another tenant sees neither the session, its events, nor it in its list.
    const foreign = ids['t-a']![0]!;
    expect((await c['t-b']!.get(`/v1/sessions/${foreign}`)).status).toBe(404);
    expect((await c['t-b']!.get(`/v1/sessions/${foreign}/events?format=json`)).status).toBe(404);
    expect((await c['t-c']!.get(`/v1/sessions/${foreign}/workspace`)).status).toBe(404);
    const listB = (await c['t-b']!.get('/v1/sessions?limit=200')).body as {
      sessions: { id: string; tenantId: string }[];
    };
    expect(listB.sessions.map((s) => s.id).sort()).toEqual([...ids['t-b']!].sort());
  }, 180_000);

  it('SSE resumes after a dropped connection with Last-Event-ID: no gap, no duplicate', async () => {
    const cl = c['t-a']!;
    const id = ((await cl.post('/v1/sessions', { prompt: 'sse' })).body as { id: string }).id;
    await finished(cl, id);
    const stored = await allEvents(cl, id);
    const sse = async (lastEventId?: number): Promise<number[]> => {
      const res = await fetch(`${service.url!}/v1/sessions/${id}/events`, {
        headers: {
          authorization: `Bearer ${keys['t-a']!}`,
          ...(lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) }),
        },
      });
      const text = await res.text();
      return [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    };
    const first = await sse();
    expect(first).toEqual(stored.map((e) => e.seq));
    // Drop "after" event 5: a reconnect with Last-Event-ID 5 gets exactly 6..end.
    const resumed = await sse(5);
    expect(resumed).toEqual(stored.filter((e) => e.seq > 5).map((e) => e.seq));
  }, 120_000);
});

describe.skipIf(skip)('service end to end: approvals over the API', () => {
  it('an approval answered with POST /approvals/:requestId resumes the loop', async () => {
    // Bash is not pre-approved here: the Bash call waits for a human answer over the API.
    const { service, dir } = await startService(threeToolScript(), ['Read', 'Write']);
    try {
      const key = (await service.stores.keys.createKey('t-ap', 'submit')).key;
      const cl = client(service.url!, key);
      const id = ((await cl.post('/v1/sessions', { prompt: 'approve me' })).body as { id: string })
        .id;
      const request = await until(async () => {
        const ev = (await allEvents(cl, id)).find((e) => e.type === 'approval_request');
        return ev?.data;
      }, 'the approval request');
      expect(request['tool']).toBe('Bash');
      const wrong = await client(
        service.url!,
        (await service.stores.keys.createKey('t-other', 'submit')).key,
      ).post(`/v1/sessions/${id}/approvals/${String(request['request_id'])}`, {
        behavior: 'allow',
      });
      expect(wrong.status).toBe(404);
      const r = await cl.post(`/v1/sessions/${id}/approvals/${String(request['request_id'])}`, {
        behavior: 'allow',
      });
      expect(r.status).toBe(200);
      const done = await finished(cl, id);
      expect(done.status).toBe('succeeded');
      const events = await allEvents(cl, id);
      const resolved = events.find((e) => e.type === 'approval_resolved');
      expect(resolved?.data).toMatchObject({ behavior: 'allow', outcome: 'answered' });
      const bash = events.find((e) => e.type === 'tool_result' && e.data['tool'] === 'Bash');
      expect(bash?.data['is_error']).toBe(false);
      expect(executedToolUseIds(events)).toHaveLength(3);
    } finally {
      await service.close(1_000);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

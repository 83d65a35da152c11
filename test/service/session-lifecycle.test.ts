// Session lifecycle through the real runner over HTTP: a session waiting for an approval shows
// `waiting_approval` and goes back to `running` after the answer; a finished session continued
// with POST /messages starts from its stored conversation and workspace, in the same transcript.
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

const skip = reportSkip('session lifecycle', missingBubblewrap() ?? missingRoot());

/** threeToolScript (turn 3 slowed so `running` after the approval is observable) + 2 more turns. */
function lifecycleScript(): ReturnType<typeof threeToolScript> {
  return [
    ...threeToolScript({ turn: 3, ms: 1_500 }),
    {
      content: [
        { type: 'text', text: 'Continuing.' },
        {
          type: 'tool_use',
          name: 'Bash',
          input: { command: 'cat a.txt && echo three >> a.txt', description: 'continue' },
        },
      ],
    },
    { content: [{ type: 'text', text: 'Continued: three appended.' }] },
  ];
}

describe.skipIf(skip)('session lifecycle over the API (real runner, real sandboxes)', () => {
  let service: RingfenceService;
  let dir: string;
  let c: Client;

  beforeAll(async () => {
    // Bash is not pre-approved by the tier: a Bash call waits for an answer over the API.
    const cfg = writeServiceConfig(lifecycleScript(), { allow: ['Read', 'Write'] });
    dir = cfg.dir;
    service = await startTestService(cfg);
    c = client(service.url!, (await service.stores.keys.createKey('t-life', 'submit')).key);
  }, 60_000);

  afterAll(async () => {
    await service?.close(1_000);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const status = async (id: string): Promise<string> =>
    ((await c.get(`/v1/sessions/${id}`)).body as { status: string }).status;

  it('waiting for an approval shows waiting_approval; after the answer the session is running again', async () => {
    const id = ((await c.post('/v1/sessions', { prompt: 'approve me' })).body as { id: string }).id;
    await until(
      async () => ((await status(id)) === 'waiting_approval' ? true : undefined),
      'status waiting_approval',
    );
    const request = (await allEvents(c, id)).find((e) => e.type === 'approval_request');
    expect(request?.data['tool']).toBe('Bash');
    const r = await c.post(`/v1/sessions/${id}/approvals/${String(request?.data['request_id'])}`, {
      behavior: 'allow',
    });
    expect(r.status).toBe(200);
    // The model's next reply is slowed by 1.5 s: the session is seen running before it ends.
    const seen = await until(async () => {
      const s = await status(id);
      return s === 'waiting_approval' ? undefined : s;
    }, 'status to leave waiting_approval');
    expect(seen).toBe('running');
    const done = await finished(c, id);
    expect(done.status).toBe('succeeded');
    expect(executedToolUseIds(await allEvents(c, id))).toHaveLength(3);
  }, 120_000);

  it('POST /messages continues a finished session from its conversation and workspace, same transcript', async () => {
    const id = (
      (await c.post('/v1/sessions', { prompt: 'first task', allowedTools: ['Bash'] })).body as {
        id: string;
      }
    ).id;
    const first = await finished(c, id);
    expect(first.status).toBe('succeeded');
    const before = await allEvents(c, id);
    const r = await c.post(`/v1/sessions/${id}/messages`, { prompt: 'now append three' });
    expect(r.status).toBe(202);
    const done = await finished(c, id);
    expect(done.status, JSON.stringify(done.result)).toBe('succeeded');
    // The scripted model answers turn 5 only to a request carrying the 4 earlier assistant
    // messages: the second run started from the stored conversation.
    expect(done.result).toMatchObject({ result: 'Continued: three appended.' });
    const events = await allEvents(c, id);
    // Same transcript: the first run's events unchanged, then the continuation appended.
    expect(events.slice(0, before.length)).toEqual(before);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const rest = events.slice(before.length);
    expect(rest[0]).toMatchObject({ type: 'user_message', data: { prompt: 'now append three' } });
    expect(rest.filter((e) => e.type === 'session_end')).toHaveLength(1);
    expect(executedToolUseIds(events)).toHaveLength(4);
    expect(new Set(executedToolUseIds(events)).size).toBe(4);
    // The workspace was restored: the new Bash call read what the first run wrote.
    const cont = rest.find((e) => e.type === 'user' && JSON.stringify(e.data).includes('one'));
    expect(JSON.stringify(cont?.data)).toContain('one\\ntwo');
    expect(done.lastCompletedTurn).toBeGreaterThan(first.lastCompletedTurn);
  }, 120_000);
});

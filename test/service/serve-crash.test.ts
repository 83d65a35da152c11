// `ringfence serve` as a child process SIGKILLed mid-session, restarted on the same data dir:
// the session completes with a full transcript and no tool call runs twice. Also: the first
// start prints an admin key once, and SIGTERM drains and exits 0.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { missingBubblewrap, missingRoot, reportSkip } from '../helpers/capabilities.js';
import { openAuditStore } from '../../src/audit/open-audit.js';
import {
  allEvents,
  client,
  executedToolUseIds,
  finished,
  threeToolScript,
  until,
  writeServiceConfig,
} from './service-harness.js';
import { startServe, type ServeProcess } from './serve-process.js';

const skip = reportSkip('serve crash/restart', missingBubblewrap() ?? missingRoot());
const procs: ServeProcess[] = [];
const dirs: string[] = [];

afterAll(() => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(skip)('ringfence serve child process', () => {
  it('SIGKILLed mid-session and restarted: the session completes, no tool call repeated', async () => {
    // Turn 3's model reply takes 2.5 s: turns 1-2 (Write, Bash) are durable by then.
    const { dir, configPath, dataDir } = writeServiceConfig(
      threeToolScript({ turn: 3, ms: 2_500 }),
    );
    dirs.push(dir);
    const flags = ['--workers', '2', '--visibility-ms', '1500'];
    const first = await startServe(configPath, flags);
    procs.push(first);
    expect(first.adminKey).toMatch(/^rf_/);
    const c1 = client(first.url, first.adminKey!);
    const created = await c1.post('/v1/sessions', { prompt: 'survive a crash' });
    expect(created.status).toBe(202);
    const id = (created.body as { id: string }).id;
    await until(async () => {
      const s = (await c1.get(`/v1/sessions/${id}`)).body as { lastCompletedTurn: number };
      return s.lastCompletedTurn >= 2 ? true : undefined;
    }, 'turn 2 to be durable');
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    const second = await startServe(configPath, flags);
    procs.push(second);
    expect(second.adminKey).toBeUndefined(); // the key is printed on the first start only
    const c2 = client(second.url, first.adminKey!);
    const done = await finished(c2, id, 60_000);
    expect(done.status, second.stderr()).toBe('succeeded');
    expect(done.lastCompletedTurn).toBe(4);

    const events = await allEvents(c2, id);
    const workerEvents = events.filter((e) => e.type === 'worker').map((e) => e.data['event']);
    expect(workerEvents).toEqual(['started', 'resumed']);
    const ids = executedToolUseIds(events);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
    // The transcript is whole: 4 assistant turns, 3 tool-result messages, seq without gaps.
    expect(events.filter((e) => e.type === 'assistant')).toHaveLength(4);
    expect(events.filter((e) => e.type === 'user')).toHaveLength(3);
    expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
    // The audit log agrees: one tool intent per tool_use id.
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    const audit = openAuditStore({ dataDir, readonly: true });
    try {
      const intents = (await audit.readRecords(id))
        .map((r) => JSON.parse(r.text) as { type: string; data: Record<string, unknown> })
        .filter((r) => r.type === 'tool.intent')
        .map((r) => String(r.data['toolUseId']));
      expect(intents.sort()).toEqual([...ids].sort());
    } finally {
      await audit.close();
    }
  }, 120_000);
});

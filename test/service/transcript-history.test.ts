// rebuildHistory: the conversation a resumed run starts from, cut back to the last durable turn.
import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../src/sessions/session-store.js';
import { rebuildHistory } from '../../src/worker/transcript-history.js';

let seq = 0;
const ev = (type: string, data: unknown): SessionEvent => ({
  sessionId: 's',
  seq: ++seq,
  type,
  data,
  epoch: 1,
  createdAt: 0,
});
const toolTurn = (id: string): SessionEvent[] => [
  ev('assistant', { message: { content: [{ type: 'tool_use', id, name: 'Bash', input: {} }] } }),
  ev('tool_result', { tool_use_id: id }),
  ev('user', {
    message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: 'ok' }] },
  }),
];
const finalTurn = (text: string): SessionEvent =>
  ev('assistant', { message: { content: [{ type: 'text', text }] } });

describe('rebuildHistory', () => {
  it('keeps durable tool turns with their results, so completed calls are not run again', () => {
    const h = rebuildHistory(
      'p',
      [ev('worker', { lastCompletedTurn: -1 }), ...toolTurn('t1'), ...toolTurn('t2')],
      2,
    );
    expect(h.turns).toBe(2);
    expect(h.messages.map((m) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
    ]);
    expect(JSON.stringify(h.messages)).toContain('"tool_use_id":"t2"');
    expect(h.finalText).toBeUndefined();
  });

  it('drops a turn the dead worker left unfinished or unrecorded', () => {
    const events = [...toolTurn('t1'), ...toolTurn('t2'), toolTurn('t3')[0]!];
    const h = rebuildHistory('p', events, 1);
    expect(h.turns).toBe(1);
    expect(JSON.stringify(h.messages)).not.toContain('t2');
    expect(h.messages.at(-1)?.role).toBe('user');
  });

  it('cuts at each worker event, then continues with the redone turn', () => {
    const events = [
      ...toolTurn('t1'),
      toolTurn('t2')[0]!,
      ev('worker', { event: 'resumed', lastCompletedTurn: 1 }),
      ...toolTurn('t2'),
      finalTurn('done'),
    ];
    const h = rebuildHistory('p', events, 3);
    expect(h.turns).toBe(3);
    expect(h.messages).toHaveLength(6);
    expect(h.finalText).toBe('done');
  });

  it('a continuation message follows the finished conversation', () => {
    const events = [...toolTurn('t1'), finalTurn('done'), ev('user_message', { prompt: 'more' })];
    const h = rebuildHistory('p', events, 2);
    expect(h.turnsBeforeTask).toBe(2);
    expect(h.messages.at(-1)).toEqual({ role: 'user', content: 'more' });
    expect(h.finalText).toBeUndefined();
  });
});

// Rebuilds the model conversation of a session from its stored transcript, cut back to the last
// durable turn, so a resumed run never repeats a tool call whose result is already recorded.
import type Anthropic from '@anthropic-ai/sdk';
import type { SessionEvent } from '../sessions/session-store.js';

export interface RebuiltHistory {
  /** Conversation to hand to runAgent as `history` (starts with the session prompt). */
  messages: Anthropic.MessageParam[];
  /** Durable turns contained in `messages` (the loop's turnOffset). */
  turns: number;
  /** Turns completed before the newest continuation message (0 for the first task). */
  turnsBeforeTask: number;
  /** Set when the last durable turn was the final answer and no message followed it. */
  finalText: string | undefined;
}

interface Shape {
  type?: unknown;
  message?: { content?: unknown };
  prompt?: unknown;
  lastCompletedTurn?: unknown;
}

/**
 * Walks `assistant` / `user` (tool results) / `user_message` (continuation) events. A worker
 * event (`started`/`resumed`, carrying the lease's lastCompletedTurn) and the final
 * `lastCompletedTurn` cut off a turn the dead worker left unfinished: its tool calls ran against
 * a workspace that the snapshot of the last durable turn rolls back.
 * @example rebuildHistory(session.prompt, resume.events, resume.lastCompletedTurn)
 */
export function rebuildHistory(
  prompt: string,
  events: readonly SessionEvent[],
  lastCompletedTurn: number,
): RebuiltHistory {
  const messages: Anthropic.MessageParam[] = [{ role: 'user', content: prompt }];
  /** messages.length after turn t; index 0 = before any turn. */
  const after: number[] = [1];
  let turns = 0;
  let turnsBeforeTask = 0;
  let pendingTools = false;
  const cut = (durable: number): void => {
    const keep = Math.max(0, Math.min(durable, turns));
    if (keep === turns && !pendingTools) return;
    messages.length = after[keep] ?? 1;
    after.length = keep + 1;
    turns = keep;
    pendingTools = false;
  };
  for (const e of events) {
    const d = (e.data ?? {}) as Shape;
    if (e.type === 'assistant' && Array.isArray(d.message?.content)) {
      const content = d.message.content as Anthropic.ContentBlockParam[];
      messages.push({ role: 'assistant', content });
      pendingTools = content.some((b) => b.type === 'tool_use');
      if (!pendingTools) {
        turns += 1;
        after[turns] = messages.length;
      }
    } else if (e.type === 'user' && pendingTools && Array.isArray(d.message?.content)) {
      messages.push({
        role: 'user',
        content: d.message.content as Anthropic.ToolResultBlockParam[],
      });
      pendingTools = false;
      turns += 1;
      after[turns] = messages.length;
    } else if (e.type === 'user_message' && typeof d.prompt === 'string') {
      cut(turns);
      messages.push({ role: 'user', content: d.prompt });
      after[turns] = messages.length;
      turnsBeforeTask = turns;
    } else if (e.type === 'worker' && typeof d.lastCompletedTurn === 'number') {
      cut(d.lastCompletedTurn);
    }
  }
  cut(lastCompletedTurn);
  const last = messages.at(-1);
  const finalText =
    last?.role === 'assistant' && Array.isArray(last.content)
      ? last.content
          .filter((b): b is Anthropic.TextBlockParam => b.type === 'text')
          .map((b) => b.text)
          .join('\n')
      : undefined;
  return { messages, turns, turnsBeforeTask, finalText };
}

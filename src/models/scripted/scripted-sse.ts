// Turns a finished scripted message into the Anthropic streaming event sequence:
// message_start, content_block_start/delta/stop (text_delta, input_json_delta), message_delta, message_stop.
import type { ScriptedMessage } from './scripted-reply.js';

export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

function chunks(text: string, size: number): string[] {
  if (text.length === 0) return [];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** Formats one event in SSE wire format. */
export function formatSse(e: SseEvent): string {
  return `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

export const PING_EVENT: SseEvent = { event: 'ping', data: { type: 'ping' } };

/** message_start: the message shell with input usage and no content yet. */
export function messageStartEvent(msg: ScriptedMessage): SseEvent {
  return {
    event: 'message_start',
    data: {
      type: 'message_start',
      message: {
        ...msg,
        content: [],
        stop_reason: null,
        usage: { ...msg.usage, output_tokens: 1 },
      },
    },
  };
}

/** Every event after message_start, in order. */
export function bodyEvents(msg: ScriptedMessage, chunkChars: number): SseEvent[] {
  const events: SseEvent[] = [];
  msg.content.forEach((block, index) => {
    const start =
      block.type === 'text'
        ? { type: 'text', text: '' }
        : { type: 'tool_use', id: block.id, name: block.name, input: {} };
    events.push({
      event: 'content_block_start',
      data: { type: 'content_block_start', index, content_block: start },
    });
    const pieces =
      block.type === 'text'
        ? chunks(block.text, chunkChars).map((text) => ({ type: 'text_delta', text }))
        : chunks(JSON.stringify(block.input), chunkChars).map((partial_json) => ({
            type: 'input_json_delta',
            partial_json,
          }));
    for (const delta of pieces) {
      events.push({
        event: 'content_block_delta',
        data: { type: 'content_block_delta', index, delta },
      });
    }
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
  });
  events.push({
    event: 'message_delta',
    data: {
      type: 'message_delta',
      delta: { stop_reason: msg.stop_reason, stop_sequence: null },
      usage: { output_tokens: msg.usage.output_tokens },
    },
  });
  events.push({ event: 'message_stop', data: { type: 'message_stop' } });
  return events;
}

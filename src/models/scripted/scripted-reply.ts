// Pure part of the scripted model: picks the reply for a request (turn = number of assistant
// messages, so it is stateless and deterministic) and builds the Anthropic `Message` for it.
import { createHash } from 'node:crypto';
import type { Script, ScriptReply } from './script-schema.js';

/** The subset of a Messages API request body the scripted server reads; the rest is ignored. */
export interface ScriptedRequest {
  model?: unknown;
  messages?: unknown;
  system?: unknown;
  tools?: unknown;
  stream?: unknown;
}

export interface ScriptedContentText {
  type: 'text';
  text: string;
}
export interface ScriptedContentToolUse {
  type: 'tool_use';
  id: string;
  name: string;
  input: Record<string, unknown>;
}
export type ScriptedContent = ScriptedContentText | ScriptedContentToolUse;

export interface ScriptedUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface ScriptedMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ScriptedContent[];
  stop_reason: string;
  stop_sequence: null;
  usage: ScriptedUsage;
}

const CHARS_PER_TOKEN = 4;

/** Rough token estimate: one token per four characters, at least one. */
export function estimateTokens(chars: number): number {
  return Math.max(1, Math.ceil(chars / CHARS_PER_TOKEN));
}

/** Input token estimate of a request: system + messages + tools as JSON. */
export function estimateInputTokens(req: ScriptedRequest): number {
  const text = JSON.stringify([req.system ?? '', req.messages ?? [], req.tools ?? []]);
  return estimateTokens(text.length);
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function field(v: unknown, key: string): unknown {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
}

/** Number of assistant messages in the request: the index of the turn to answer. */
export function turnIndexOf(req: ScriptedRequest): number {
  return asArray(req.messages).filter((m) => field(m, 'role') === 'assistant').length;
}

function blockText(content: unknown): string {
  if (typeof content === 'string') return content;
  return asArray(content)
    .map((b) => {
      const text = field(b, 'text');
      return field(b, 'type') === 'text' && typeof text === 'string' ? text : '';
    })
    .join('\n');
}

/** Text of the tool_result blocks in the last user message ('' when there are none). */
export function lastToolResultText(req: ScriptedRequest): string {
  const messages = asArray(req.messages);
  const last = messages[messages.length - 1];
  if (field(last, 'role') !== 'user') return '';
  return asArray(field(last, 'content'))
    .filter((b) => field(b, 'type') === 'tool_result')
    .map((b) => blockText(field(b, 'content')))
    .join('\n');
}

function matches(reply: ScriptReply, toolResult: string): boolean {
  const m = reply.match;
  if (!m) return true;
  if (m.contains !== undefined && !toolResult.includes(m.contains)) return false;
  if (m.regex !== undefined && !new RegExp(m.regex).test(toolResult)) return false;
  return true;
}

/** The reply for this request, or undefined when the script has no turn for it. */
export function pickReply(script: Script, req: ScriptedRequest): ScriptReply | undefined {
  const turn = script.turns[turnIndexOf(req)];
  if (!turn) return undefined;
  if (turn.alternatives) {
    const toolResult = lastToolResultText(req);
    const alt = turn.alternatives.find((a) => matches(a, toolResult));
    if (alt) return alt;
  }
  return turn;
}

/** A stable digest of the conversation: ids and fault counters derive from it. */
export function requestDigest(req: ScriptedRequest): string {
  return createHash('sha256')
    .update(JSON.stringify([req.system ?? '', req.messages ?? []]))
    .digest('hex');
}

/** Builds the full assistant message for a reply (deterministic ids from the digest). */
export function buildMessage(
  script: Script,
  req: ScriptedRequest,
  reply: ScriptReply,
): ScriptedMessage {
  const digest = requestDigest(req);
  const content: ScriptedContent[] = reply.content.map((b, i) =>
    b.type === 'text'
      ? { type: 'text', text: b.text }
      : { type: 'tool_use', id: `toolu_${digest.slice(0, 20)}${i}`, name: b.name, input: b.input },
  );
  const outChars = content.reduce(
    (n, b) =>
      n + (b.type === 'text' ? b.text.length : b.name.length + JSON.stringify(b.input).length),
    0,
  );
  const hasTool = content.some((b) => b.type === 'tool_use');
  return {
    id: `msg_${digest.slice(0, 24)}`,
    type: 'message',
    role: 'assistant',
    model: typeof req.model === 'string' && req.model ? req.model : script.model,
    content,
    stop_reason: reply.stopReason ?? (hasTool ? 'tool_use' : 'end_turn'),
    stop_sequence: null,
    usage: {
      input_tokens: estimateInputTokens(req),
      output_tokens: estimateTokens(outChars),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    },
  };
}

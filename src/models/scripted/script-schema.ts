// The YAML script that drives the scripted model server: turns of text/tool_use replies,
// optional matching on the last tool result, and injected errors, faults and delays.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../../errors.js';

export const textBlockSchema = z
  .object({
    type: z.literal('text'),
    text: z.string().describe('Text the assistant says.'),
  })
  .strict();

export const toolUseBlockSchema = z
  .object({
    type: z.literal('tool_use'),
    name: z.string().min(1).describe('Tool name, e.g. Bash, Read, Edit.'),
    input: z.record(z.unknown()).default({}).describe('Tool input object. Absent: {}.'),
  })
  .strict();

export const scriptBlockSchema = z.discriminatedUnion('type', [
  textBlockSchema,
  toolUseBlockSchema,
]);

export const injectedErrorSchema = z
  .object({
    status: z.number().int().min(400).max(599).describe('HTTP status, e.g. 429, 529, 500.'),
    type: z
      .string()
      .default('api_error')
      .describe('Anthropic error type, e.g. overloaded_error. Absent: api_error.'),
    message: z.string().default('injected error').describe('Error message.'),
    retryAfterMs: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('Sent as retry-after-ms and retry-after (seconds, rounded up). Absent: none.'),
    times: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Fail only the first N identical requests, then answer. Absent: always fail.'),
  })
  .strict();

export const faultSchema = z
  .object({
    kind: z
      .enum(['hang', 'disconnect'])
      .describe('hang: never answer; disconnect: drop the socket mid-stream.'),
    afterEvents: z
      .number()
      .int()
      .nonnegative()
      .default(2)
      .describe('disconnect only: SSE events sent before the socket is dropped. Absent: 2.'),
    times: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Apply only to the first N identical requests. Absent: always.'),
  })
  .strict();

export const matchSchema = z
  .object({
    contains: z.string().optional().describe('Substring of the last tool_result text.'),
    regex: z.string().optional().describe('Regular expression tested on the last tool_result.'),
  })
  .strict()
  .refine((m) => m.contains !== undefined || m.regex !== undefined, {
    message: 'match needs contains or regex',
  })
  .refine(
    (m) => {
      if (m.regex === undefined) return true;
      try {
        new RegExp(m.regex);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'invalid regular expression' },
  );

export const replySchema = z
  .object({
    match: matchSchema
      .optional()
      .describe('Choose this reply only if the last tool result matches.'),
    content: z.array(scriptBlockSchema).default([]).describe('Content blocks of the reply.'),
    stopReason: z
      .enum(['end_turn', 'tool_use', 'max_tokens', 'stop_sequence', 'pause_turn', 'refusal'])
      .optional()
      .describe('Absent: tool_use if the reply has a tool_use block, else end_turn.'),
    delayMs: z.number().int().nonnegative().default(0).describe('Wait before the content.'),
    error: injectedErrorSchema.optional().describe('Answer with this error instead.'),
    fault: faultSchema.optional().describe('Misbehave at the transport level instead.'),
  })
  .strict();

export const turnSchema = replySchema
  .extend({
    alternatives: z
      .array(replySchema)
      .min(1)
      .optional()
      .describe('Replies tried in order; the first whose match fits wins, else this turn itself.'),
  })
  .strict()
  .refine((t) => t.content.length > 0 || t.alternatives || t.error || t.fault, {
    message: 'a turn needs content, alternatives, error or fault',
  });

export const scriptSchema = z
  .object({
    model: z.string().default('scripted').describe('Model name reported in responses.'),
    chunkChars: z
      .number()
      .int()
      .positive()
      .default(16)
      .describe('Characters per streamed text/json delta. Absent: 16.'),
    pingIntervalMs: z
      .number()
      .int()
      .positive()
      .default(5_000)
      .describe('Streaming: a ping event is sent at least this often while waiting.'),
    turns: z
      .array(turnSchema)
      .min(1)
      .describe('Turn N answers a request with N assistant messages.'),
  })
  .strict();

export type Script = z.infer<typeof scriptSchema>;
export type ScriptTurn = z.infer<typeof turnSchema>;
export type ScriptReply = z.infer<typeof replySchema>;
export type ScriptBlock = z.infer<typeof scriptBlockSchema>;

/** Validates a parsed script; problems are ConfigError issues `path: message`. */
export function parseScript(raw: unknown, source = 'script'): Script {
  const parsed = scriptSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw new ConfigError(`${source}: invalid script`, issues);
  }
  return parsed.data;
}

/** Reads and validates a YAML (or JSON) script file. */
export function loadScript(path: string): Script {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(
      `${path}: cannot read script`,
      [{ path: '', message: (err as Error).message }],
      {
        cause: err,
      },
    );
  }
  return parseScript(raw, path);
}

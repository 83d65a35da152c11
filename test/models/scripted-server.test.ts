// The scripted model server driven through the real @anthropic-ai/sdk client over HTTP:
// JSON and SSE, tool_use round trip, match on tool result, ?beta=true + unknown fields, errors.
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadScript, parseScript } from '../../src/models/scripted/script-schema.js';
import {
  ScriptedServer,
  type ScriptedRequestInfo,
} from '../../src/models/scripted/scripted-server.js';

const demo = loadScript(new URL('../../examples/scripts/demo.yaml', import.meta.url).pathname);

describe('scripted server', () => {
  const seen: ScriptedRequestInfo[] = [];
  const server = new ScriptedServer({ script: demo, onRequest: (i) => seen.push(i) });
  let client: Anthropic;

  beforeAll(async () => {
    const url = await server.start();
    client = new Anthropic({ baseURL: url, apiKey: 'test-key', maxRetries: 0 });
  });
  afterAll(() => server.close());

  it('answers a non-streaming request with the first turn (text + Bash tool_use)', async () => {
    const msg = await client.messages.create({
      model: 'claude-x',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'fix the tests' }],
    });
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content[0]).toMatchObject({ type: 'text' });
    expect(msg.content[1]).toMatchObject({
      type: 'tool_use',
      name: 'Bash',
      input: { command: 'ls -la' },
    });
    expect(msg.usage.input_tokens).toBeGreaterThan(0);
    expect(msg.usage.output_tokens).toBeGreaterThan(0);
  });

  it('streams the same turn as SSE events the SDK assembles into the identical message', async () => {
    const params = {
      model: 'claude-x',
      max_tokens: 100,
      messages: [{ role: 'user' as const, content: 'fix the tests' }],
    };
    const stream = client.messages.stream(params);
    const types: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    const streamed = await stream.finalMessage();
    const plain = await client.messages.create(params);
    expect(streamed.content).toEqual(plain.content);
    expect(streamed.stop_reason).toBe('tool_use');
    expect(streamed.usage.output_tokens).toBe(plain.usage.output_tokens);
    expect(types[0]).toBe('message_start');
    expect(types).toContain('content_block_delta');
    expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);
  });

  it('walks the whole tool_use round trip and picks the alternative matching the tool result', async () => {
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'fix it' }];
    const toolsSeen: string[] = [];
    for (let turn = 0; turn < 10; turn += 1) {
      const msg = await client.messages.create({ model: 'm', max_tokens: 100, messages });
      messages.push({ role: 'assistant', content: msg.content });
      if (msg.stop_reason !== 'tool_use') break;
      const results: Anthropic.ToolResultBlockParam[] = [];
      for (const b of msg.content) {
        if (b.type !== 'tool_use') continue;
        toolsSeen.push(b.name);
        const out =
          b.name === 'Bash' && (b.input as { command: string }).command === 'npm test'
            ? 'FAIL greet.test.js'
            : 'ok';
        results.push({
          type: 'tool_result',
          tool_use_id: b.id,
          content: [{ type: 'text', text: out }],
        });
      }
      messages.push({ role: 'user', content: results });
    }
    expect(toolsSeen).toEqual(['Bash', 'Read', 'Edit', 'Bash']);
    const last = messages[messages.length - 1];
    expect(JSON.stringify(last?.content)).toContain('still reports failures');
  });

  it('accepts ?beta=true, extra anthropic-beta headers and unknown body fields (Claude Code style)', async () => {
    const res = await fetch(`${server.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': 'k',
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14',
      },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
        metadata: { user_id: 'u' },
        thinking: { type: 'enabled', budget_tokens: 1024 },
        some_future_field: { x: 1 },
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { content: unknown[] };
    expect(body.content.length).toBe(2);
    expect(seen.at(-1)?.headers['anthropic-beta']).toContain('claude-code');
  });

  it('counts tokens and rejects a turn the script does not have', async () => {
    const count = await client.messages.countTokens({
      model: 'm',
      messages: [{ role: 'user', content: 'x'.repeat(400) }],
    });
    expect(count.input_tokens).toBeGreaterThanOrEqual(100);
    const tooMany: Anthropic.MessageParam[] = [{ role: 'user', content: 'a' }];
    for (let i = 0; i < 6; i += 1)
      tooMany.push({ role: 'assistant', content: 'x' }, { role: 'user', content: 'y' });
    await expect(
      client.messages.create({ model: 'm', max_tokens: 5, messages: tooMany }),
    ).rejects.toMatchObject({
      status: 400,
    });
  });
});

describe('script validation and injected errors', () => {
  it('reports problems as path: message', () => {
    try {
      parseScript({
        turns: [{ content: [{ type: 'tool_use' }] }, { alternatives: [{ match: { regex: '(' } }] }],
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const paths = (err as ConfigError).issues.map((i) => i.path);
      expect(paths).toContain('turns.0.content.0.name');
      expect(paths).toContain('turns.1.alternatives.0.match');
    }
  });

  it('injects an error with retry-after for the first N identical requests, then answers', async () => {
    const script = parseScript({
      turns: [
        {
          content: [{ type: 'text', text: 'recovered' }],
          error: { status: 529, type: 'overloaded_error', retryAfterMs: 1500, times: 2 },
        },
      ],
    });
    const server = new ScriptedServer({ script });
    const url = await server.start();
    try {
      const client = new Anthropic({ baseURL: url, apiKey: 'k', maxRetries: 0 });
      const params = {
        model: 'm',
        max_tokens: 5,
        messages: [{ role: 'user' as const, content: 'hi' }],
      };
      for (let i = 0; i < 2; i += 1) {
        const err = await client.messages.create(params).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Anthropic.APIError);
        expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
        expect(
          (err as InstanceType<typeof Anthropic.APIError>).headers?.get('retry-after-ms'),
        ).toBe('1500');
        expect((err as InstanceType<typeof Anthropic.APIError>).headers?.get('retry-after')).toBe(
          '2',
        );
      }
      const ok = await client.messages.create(params);
      expect(ok.content[0]).toMatchObject({ text: 'recovered' });
    } finally {
      await server.close();
    }
  });
});

// Bedrock and Vertex request shapes checked against a local server through each SDK's baseURL
// override: URL path, SigV4 or bearer Authorization, body with anthropic_version.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProvider } from '../../src/models/providers/provider-factory.js';

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

const seen: Seen[] = [];
let server: Server;
let baseUrl: string;
const reply = {
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  model: 'x',
  content: [{ type: 'text', text: 'cloud hello' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 3, output_tokens: 2 },
};

beforeAll(async () => {
  server = createServer((req, res) => {
    let b = '';
    req.on('data', (c: Buffer) => (b += c.toString()));
    req.on('end', () => {
      seen.push({
        url: req.url ?? '',
        headers: req.headers,
        body: JSON.parse(b) as Record<string, unknown>,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const params = {
  model: 'ignored',
  max_tokens: 16,
  messages: [{ role: 'user' as const, content: 'hi' }],
};

describe('bedrock provider', () => {
  const model = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';

  it('signs with SigV4 and sends the Bedrock body', async () => {
    const accessKey = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
    const p = createProvider(
      { provider: 'bedrock', model, region: 'us-east-1', baseUrl },
      { bedrock: { awsAccessKey: accessKey, awsSecretKey: randomBytes(20).toString('hex') } },
    );
    const msg = await p.create(params, { timeoutMs: 5_000 });
    expect(msg.content[0]).toMatchObject({ text: 'cloud hello' });
    const req = seen.at(-1)!;
    expect(decodeURIComponent(req.url)).toBe(`/model/${model}/invoke`);
    expect(req.headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${accessKey}/\\d{8}/us-east-1/bedrock/aws4_request, SignedHeaders=.*host.*, Signature=[0-9a-f]{64}$`,
      ),
    );
    expect(req.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    // This SDK version carries its anthropic-version header value into the body.
    expect(req.body.anthropic_version).toMatch(/^(bedrock-)?\d{4}-\d{2}-\d{2}$/);
    expect(req.body.model).toBeUndefined();
    expect(req.body.messages).toEqual(params.messages);
    await p.close();
  });

  it('uses a bearer token when given one', async () => {
    const token = `bedrock-${randomBytes(12).toString('hex')}`;
    const p = createProvider(
      { provider: 'bedrock', model, region: 'eu-west-1', baseUrl },
      { bedrock: { bearerToken: token } },
    );
    await p.create(params, { timeoutMs: 5_000 });
    expect(seen.at(-1)!.headers.authorization).toBe(`Bearer ${token}`);
  });
});

describe('vertex provider', () => {
  it('sends rawPredict to the project/region model path with the auth client bearer', async () => {
    const token = `ya29.${randomBytes(12).toString('hex')}`;
    const authClient = {
      getRequestHeaders: async () => new Headers({ authorization: `Bearer ${token}` }),
    };
    const p = createProvider(
      {
        provider: 'vertex',
        model: 'claude-sonnet-4-5@20250929',
        region: 'us-east5',
        project: 'proj-1',
        baseUrl,
      },
      { vertex: { authClient } },
    );
    await p.create(params, { timeoutMs: 5_000 });
    const req = seen.at(-1)!;
    expect(decodeURIComponent(req.url)).toBe(
      '/projects/proj-1/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict',
    );
    expect(req.headers.authorization).toBe(`Bearer ${token}`);
    expect(req.body.anthropic_version).toMatch(/^(vertex-)?\d{4}-\d{2}-\d{2}$/);
    expect(req.headers['anthropic-version']).toBeUndefined();
    expect(req.body.model).toBeUndefined();
  });
});

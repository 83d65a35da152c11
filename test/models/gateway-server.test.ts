// The gateway over HTTP: a real Anthropic client with a per-session placeholder key talks to the
// gateway, which swaps in the real key toward the (scripted) provider and accounts the session.
import Anthropic from '@anthropic-ai/sdk';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayServer } from '../../src/models/gateway-server.js';
import { RoutingGateway } from '../../src/models/gateway/routing-gateway.js';
import { InstantClock } from '../../src/models/resilience/clock.js';
import { startScripted, userMsg, type StartedServer } from './helpers.js';

const realKey = `sk-real-${randomBytes(16).toString('hex')}`;
let upstream: StartedServer;
let gateway: RoutingGateway;
let server: GatewayServer;
let url: string;

beforeAll(async () => {
  upstream = await startScripted(
    {
      pingIntervalMs: 20,
      turns: [{ content: [{ type: 'text', text: 'via gateway' }], delayMs: 60 }],
    },
    realKey,
  );
  gateway = new RoutingGateway({
    routes: upstream.route('claude-up'),
    clock: new InstantClock(),
    credentials: { anthropic: { apiKey: realKey } },
  });
  server = new GatewayServer({ gateway, pingIntervalMs: 20 });
  url = await server.start();
});
afterAll(async () => {
  await server.close();
  await gateway.close();
  await upstream.server.close();
});

describe('gateway server', () => {
  it('serves JSON and SSE to a placeholder key and never exposes the real key', async () => {
    const key = server.issueSessionKey({ sessionId: 'hosted-1', tenantId: 't1' });
    const client = new Anthropic({ baseURL: url, apiKey: key, maxRetries: 0 });
    const msg = await client.messages.create(userMsg);
    expect(msg.content[0]).toMatchObject({ text: 'via gateway' });
    const streamed = await client.messages.stream(userMsg).finalMessage();
    expect(streamed.content[0]).toMatchObject({ text: 'via gateway' });
    expect(gateway.ledger.sessionTotals('hosted-1').calls).toBe(2);
    expect(gateway.ledger.tenantTotals('t1').calls).toBe(2);
    for (const r of upstream.requests) {
      expect(JSON.stringify(r.headers)).toContain(realKey);
      expect(JSON.stringify(r.headers)).not.toContain(key);
    }
  });

  it('forwards keep-alive pings on streams', async () => {
    const key = server.issueSessionKey({ sessionId: 'hosted-2' });
    const res = await fetch(`${url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ ...userMsg, stream: true }),
    });
    const text = await res.text();
    expect(text).toContain('event: ping');
    expect(text).toContain('event: message_stop');
    expect(text).not.toContain(realKey);
  });

  it('rejects a missing, unknown or revoked key', async () => {
    const key = server.issueSessionKey({ sessionId: 'hosted-3' });
    server.revokeSessionKey(key);
    for (const k of [key, realKey, 'rf-session-guess']) {
      const client = new Anthropic({ baseURL: url, apiKey: k, maxRetries: 0 });
      await expect(client.messages.create(userMsg)).rejects.toMatchObject({ status: 401 });
    }
    const res = await fetch(`${url}/v1/messages`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
  });
});

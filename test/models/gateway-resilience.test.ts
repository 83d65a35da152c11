// The routing gateway against fault-injecting scripted servers on loopback: retry-after storms,
// hung connections, mid-stream cuts, never retrying 4xx, breaker cycle, fallback, pause, budget.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  RoutingGateway,
  type RoutingGatewayOptions,
} from '../../src/models/gateway/routing-gateway.js';
import type { GatewayEvent } from '../../src/models/model-gateway.js';
import { ModelError } from '../../src/models/model-errors.js';
import { InstantClock } from '../../src/models/resilience/clock.js';
import { hello, startScripted, userMsg, type StartedServer } from './helpers.js';

const apiKey = `sk-test-${randomBytes(12).toString('hex')}`;
const servers: StartedServer[] = [];
const gateways: RoutingGateway[] = [];

async function server(raw: unknown): Promise<StartedServer> {
  const s = await startScripted(raw, apiKey);
  servers.push(s);
  return s;
}

function gateway(opts: Omit<RoutingGatewayOptions, 'credentials'>): RoutingGateway {
  const g = new RoutingGateway({ ...opts, credentials: { anthropic: { apiKey } } });
  gateways.push(g);
  return g;
}

afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
  await Promise.all(servers.splice(0).map((s) => s.server.close()));
});

const failing = (status: number, extra: Record<string, unknown> = {}): unknown => ({
  turns: [
    {
      content: [{ type: 'text', text: 'recovered' }],
      error: { status, type: 'overloaded_error', ...extra },
    },
  ],
});

describe('retries', () => {
  it('rides out a 529 storm honouring retry-after-ms, with a retry event per failure', async () => {
    const s = await server(failing(529, { retryAfterMs: 1500, times: 3 }));
    const clock = new InstantClock();
    const events: GatewayEvent[] = [];
    const g = gateway({ routes: s.route(), clock, config: { retry: { maxAttempts: 5 } } });
    const res = await g.createMessage(userMsg, { sessionId: 's1', onEvent: (e) => events.push(e) });
    expect(res.message.content[0]).toMatchObject({ text: 'recovered' });
    expect(res.attempts).toBe(4);
    expect(s.requests).toHaveLength(4);
    const retries = events.filter((e) => e.type === 'retry');
    expect(retries.map((e) => e.delayMs)).toEqual([1500, 1500, 1500]);
    expect(retries.every((e) => e.kind === 'overloaded' && e.status === 529)).toBe(true);
    expect(clock.sleptMs).toEqual([1500, 1500, 1500]);
  });

  it('backs off with full jitter on 429 without retry-after (delays within the exponential ceiling)', async () => {
    const s = await server(failing(429, { times: 3 }));
    const clock = new InstantClock();
    const g = gateway({
      routes: s.route(),
      clock,
      random: () => 0.999,
      config: { retry: { baseMs: 100, capMs: 250 } },
    });
    await g.createMessage(userMsg, { sessionId: 's' });
    expect(clock.sleptMs).toEqual([99, 199, 249]);
  });

  it('never retries other 4xx', async () => {
    const s = await server(failing(400));
    const g = gateway({ routes: s.route(), clock: new InstantClock() });
    const err = await g.createMessage(userMsg, { sessionId: 's' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).kind).toBe('client');
    expect(s.requests).toHaveLength(1);
  });

  it('times out a hung connection and retries it', async () => {
    const s = await server({
      turns: [
        { content: [{ type: 'text', text: 'after hang' }], fault: { kind: 'hang', times: 1 } },
      ],
    });
    const events: GatewayEvent[] = [];
    const g = gateway({ routes: s.route(), clock: new InstantClock(), config: { timeoutMs: 300 } });
    const res = await g.createMessage(userMsg, { sessionId: 's', onEvent: (e) => events.push(e) });
    expect(res.message.content[0]).toMatchObject({ text: 'after hang' });
    expect(events.find((e) => e.type === 'retry')).toMatchObject({ kind: 'timeout' });
  });

  it('restarts a stream cut mid-way and tells the caller to discard the partial output', async () => {
    const s = await server({
      chunkChars: 4,
      turns: [
        {
          content: [{ type: 'text', text: 'a long streamed answer' }],
          fault: { kind: 'disconnect', afterEvents: 3, times: 1 },
        },
      ],
    });
    const events: GatewayEvent[] = [];
    let streamEvents = 0;
    const g = gateway({ routes: s.route(), clock: new InstantClock() });
    const res = await g.streamMessage(userMsg, {
      sessionId: 's',
      onEvent: (e) => events.push(e),
      onStreamEvent: () => (streamEvents += 1),
    });
    expect(res.message.content[0]).toMatchObject({ text: 'a long streamed answer' });
    const retry = events.find((e) => e.type === 'retry');
    expect(retry).toMatchObject({ kind: 'stream_interrupted', restartStream: true });
    expect(streamEvents).toBeGreaterThan(3);
  });

  it('does not restart a cut stream when the caller cannot discard output', async () => {
    const s = await server({
      turns: [
        {
          content: [{ type: 'text', text: 'x'.repeat(100) }],
          fault: { kind: 'disconnect', afterEvents: 3 },
        },
      ],
    });
    const g = gateway({
      routes: s.route(),
      clock: new InstantClock(),
      config: { pause: { maxPauseMs: 0 } },
    });
    const err = await g
      .streamMessage(userMsg, { sessionId: 's', restartable: false })
      .catch((e: unknown) => e);
    expect((err as ModelError).kind).toBe('all_routes_down');
    expect(s.requests).toHaveLength(1);
  });
});

describe('breaker, fallback and pause', () => {
  it('opens after consecutive failures, half-opens after openMs, closes on a good probe', async () => {
    const s = await server(failing(500, { times: 3 }));
    const clock = new InstantClock();
    const events: GatewayEvent[] = [];
    const g = gateway({
      routes: s.route(),
      clock,
      config: {
        retry: { maxAttempts: 1 },
        breaker: { consecutiveFailures: 2, openMs: 10_000 },
        pause: { maxPauseMs: 0 },
      },
    });
    g.subscribe((e) => events.push(e));
    const call = (): Promise<unknown> =>
      g.createMessage(userMsg, { sessionId: 's' }).catch((e: unknown) => e);
    await call();
    await call();
    expect(events.map((e) => e.type === 'breaker' && e.to)).toEqual(['open']);
    const blocked = (await call()) as ModelError;
    expect(blocked.message).toContain('circuit breaker open');
    expect(s.requests).toHaveLength(2); // the open breaker sent nothing
    clock.advance(10_000);
    await call(); // half-open probe meets the third failure: open again
    expect(s.requests).toHaveLength(3);
    clock.advance(10_000);
    const ok = (await call()) as { message: { content: unknown[] } };
    expect(ok.message.content[0]).toMatchObject({ text: 'recovered' });
    expect(
      events.filter((e) => e.type === 'breaker').map((e) => e.type === 'breaker' && e.to),
    ).toEqual(['open', 'half_open', 'open', 'half_open', 'closed']);
  });

  it('falls back to a second provider (the built-in scripted one) when the first is exhausted', async () => {
    const bad = await server(failing(529));
    const events: GatewayEvent[] = [];
    const g = gateway({
      routes: [bad.route('primary'), { provider: 'scripted', model: 'scripted-demo' }],
      clock: new InstantClock(),
      config: { retry: { maxAttempts: 2 } },
    });
    const res = await g.createMessage(userMsg, { sessionId: 's', onEvent: (e) => events.push(e) });
    expect(res.route).toBe('scripted:scripted-demo');
    expect(res.message.content[1]).toMatchObject({ type: 'tool_use', name: 'Bash' });
    expect(bad.requests).toHaveLength(2);
    expect(events.find((e) => e.type === 'fallback')).toMatchObject({
      from: 'anthropic:primary',
      to: 'scripted:scripted-demo',
    });
  });

  it('pauses while every route is down and resumes when the provider recovers', async () => {
    const s = await server(failing(503, { times: 6 }));
    const clock = new InstantClock();
    const events: GatewayEvent[] = [];
    const g = gateway({
      routes: s.route(),
      clock,
      random: () => 0,
      config: {
        retry: { maxAttempts: 2 },
        breaker: { consecutiveFailures: 100 },
        pause: { maxPauseMs: 60_000, checkEveryMs: 5_000 },
      },
    });
    const res = await g.createMessage(userMsg, { sessionId: 's', onEvent: (e) => events.push(e) });
    expect(res.message.content[0]).toMatchObject({ text: 'recovered' });
    const waits = events.filter((e) => e.type === 'wait');
    expect(waits).toHaveLength(3);
    expect(waits.every((e) => e.reason === 'all_routes_down' && e.detail.includes('503'))).toBe(
      true,
    );
  });

  it('fails with all_routes_down once the pause budget is spent', async () => {
    const s = await server(failing(503));
    const g = gateway({
      routes: s.route(),
      clock: new InstantClock(),
      random: () => 0,
      config: {
        retry: { maxAttempts: 1 },
        breaker: { consecutiveFailures: 100 },
        pause: { maxPauseMs: 20_000, checkEveryMs: 5_000 },
      },
    });
    const err = (await g
      .createMessage(userMsg, { sessionId: 's' })
      .catch((e: unknown) => e)) as ModelError;
    expect(err.kind).toBe('all_routes_down');
    expect(s.requests).toHaveLength(5); // t=0,5,10,15,20 s
  });
});

describe('cost and budget', () => {
  it('accounts tokens and cost per session and tenant and stops a session at its budget', async () => {
    const s = await server(hello);
    const g = gateway({
      routes: s.route('priced-model'),
      clock: new InstantClock(),
      config: { prices: { 'priced-model': { inputPerMTok: 10, outputPerMTok: 20 } } },
    });
    const ctx = { sessionId: 'sess-b', tenantId: 'tenant-1', maxBudgetUsd: 0.001 };
    const first = await g.createMessage(userMsg, ctx);
    const expected = (first.usage.inputTokens * 10 + first.usage.outputTokens * 20) / 1e6;
    expect(first.costUsd).toBeCloseTo(expected, 10);
    await g.createMessage(userMsg, ctx);
    const totals = g.ledger.sessionTotals('sess-b');
    expect(totals.calls).toBe(2);
    expect(totals.costUsd).toBeCloseTo(2 * expected, 10);
    expect(g.ledger.tenantTotals('tenant-1').calls).toBe(2);
    // Keep calling until the budget stops the session with a clear error.
    let err: unknown;
    for (let i = 0; i < 100 && err === undefined; i += 1) {
      err = await g.createMessage(userMsg, ctx).then(
        () => undefined,
        (e: unknown) => e,
      );
    }
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).kind).toBe('budget_exceeded');
    expect(g.ledger.sessionTotals('sess-b').costUsd).toBeGreaterThanOrEqual(0.001);
  });

  it('reports an unpriced model as unknown cost, never 0', async () => {
    const s = await server(hello);
    const g = gateway({ routes: s.route('mystery-model'), clock: new InstantClock() });
    const res = await g.createMessage(userMsg, { sessionId: 'u' });
    expect(res.costUsd).toBeUndefined();
    expect(g.ledger.sessionTotals('u')).toMatchObject({ calls: 1, unpricedCalls: 1, costUsd: 0 });
  });
});

// Rate limits (429 + retry-after), /metrics, and SSE over a real listen(0) server with a
// node:http client: live events, heartbeat comments, and resume with Last-Event-ID.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call -- inject().json() is untyped JSON; the assertions check its shape */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { makeHarness, type Harness } from './api-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('rate limits', () => {
  it('API requests/s: the request after the burst is 429 with retry-after; other tenants unaffected', async () => {
    h = await makeHarness({ limits: { requestsPerSec: 0.01, requestBurst: 2 } });
    const a = h.auth(h.keys.aRead);
    expect((await h.app.inject({ url: '/v1/sessions', headers: a })).statusCode).toBe(200);
    expect((await h.app.inject({ url: '/v1/sessions', headers: a })).statusCode).toBe(200);
    const r = await h.app.inject({ url: '/v1/sessions', headers: a });
    expect(r.statusCode).toBe(429);
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(r.json().error).toMatchObject({
      code: 'rate_limited',
      details: { limit: 'requests_per_sec' },
    });
    expect(
      (await h.app.inject({ url: '/v1/sessions', headers: h.auth(h.keys.bSubmit) })).statusCode,
    ).toBe(200);
  });

  it('sessions/min and concurrent sessions answer 429 with retry-after', async () => {
    h = await makeHarness({ limits: { sessionsPerMin: 2, maxConcurrentSessions: 100 } });
    const post = (key: string) =>
      h!.app.inject({
        method: 'POST',
        url: '/v1/sessions',
        headers: h!.auth(key),
        payload: { prompt: 'x' },
      });
    expect((await post(h.keys.aSubmit)).statusCode).toBe(202);
    expect((await post(h.keys.aSubmit)).statusCode).toBe(202);
    const r = await post(h.keys.aSubmit);
    expect(r.statusCode).toBe(429);
    expect(r.json().error.details.limit).toBe('sessions_per_min');
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    await h.close();
    h = await makeHarness({ limits: { maxConcurrentSessions: 1 } });
    expect((await post(h.keys.aSubmit)).statusCode).toBe(202);
    const c = await post(h.keys.aSubmit);
    expect(c.statusCode).toBe(429);
    expect(c.json().error.details.limit).toBe('concurrent_sessions');
    expect(c.headers['retry-after']).toBeDefined();
    expect((await post(h.keys.bSubmit)).statusCode).toBe(202);
  });
});

describe('metrics', () => {
  it('serves Prometheus text with queue depth, session and request metrics', async () => {
    h = await makeHarness();
    await h.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: h.auth(h.keys.aSubmit),
      payload: { prompt: 'x' },
    });
    h.ctx.metrics.toolCalls.inc({ tool: 'Bash', decision: 'allow' });
    const r = await h.app.inject({ url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('ringfence_queue_tasks{status="waiting"} 1');
    expect(r.body).toContain('ringfence_sessions{status="queued"} 1');
    expect(r.body).toContain('ringfence_tool_calls_total{tool="Bash",decision="allow"} 1');
    expect(r.body).toMatch(
      /ringfence_http_requests_total\{route="\/v1\/sessions",status="202"\} 1/,
    );
  });
});

interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** Opens an SSE stream; calls onFrame per frame; resolves when the server ends the stream. */
function openSse(
  port: number,
  path: string,
  headers: Record<string, string>,
  onFrame: (f: SseFrame, res: IncomingMessage) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const f: SseFrame = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) f.comment = line.slice(1).trim();
            else {
              const [k, ...rest] = line.split(': ');
              (f as Record<string, string>)[k ?? ''] = rest.join(': ');
            }
          }
          onFrame(f, res);
        }
      });
      res.on('end', resolve);
      res.on('close', resolve);
    });
    req.on('error', (err) =>
      (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err),
    );
    req.end();
  });
}

describe('SSE events', () => {
  it('streams live events with heartbeats, and a reconnect with Last-Event-ID resumes after it', async () => {
    h = await makeHarness();
    const { id } = (
      await h.app.inject({
        method: 'POST',
        url: '/v1/sessions',
        headers: h.auth(h.keys.aSubmit),
        payload: { prompt: 'x' },
      })
    ).json();
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (h.app.server.address() as AddressInfo).port;
    const store = h.stores.store;
    await store.appendEvent(id, { type: 'note', data: { n: 1 } });
    const first: SseFrame[] = [];
    let sawHeartbeat = false;
    // First connection: read the backlog + one live event + a heartbeat, then drop it.
    await openSse(port, `/v1/sessions/${id}/events`, h.auth(h.keys.aRead), (f, res) => {
      if (f.comment === 'hb') sawHeartbeat = true;
      if (f.id !== undefined) first.push(f);
      if (first.length === 1 && f.id === '1')
        void store.appendEvent(id, { type: 'note', data: { n: 2 } });
      if (first.length === 2 && sawHeartbeat) res.destroy();
      if (first.length === 2 && !sawHeartbeat) setTimeout(() => res.destroy(), 200);
    });
    expect(first.map((f) => f.id)).toEqual(['1', '2']);
    expect(first[1]?.event).toBe('note');
    expect(JSON.parse(first[1]?.data ?? '{}')).toMatchObject({
      seq: 2,
      type: 'note',
      data: { n: 2 },
    });
    expect(sawHeartbeat).toBe(true);
    // Events written while disconnected, then the session finishes: the stream ends by itself.
    await store.appendEvent(id, { type: 'note', data: { n: 3 } });
    await store.appendEvent(id, { type: 'note', data: { n: 4 } });
    await store.updateStatus(id, 'cancelled');
    const second: SseFrame[] = [];
    await openSse(
      port,
      `/v1/sessions/${id}/events`,
      { ...h.auth(h.keys.aRead), 'last-event-id': '2' },
      (f) => {
        if (f.id !== undefined) second.push(f);
      },
    );
    expect(second.map((f) => f.id)).toEqual(['3', '4']);
  });

  it('JSON page with after=, and a bad Last-Event-ID is 400', async () => {
    h = await makeHarness();
    const { id } = (
      await h.app.inject({
        method: 'POST',
        url: '/v1/sessions',
        headers: h.auth(h.keys.aSubmit),
        payload: { prompt: 'x' },
      })
    ).json();
    for (let n = 1; n <= 3; n++)
      await h.stores.store.appendEvent(id, { type: 'note', data: { n } });
    const page = (
      await h.app.inject({
        url: `/v1/sessions/${id}/events?format=json&after=1`,
        headers: h.auth(h.keys.aRead),
      })
    ).json();
    expect(page.events.map((e: { seq: number }) => e.seq)).toEqual([2, 3]);
    expect(page.nextAfter).toBe(3);
    const bad = await h.app.inject({
      url: `/v1/sessions/${id}/events`,
      headers: { ...h.auth(h.keys.aRead), 'last-event-id': 'abc' },
    });
    expect(bad.statusCode).toBe(400);
  });
});

// Burn-rate evaluation (both windows must burn) and the signed, retried alert webhook against
// a real listen(0) server on 127.0.0.1.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deliverWebhook, signWebhook } from '../../src/monitoring/alert-webhook.js';
import { SloTracker } from '../../src/monitoring/burn-rate.js';
import { monitoringSchema } from '../../src/monitoring/slo-schema.js';

describe('SloTracker', () => {
  it('fires only when both the long and the short window burn above the threshold', () => {
    let now = 1_000_000_000;
    const config = monitoringSchema.parse({
      windows: [{ longMs: 60_000, shortMs: 10_000, burnRate: 10, severity: 'page' }],
    });
    const t = new SloTracker(config, () => now);
    // Old errors only: long window burns, short window (last 10 s) is clean → no alert.
    for (let i = 0; i < 20; i++) t.record('session_success', true);
    now += 30_000;
    for (let i = 0; i < 20; i++) t.record('session_success', false);
    expect(t.evaluate()).toEqual([]);
    for (let i = 0; i < 20; i++) t.record('session_success', true);
    const alerts = t.evaluate();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ slo: 'session_success', severity: 'page' });
    expect(alerts[0]?.burnRateShort).toBeCloseTo(50); // 50% errors / 1% budget
  });

  it('rejects a window whose short part is not shorter', () => {
    expect(
      monitoringSchema.safeParse({
        windows: [{ longMs: 10, shortMs: 10, burnRate: 1, severity: 'page' }],
      }).success,
    ).toBe(false);
  });
});

describe('deliverWebhook', () => {
  it('retries after a 500 and delivers a body whose HMAC signature verifies', async () => {
    const secret = randomBytes(16).toString('hex');
    const seen: { status: number; sigOk: boolean }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const ts = String(req.headers['x-ringfence-timestamp']);
        const sigOk = req.headers['x-ringfence-signature'] === signWebhook(secret, ts, body);
        const status = seen.length === 0 ? 500 : 204;
        seen.push({ status, sigOk });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const ok = await deliverWebhook(
        { slo: 'model_error' },
        { url: `http://127.0.0.1:${port}/hook`, secret, maxAttempts: 3, baseDelayMs: 10 },
      );
      expect(ok).toBe(true);
      expect(seen).toEqual([
        { status: 500, sigOk: true },
        { status: 204, sigOk: true },
      ]);
    } finally {
      server.close();
    }
  });
});

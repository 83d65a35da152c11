// SLO monitoring wired into the service: sessions that fail because the scripted model answers
// with errors burn the tier's budgets; the alert is stored, listed at GET /v1/alerts (admin) and
// delivered, HMAC-signed and retried, to a webhook receiver on listen(0, '127.0.0.1').
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import type { AlertStore, StoredAlert } from '../../src/monitoring/alert-store.js';
import { signWebhook } from '../../src/monitoring/alert-webhook.js';
import { SessionOutcomes } from '../../src/monitoring/session-outcomes.js';
import { SloMonitor } from '../../src/monitoring/slo-monitor.js';
import { monitoringSchema } from '../../src/monitoring/slo-schema.js';
import type { RingfenceService } from '../../src/service/ringfence-service.js';
import { missingBubblewrap, missingRoot, reportSkip } from '../helpers/capabilities.js';
import {
  client,
  finished,
  until,
  writeServiceConfig,
  startTestService,
} from './service-harness.js';

class MemoryAlerts implements AlertStore {
  readonly rows: StoredAlert[] = [];
  insert(a: StoredAlert): Promise<void> {
    this.rows.push(a);
    return Promise.resolve();
  }
  markDelivered(): Promise<void> {
    return Promise.resolve();
  }
  list(limit: number): Promise<StoredAlert[]> {
    return Promise.resolve(this.rows.slice(-limit).reverse());
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('SessionOutcomes and SloMonitor (units)', () => {
  it('classifies tool results, answered, retried and finally failed model calls', () => {
    const o = new SessionOutcomes();
    expect(o.classify('s', { type: 'system' })).toEqual([]);
    expect(o.classify('s', { type: 'gateway', event: { type: 'retry' } })).toEqual([
      { slo: 'model_error', bad: true },
    ]);
    expect(o.classify('s', { type: 'assistant' })).toEqual([{ slo: 'model_error', bad: false }]);
    expect(o.classify('s', { type: 'tool_result', is_error: true })).toEqual([
      { slo: 'tool_failure', bad: true },
    ]);
    expect(o.classify('s', { type: 'tool_result', is_error: false })).toEqual([
      { slo: 'tool_failure', bad: false },
    ]);
    expect(o.classify('s', { type: 'user' })).toEqual([]);
    // The run ended with an error while the next model call was in flight: that call failed.
    expect(
      o.classify('s', {
        type: 'result',
        subtype: 'error_during_execution',
        stop_reason: 'error: x',
      }),
    ).toEqual([{ slo: 'model_error', bad: true }]);
    // A run that ended after an answer (max turns, success) says nothing more about the model.
    o.classify('t', { type: 'assistant' });
    expect(o.classify('t', { type: 'result', subtype: 'error_max_turns' })).toEqual([]);
  });

  it('fires a rule once while it burns, again after it cleared; other tiers are ignored', async () => {
    let now = 1_000_000;
    const store = new MemoryAlerts();
    const config = monitoringSchema.parse({
      windows: [{ longMs: 60_000, shortMs: 10_000, burnRate: 2, severity: 'ticket' }],
    });
    const m = new SloMonitor({ tiers: [{ tier: 'prod', config }], store, now: () => now });
    m.observe('dev', 's', { type: 'tool_result', is_error: true });
    expect(await m.evaluateNow()).toEqual([]);
    m.observe('prod', 's', { type: 'tool_result', is_error: true });
    expect((await m.evaluateNow()).map((a) => [a.tier, a.slo])).toEqual([['prod', 'tool_failure']]);
    expect(await m.evaluateNow()).toEqual([]);
    now += 120_000; // both windows empty: the rule clears
    expect(await m.evaluateNow()).toEqual([]);
    m.recordSession('prod', 'failed');
    m.recordSession('prod', 'cancelled'); // not an SLO outcome
    expect((await m.evaluateNow()).map((a) => a.slo)).toEqual(['session_success']);
    expect(store.rows).toHaveLength(2);
    await m.close();
  });

  it('refuses to start when the webhook secret env var is missing', () => {
    const config = monitoringSchema.parse({
      webhook: { url: 'http://127.0.0.1:9/x', secretEnv: 'RF_TEST_NOT_SET' },
    });
    expect(
      () =>
        new SloMonitor({ tiers: [{ tier: 'dev', config }], store: new MemoryAlerts(), env: {} }),
    ).toThrow(ConfigError);
  });
});

const skip = reportSkip('service monitoring', missingBubblewrap() ?? missingRoot());

interface Delivery {
  status: number;
  signatureOk: boolean;
  body: Record<string, unknown>;
}

describe.skipIf(skip)('SLO monitoring in the service (real sessions, real webhook)', () => {
  const secret = randomBytes(16).toString('hex');
  const deliveries: Delivery[] = [];
  let receiver: Server;
  let service: RingfenceService;
  let dir: string;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const ts = String(req.headers['x-ringfence-timestamp']);
        // The first delivery is refused: the service must retry it.
        const status = deliveries.length === 0 ? 503 : 204;
        deliveries.push({
          status,
          signatureOk: req.headers['x-ringfence-signature'] === signWebhook(secret, ts, body),
          body: JSON.parse(body) as Record<string, unknown>,
        });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const { port } = receiver.address() as AddressInfo;
    const cfg = writeServiceConfig(
      [{ content: [], error: { status: 500, message: 'injected model failure' } }],
      {
        tier: {
          gateway: {
            retry: { maxAttempts: 2, baseMs: 10, capMs: 20 },
            pause: { maxPauseMs: 0 },
          },
          monitoring: {
            windows: [{ longMs: 600_000, shortMs: 60_000, burnRate: 2, severity: 'page' }],
            evaluateEveryMs: 100,
            webhook: {
              url: `http://127.0.0.1:${port}/alerts`,
              secretEnv: 'RF_TEST_WEBHOOK_SECRET',
              maxAttempts: 3,
            },
          },
        },
      },
    );
    dir = cfg.dir;
    service = await startTestService(cfg, {
      monitoring: { env: { RF_TEST_WEBHOOK_SECRET: secret }, webhookBaseDelayMs: 20 },
    });
  }, 60_000);

  afterAll(async () => {
    await service?.close(1_000);
    receiver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('failing sessions fire session_success and model_error alerts: stored, listed, delivered signed after a retry', async () => {
    const submit = client(service.url!, (await service.stores.keys.createKey('t-m', 'submit')).key);
    const admin = client(service.url!, (await service.stores.keys.createKey('t-m', 'admin')).key);
    for (let i = 0; i < 2; i++) {
      const id = (
        (await submit.post('/v1/sessions', { prompt: `fail ${i}` })).body as { id: string }
      ).id;
      const done = await finished(submit, id);
      expect(done.status).toBe('failed');
      expect(JSON.stringify(done.result)).toContain('injected model failure');
    }
    type Listed = { id: string; slo: string; tier: string; delivered: boolean }[];
    const alerts = await until(async () => {
      const r = await admin.get('/v1/alerts');
      const list = (r.body as { alerts: Listed }).alerts;
      const slos = new Set(list.filter((a) => a.delivered).map((a) => a.slo));
      return slos.has('session_success') && slos.has('model_error') ? list : undefined;
    }, 'delivered session_success and model_error alerts');
    expect(alerts.every((a) => a.tier === 'dev')).toBe(true);
    // Each rule fires once while it keeps burning (no alert storm on every evaluation).
    expect(alerts.filter((a) => a.slo === 'session_success')).toHaveLength(1);
    // Delivered: the first attempt was refused with 503 and retried; every body is signed.
    expect(deliveries[0]?.status).toBe(503);
    expect(deliveries.every((d) => d.signatureOk)).toBe(true);
    const sent = deliveries.filter((d) => d.status === 204).map((d) => d.body);
    for (const a of alerts) {
      expect(sent).toContainEqual(
        expect.objectContaining({ type: 'slo_alert', id: a.id, slo: a.slo, severity: 'page' }),
      );
    }
    // Only admin keys list alerts.
    expect((await submit.get('/v1/alerts')).status).toBe(403);
  }, 120_000);
});

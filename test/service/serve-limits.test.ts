// Per-tenant caps of `ringfence serve`: the flags parse into service options (bad values name the
// flag), and a tenant capped at 1 runs one session at a time while another tenant runs beside it.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceLimitsFromFlags } from '../../src/cli/serve-command.js';
import { ConfigError } from '../../src/errors.js';
import type { RingfenceService } from '../../src/service/ringfence-service.js';
import { missingBubblewrap, missingRoot, reportSkip } from '../helpers/capabilities.js';
import {
  client,
  finished,
  threeToolScript,
  until,
  writeServiceConfig,
  startTestService,
} from './service-harness.js';

describe('serve limit flags', () => {
  it('parse into rate limits and tenant caps', () => {
    expect(
      serviceLimitsFromFlags({
        tenantCap: ['acme=3', 'big.co=10'],
        defaultTenantCap: '2',
        maxConcurrentSessions: '5',
        sessionsPerMin: '30',
        requestsPerSec: '7',
        requestBurst: '9',
      }),
    ).toEqual({
      limits: { maxConcurrentSessions: 5, sessionsPerMin: 30, requestsPerSec: 7, requestBurst: 9 },
      tenantCaps: { acme: 3, 'big.co': 10 },
      defaultTenantCap: 2,
    });
    expect(serviceLimitsFromFlags({})).toEqual({ limits: {} });
  });

  it('refuse bad values naming the flag', () => {
    const cases: [Parameters<typeof serviceLimitsFromFlags>[0], string][] = [
      [{ tenantCap: ['acme'] }, '--tenant-cap'],
      [{ tenantCap: ['acme=0'] }, '--tenant-cap'],
      [{ defaultTenantCap: '-1' }, '--default-tenant-cap'],
      [{ sessionsPerMin: 'many' }, '--sessions-per-min'],
    ];
    for (const [flags, path] of cases) {
      const err = (() => {
        try {
          serviceLimitsFromFlags(flags);
          return undefined;
        } catch (e) {
          return e;
        }
      })();
      expect(err, JSON.stringify(flags)).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues[0]?.path).toBe(path);
    }
  });
});

const skip = reportSkip('tenant caps', missingBubblewrap() ?? missingRoot());

describe.skipIf(skip)('tenant caps in the service (real sandboxes)', () => {
  let service: RingfenceService;
  let dir: string;

  beforeAll(async () => {
    // Turn 1 is slowed so sessions overlap long enough to observe who runs.
    const cfg = writeServiceConfig(threeToolScript({ turn: 1, ms: 1_500 }));
    dir = cfg.dir;
    service = await startTestService(cfg, {
      ...serviceLimitsFromFlags({ tenantCap: ['t-capped=1'] }),
    });
  }, 60_000);

  afterAll(async () => {
    await service?.close(1_000);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a tenant capped at 1 waits for its own session while another tenant uses the free worker', async () => {
    const a = client(service.url!, (await service.stores.keys.createKey('t-capped', 'submit')).key);
    const b = client(service.url!, (await service.stores.keys.createKey('t-free', 'submit')).key);
    const id = async (cl: typeof a, prompt: string) =>
      ((await cl.post('/v1/sessions', { prompt })).body as { id: string }).id;
    const a1 = await id(a, 'a1');
    const a2 = await id(a, 'a2');
    const b1 = await id(b, 'b1');
    const status = async (cl: typeof a, sid: string) =>
      ((await cl.get(`/v1/sessions/${sid}`)).body as { status: string }).status;
    // Both workers busy: one with a t-capped session, the other with t-free's (not a2).
    const snapshot = await until(async () => {
      const s = { a1: await status(a, a1), a2: await status(a, a2), b1: await status(b, b1) };
      return s.b1 === 'running' && (s.a1 === 'running' || s.a2 === 'running') ? s : undefined;
    }, 'a capped session and the free tenant running together');
    expect([snapshot.a1, snapshot.a2].sort()).toEqual(['queued', 'running']);
    for (const [cl, sid] of [
      [a, a1],
      [a, a2],
      [b, b1],
    ] as const) {
      expect((await finished(cl, sid)).status).toBe('succeeded');
    }
  }, 120_000);
});

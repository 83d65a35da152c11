// Canary routing through the gateway: sticky split per session, rollback under injected canary
// errors, staged promotion 5 -> 25 -> 50 -> 100, state persisted and readable by `canary status`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readCanaryStates } from '../../src/models/canary/canary-store.js';
import { sessionBucket } from '../../src/models/canary/canary-router.js';
import { RoutingGateway } from '../../src/models/gateway/routing-gateway.js';
import { InstantClock } from '../../src/models/resilience/clock.js';
import { hello, startScripted, userMsg, type StartedServer } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(
  canaryScript: unknown,
  stages?: number[],
): Promise<{ g: RoutingGateway; dir: string; base: StartedServer }> {
  const base = await startScripted(hello);
  const canary = await startScripted(canaryScript);
  const dir = mkdtempSync(join(tmpdir(), 'rf-canary-'));
  const g = new RoutingGateway({
    routes: base.route('baseline-model'),
    clock: new InstantClock(),
    credentials: { anthropic: { apiKey: 'placeholder' } },
    config: {
      retry: { maxAttempts: 1 },
      breaker: { consecutiveFailures: 1_000, minRequests: 1_000 },
      canary: {
        route: canary.route('canary-model'),
        minSample: 5,
        errorMarginPct: 10,
        stateDir: dir,
        ...(stages ? { stages } : {}),
      },
    },
  });
  cleanups.push(
    () => base.server.close(),
    () => canary.server.close(),
    () => rmSync(dir, { recursive: true, force: true }),
    () => g.close(),
  );
  return { g, dir, base };
}

/** Session ids whose bucket falls under `pct` percent (they land on the canary). */
function canarySessions(pct: number, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i += 1)
    if (sessionBucket(`s-${i}`) < pct * 100) out.push(`s-${i}`);
  return out;
}

describe('canary routing', () => {
  it('keeps a session on the same arm and splits by weight', async () => {
    const { g } = await setup(hello);
    const router = g.canary!;
    const arms = Array.from({ length: 4_000 }, (_, i) => router.armFor(`sess-${i}`));
    const share = arms.filter((a) => a === 'canary').length / arms.length;
    expect(share).toBeGreaterThan(0.03);
    expect(share).toBeLessThan(0.07);
    expect(router.armFor('sess-7')).toBe(router.armFor('sess-7'));
  });

  it('rolls back when the canary error rate beats the baseline by the margin', async () => {
    const { g, dir, base } = await setup({ turns: [{ error: { status: 500 } }] });
    for (const id of canarySessions(5, 5)) {
      // Each canary call fails on the canary route and is served by the baseline fallback.
      const res = await g.createMessage(userMsg, { sessionId: id });
      expect(res.route).toBe('anthropic:baseline-model');
    }
    const [state] = readCanaryStates(dir);
    expect(state?.status).toBe('rolled_back');
    expect(state?.weightPercent).toBe(0);
    expect(state?.history.at(-1)?.event).toContain('rolled back');
    expect(g.canary!.armFor(canarySessions(5, 1)[0]!)).toBe('baseline');
    expect(base.requests.length).toBe(5);
  });

  it('promotes a healthy canary through 5, 25, 50, 100 and persists each stage', async () => {
    const { g, dir } = await setup(hello);
    const seen: number[] = [g.canary!.state.weightPercent];
    for (const pct of [5, 25, 50, 100]) {
      for (const id of canarySessions(pct, 5)) await g.createMessage(userMsg, { sessionId: id });
      seen.push(readCanaryStates(dir)[0]!.weightPercent);
    }
    expect(seen).toEqual([5, 25, 50, 100, 100]);
    expect(readCanaryStates(dir)[0]?.status).toBe('promoted');
  });
});

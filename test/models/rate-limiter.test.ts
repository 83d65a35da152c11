// The rate limiter under 50 concurrent callers with a manual clock: it holds the configured
// requests/min and tokens/min, queues instead of failing, and fails only past maxQueueMs.
import { describe, expect, it } from 'vitest';
import { ManualClock, flushMicrotasks } from '../../src/models/resilience/clock.js';
import { RateLimiter } from '../../src/models/resilience/rate-limiter.js';

describe('RateLimiter', () => {
  it('admits exactly requestsPerMinute per sliding minute to 50 concurrent callers, in order', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ requestsPerMinute: 10, maxQueueMs: 10 * 60_000 }, clock);
    const grantedAt: number[] = [];
    const order: number[] = [];
    const waits: number[] = [];
    const all = Array.from({ length: 50 }, (_, i) =>
      limiter
        .acquire(1, undefined, (w) => waits.push(w))
        .then(() => {
          grantedAt.push(clock.nowMs());
          order.push(i);
        }),
    );
    await flushMicrotasks();
    expect(grantedAt).toHaveLength(10);
    for (let minute = 1; minute <= 4; minute += 1) {
      await clock.advance(60_000);
      expect(grantedAt).toHaveLength(10 * (minute + 1));
    }
    await Promise.all(all);
    // No sliding 60 s window ever holds more than 10 grants.
    for (const t of grantedAt) {
      expect(grantedAt.filter((u) => u >= t && u < t + 60_000).length).toBeLessThanOrEqual(10);
    }
    expect(order).toEqual([...Array(50).keys()]);
    expect(waits.length).toBeGreaterThan(0); // callers were told they wait
  });

  it('holds tokensPerMinute and settles to the real usage', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ tokensPerMinute: 1_000, maxQueueMs: 600_000 }, clock);
    let granted = 0;
    const all = Array.from({ length: 50 }, () =>
      limiter.acquire(100).then((g) => {
        granted += 1;
        g.settle(200); // each call really used 200 tokens
      }),
    );
    await flushMicrotasks();
    // 10 fit by estimate; their settled usage (10 x 200) is what the window now counts.
    expect(granted).toBe(10);
    expect(limiter.inWindow.tokens).toBe(2_000);
    await clock.advance(30_000);
    expect(granted).toBe(10); // still over the limit: queued, not failed
    await clock.advance(30_000);
    expect(granted).toBe(20);
    for (let i = 0; i < 3; i += 1) await clock.advance(60_000);
    await Promise.all(all);
    expect(granted).toBe(50);
  });

  it('rejects only a caller whose wait would pass maxQueueMs', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ requestsPerMinute: 1, maxQueueMs: 90_000 }, clock);
    await limiter.acquire(1);
    const second = limiter.acquire(1);
    const third = limiter.acquire(1).catch((e: unknown) => e);
    await clock.advance(60_000);
    await expect(second).resolves.toMatchObject({ waitedMs: 60_000 });
    expect(await third).toMatchObject({ code: 'rate_limited' });
  });
});

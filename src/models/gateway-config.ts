// zod schema of the model gateway's own settings (retry, timeout, breaker, rate limits, pause,
// prices, canary). The lead wires `gatewayConfigSchema` into the tier schema as `gateway`.
import { z } from 'zod';
import { modelRouteSchema } from './model-route.js';
import { priceTableSchema } from './cost/price-table.js';

export const rateLimitSchema = z
  .object({
    requestsPerMinute: z.number().int().positive().optional().describe('Absent: unlimited.'),
    tokensPerMinute: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Input+output tokens. Absent: unlimited.'),
    maxQueueMs: z
      .number()
      .int()
      .nonnegative()
      .default(120_000)
      .describe('Longest wait in the queue before failing with rate_limited. Absent: 120000.'),
  })
  .strict();

export const canaryConfigSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/)
      .default('default')
      .describe('State file name.'),
    route: modelRouteSchema.describe('The canary route; the tier model chain is the baseline.'),
    stages: z
      .array(z.number().min(0).max(100))
      .min(1)
      .default([5, 25, 50, 100])
      .describe('Canary weight (percent) of each promotion stage. Absent: 5, 25, 50, 100.'),
    minSample: z
      .number()
      .int()
      .positive()
      .default(20)
      .describe('Canary calls needed in a stage before rollback or promotion is decided.'),
    errorMarginPct: z
      .number()
      .min(0)
      .max(100)
      .default(5)
      .describe('Rollback when canary error rate exceeds baseline by more than this many points.'),
    stateDir: z.string().describe('Directory of the persisted canary state (JSON).'),
  })
  .strict();

export const gatewayConfigSchema = z
  .object({
    timeoutMs: z
      .number()
      .int()
      .positive()
      .default(600_000)
      .describe('Per attempt; streams: idle time.'),
    retry: z
      .object({
        maxAttempts: z.number().int().min(1).default(4).describe('Attempts per route. Absent: 4.'),
        baseMs: z.number().int().positive().default(500),
        capMs: z.number().int().positive().default(30_000),
        maxRetryAfterMs: z
          .number()
          .int()
          .positive()
          .default(60_000)
          .describe('A longer retry-after is capped to this.'),
      })
      .strict()
      .default({}),
    breaker: z
      .object({
        consecutiveFailures: z.number().int().positive().default(5),
        errorRate: z.number().min(0).max(1).default(0.5),
        windowMs: z.number().int().positive().default(60_000),
        minRequests: z.number().int().positive().default(20),
        openMs: z.number().int().positive().default(30_000),
      })
      .strict()
      .default({}),
    rateLimits: z
      .record(rateLimitSchema)
      .default({})
      .describe(
        'Per route key `provider:model` (or `*` for every route). Absent: no client-side limit.',
      ),
    pause: z
      .object({
        maxPauseMs: z
          .number()
          .int()
          .nonnegative()
          .default(300_000)
          .describe(
            'When every route is down, wait up to this long before failing. 0: fail at once.',
          ),
        checkEveryMs: z
          .number()
          .int()
          .positive()
          .default(5_000)
          .describe('Re-check interval while paused.'),
      })
      .strict()
      .default({}),
    prices: priceTableSchema
      .default({})
      .describe('Overrides/additions to the built-in price table.'),
    canary: canaryConfigSchema.optional().describe('Absent: no canary.'),
  })
  .strict();

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
export type CanaryConfig = z.infer<typeof canaryConfigSchema>;
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;

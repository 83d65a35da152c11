// The monitoring config (zod): SLO targets, burn-rate windows and the alert webhook. The lead
// wires `monitoringSchema` into the tier schema as `monitoring: monitoringSchema.optional()`.
import { z } from 'zod';

export const SLO_NAMES = ['session_success', 'tool_failure', 'model_error'] as const;
export type SloName = (typeof SLO_NAMES)[number];

export const burnWindowSchema = z
  .object({
    longMs: z.number().int().positive().describe('long window, e.g. 3_600_000 (1h)'),
    shortMs: z
      .number()
      .int()
      .positive()
      .describe('short window, e.g. 300_000 (5m); both must burn'),
    burnRate: z.number().positive().describe('fire when error rate / budget exceeds this in both'),
    severity: z.enum(['page', 'ticket']),
  })
  .refine((w) => w.shortMs < w.longMs, { message: 'shortMs must be below longMs' });

export const monitoringSchema = z.object({
  slos: z
    .object({
      session_success: z.number().gt(0).lt(1).default(0.99).describe('target success ratio'),
      tool_failure: z.number().gt(0).lt(1).default(0.95).describe('target non-failing tool calls'),
      model_error: z.number().gt(0).lt(1).default(0.99).describe('target successful model calls'),
    })
    .default({}),
  windows: z
    .array(burnWindowSchema)
    .min(1)
    .default([
      { longMs: 3_600_000, shortMs: 300_000, burnRate: 14.4, severity: 'page' },
      { longMs: 21_600_000, shortMs: 1_800_000, burnRate: 6, severity: 'page' },
      { longMs: 259_200_000, shortMs: 21_600_000, burnRate: 1, severity: 'ticket' },
    ])
    .describe('multi-window multi-burn-rate rules (Google SRE workbook defaults)'),
  webhook: z
    .object({
      url: z.string().url().describe('POST target for alerts'),
      secretEnv: z
        .string()
        .min(1)
        .describe('env var holding the HMAC-SHA256 key; header x-ringfence-signature'),
      maxAttempts: z.number().int().min(1).max(10).default(5),
    })
    .optional(),
  evaluateEveryMs: z.number().int().positive().default(60_000),
});
export type MonitoringConfig = z.infer<typeof monitoringSchema>;

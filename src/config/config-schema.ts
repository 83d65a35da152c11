// The ringfence.yaml schema: named policies and the three tiers dev / staging / prod.
// zod is the single source of truth; `loadConfig` prints problems as `path: message`.
import { z } from 'zod';
import { policySchema } from '../policy/policy-schema.js';
import { gatewayConfigSchema } from '../models/gateway-config.js';
import { modelRouteSchema } from '../models/model-route.js';
import { monitoringSchema } from '../monitoring/slo-schema.js';
import { TIERS } from './tier-names.js';

export { modelRouteSchema };

export { TIERS, type TierName } from './tier-names.js';

export const tierSchema = z
  .object({
    model: z
      .union([modelRouteSchema, z.array(modelRouteSchema).min(1)])
      .describe('One route or a fallback chain [primary, fallback...].'),
    logLevel: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'silent'])
      .default('info')
      .describe('Log level; logs go to stderr. Absent: info. RINGFENCE_LOG_LEVEL overrides.'),
    sandbox: z
      .object({
        driver: z
          .enum(['bubblewrap', 'docker', 'gvisor'])
          .default('bubblewrap')
          .describe('Isolation driver. Absent: bubblewrap.'),
        image: z
          .string()
          .optional()
          .describe('docker/gvisor image. Absent: the image built by `ringfence image build`.'),
      })
      .strict()
      .default({}),
    policy: z
      .union([z.string().min(1), policySchema])
      .default('default')
      .describe(
        'A named policy from `policies` or an inline policy. Absent: the policy named "default".',
      ),
    gateway: gatewayConfigSchema
      .default({})
      .describe(
        'Model gateway: rate limits, retries, breaker, pause, prices, canary. Absent: defaults.',
      ),
    monitoring: monitoringSchema
      .optional()
      .describe('SLOs, burn-rate windows and the alert webhook. Absent: no SLO alerting.'),
    features: z
      .record(z.boolean())
      .default({})
      .describe('Feature flags, e.g. monitoring, mockTools, testData. Absent: all off.'),
  })
  .strict();

export const configSchema = z
  .object({
    version: z.literal(1).default(1),
    dataDir: z
      .string()
      .optional()
      .describe('State directory. Absent: RINGFENCE_HOME or ~/.ringfence.'),
    policies: z.record(policySchema).default({}).describe('Named policies tiers refer to.'),
    tiers: z
      .object({ dev: tierSchema, staging: tierSchema.optional(), prod: tierSchema.optional() })
      .strict()
      .describe(
        'dev is required; staging and prod fall back to nothing (selecting a missing tier is an error).',
      ),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    for (const tier of TIERS) {
      const t = cfg.tiers[tier];
      if (
        t &&
        typeof t.policy === 'string' &&
        t.policy !== 'default' &&
        !(t.policy in cfg.policies)
      ) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['tiers', tier, 'policy'],
          message: `unknown policy "${t.policy}"`,
        });
      }
    }
  });

export type RingfenceConfig = z.infer<typeof configSchema>;
export type Tier = z.infer<typeof tierSchema>;
export type { ModelRoute } from '../models/model-route.js';

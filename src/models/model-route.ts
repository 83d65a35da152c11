// One model route (provider + model id + endpoint options): the unit of fallback chains and
// canary splits. Lives here so config and the gateway share it without an import cycle.
import { z } from 'zod';

export const modelRouteSchema = z
  .object({
    provider: z.enum(['anthropic', 'bedrock', 'vertex', 'scripted']).describe('Model provider.'),
    model: z.string().min(1).describe('Model id as the provider names it.'),
    baseUrl: z
      .string()
      .url()
      .optional()
      .describe('Override of the provider endpoint. Absent: SDK default / ANTHROPIC_BASE_URL.'),
    script: z
      .string()
      .optional()
      .describe('scripted only: YAML script of turns. Absent: the shipped demo script.'),
    region: z.string().optional().describe('bedrock/vertex region.'),
    project: z.string().optional().describe('vertex project id.'),
  })
  .strict();

export type ModelRoute = z.infer<typeof modelRouteSchema>;

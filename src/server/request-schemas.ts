// zod schemas of the API's request bodies and queries; the OpenAPI document describes the same.
import { z } from 'zod';

export const PERMISSION_MODES = [
  'default',
  'acceptEdits',
  'plan',
  'dontAsk',
  'bypassPermissions',
] as const;

const toolList = z.array(z.string().min(1).max(200)).max(200);

/** Stored as a session's mode when the request named none: the runner applies the tier's mode. */
export const MODE_FROM_TIER = 'tier';

export const workspaceSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('empty') }).describe('an empty workspace'),
    z
      .object({
        type: z.literal('tar'),
        uploadId: z.string().regex(/^[0-9a-f]{64}$/, 'must be an id from POST /v1/uploads'),
      })
      .describe('a tar.gz uploaded with POST /v1/uploads'),
    z
      .object({
        type: z.literal('git'),
        url: z
          .string()
          .url()
          .max(2000)
          .refine((u) => /^https?:\/\//i.test(u), 'must be an http:// or https:// URL')
          .refine(
            (u) => !/^https?:\/\/[^/]*@/i.test(u),
            'must not carry credentials (bind a secret to the host in the policy instead)',
          )
          .describe('cloned inside the sandbox through the egress proxy: the host must be allowed'),
        ref: z
          .string()
          .min(1)
          .max(200)
          .regex(/^[A-Za-z0-9_][A-Za-z0-9_./-]*$/, 'must be a branch, tag or commit name')
          .optional()
          .describe('branch, tag or commit to check out; absent: the default branch'),
      })
      .describe('a git URL cloned through the egress policy'),
  ])
  .default({ type: 'empty' });

export const createSessionSchema = z
  .object({
    prompt: z.string().min(1).max(200_000).describe('the task'),
    workspace: workspaceSchema,
    env: z.string().min(1).max(40).optional().describe('config tier; default the server tier'),
    role: z.string().min(1).max(100).default('default'),
    mode: z
      .enum(PERMISSION_MODES)
      .optional()
      .describe("permission mode; absent: the tier's policy mode"),
    allowedTools: toolList.optional(),
    disallowedTools: toolList.optional(),
    maxTurns: z.number().int().min(1).max(500).optional(),
    maxBudgetUsd: z.number().positive().max(10_000).optional(),
    metadata: z.record(z.unknown()).default({}),
  })
  .strict();
export type CreateSessionBody = z.infer<typeof createSessionSchema>;

export const messageSchema = z.object({ prompt: z.string().min(1).max(200_000) }).strict();

export const approvalSchema = z
  .object({
    behavior: z.enum(['allow', 'deny']),
    updatedInput: z.record(z.unknown()).optional(),
    message: z.string().max(2000).optional(),
  })
  .strict();

export const listQuerySchema = z.object({
  status: z
    .enum(['queued', 'running', 'waiting_approval', 'paused', 'succeeded', 'failed', 'cancelled'])
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(200).optional(),
});

export const eventsQuerySchema = z.object({
  format: z.enum(['sse', 'json']).default('sse'),
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
});

export const createKeySchema = z.object({ role: z.enum(['admin', 'submit', 'read']) }).strict();

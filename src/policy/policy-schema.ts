// The security policy model (network, filesystem, limits, tools, secrets) as zod schemas.
// Every field documents what "absent" and "empty" mean; security rules are refinements.
import { LIMIT_DEFAULTS } from './limit-defaults.js';
import { z } from 'zod';
import { parseHostPattern } from './host.js';

const hostEntry = z.string().superRefine((value, ctx) => {
  const parsed = parseHostPattern(value);
  if (typeof parsed === 'string') ctx.addIssue({ code: z.ZodIssueCode.custom, message: parsed });
});

const absolutePath = z
  .string()
  .refine(
    (p) => p.startsWith('/') && !p.split('/').includes('..'),
    'must be an absolute path without ".."',
  );

export const hostRuleSchema = z
  .object({
    methods: z
      .array(z.string().regex(/^[A-Z]+$/, 'methods are upper-case HTTP verbs'))
      .min(1)
      .optional()
      .describe('Allowed HTTP methods. Absent: any method. Empty is rejected.'),
    paths: z
      .array(z.string().startsWith('/'))
      .min(1)
      .optional()
      .describe('Allowed path prefixes. Absent: any path. Empty is rejected.'),
  })
  .strict();

export const networkPolicySchema = z
  .object({
    allow: z
      .array(hostEntry)
      .default([])
      .describe(
        'Hosts the sandbox may reach through the egress proxy, `host[:port]` or `*.host[:port]`. Absent or empty: no egress at all.',
      ),
    deny: z
      .array(hostEntry)
      .default([])
      .describe(
        'Hosts always refused, checked before `allow`. Absent or empty: nothing extra denied.',
      ),
    blockedPorts: z
      .array(z.number().int().min(1).max(65535))
      .default([25, 465, 587])
      .describe('Ports refused whatever `allow` says. Absent: SMTP ports. Empty: none blocked.'),
    resolve: z
      .record(hostEntry, z.string().ip())
      .default({})
      .describe(
        'Static name map like curl --resolve; mapped names still pass the SSRF guard. Absent or empty: DNS only.',
      ),
    rules: z
      .record(hostEntry, hostRuleSchema)
      .default({})
      .describe('Per-host method/path rules. Absent or empty: no extra rule beyond `allow`.'),
  })
  .strict();

export const filesystemPolicySchema = z
  .object({
    readOnly: z
      .array(absolutePath)
      .default([])
      .describe(
        'Extra host paths visible read-only at the same path. Absent or empty: system image only.',
      ),
    writable: z
      .array(absolutePath)
      .default([])
      .describe(
        'Extra host paths visible read-write. Absent or empty: only /workspace and /tmp are writable.',
      ),
    deny: z
      .array(z.string())
      .default([])
      .describe(
        'Paths (workspace-relative globs or absolute) hidden from the sandbox and file tools. Absent or empty: none.',
      ),
  })
  .strict();

export const limitsSchema = z
  .object({
    sessionTimeoutSec: z
      .number()
      .positive()
      .default(LIMIT_DEFAULTS.sessionTimeoutSec)
      .describe('Session wall clock. Absent: 1 hour.'),
    execTimeoutSec: z
      .number()
      .positive()
      .default(LIMIT_DEFAULTS.execTimeoutSec)
      .describe('Per-exec timeout. Absent: 120 s.'),
    memoryMb: z
      .number()
      .int()
      .min(16)
      .default(LIMIT_DEFAULTS.memoryMb)
      .describe('Memory cap of the whole sandbox. Absent: 1024 MiB.'),
    cpus: z
      .number()
      .positive()
      .max(256)
      .default(LIMIT_DEFAULTS.cpus)
      .describe('CPU share (cores). Absent: 1.'),
    pids: z
      .number()
      .int()
      .min(8)
      .default(LIMIT_DEFAULTS.pids)
      .describe('Max processes and threads. Absent: 256.'),
    diskMb: z
      .number()
      .int()
      .min(1)
      .default(LIMIT_DEFAULTS.diskMb)
      .describe('Workspace + tmp disk cap. Absent: 1024 MiB.'),
    outputBytes: z
      .number()
      .int()
      .min(1024)
      .default(LIMIT_DEFAULTS.outputBytes)
      .describe('Output kept per exec stream (head + tail). Absent: 1 MiB.'),
  })
  .strict();

export const permissionModeSchema = z.enum([
  'default',
  'acceptEdits',
  'plan',
  'dontAsk',
  'bypassPermissions',
]);

const toolRule = z
  .string()
  .min(1)
  .refine((r) => r !== '*' && !/^\*/.test(r), 'wildcard grants like "*" are not allowed');

const stdioMcpServerSchema = z
  .object({
    command: z
      .array(z.string().min(1))
      .min(1)
      .describe('argv of the server, run inside the sandbox (e.g. ["node", "mcp/server.js"]).'),
    env: z
      .record(z.string())
      .default({})
      .describe('Extra env for the server process. Absent or empty: none.'),
    cwd: z.string().optional().describe('Working directory inside /workspace. Absent: /workspace.'),
  })
  .strict();

const remoteMcpServerSchema = z
  .object({
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
      .describe(
        'Streamable-HTTP MCP endpoint. Reached from INSIDE the sandbox through the session egress proxy, so network.allow must list its host.',
      ),
    headers: z
      .record(z.string())
      .default({})
      .describe(
        'Extra request headers (no secrets: bind credentials with `secrets`). Absent: none.',
      ),
  })
  .strict();

/** A stdio server started inside the sandbox, or a remote one reached through the egress proxy. */
export const mcpServerSchema = z.union([stdioMcpServerSchema, remoteMcpServerSchema]);

export const HOOK_EVENTS = [
  'PreToolUse',
  'PostToolUse',
  'Stop',
  'SessionStart',
  'SessionEnd',
] as const;

export const commandHookSchema = z
  .object({
    event: z.enum(HOOK_EVENTS).describe('When the hook runs.'),
    matcher: z
      .string()
      .optional()
      .describe('PreToolUse/PostToolUse: tool name or regular expression. Absent: every tool.'),
    command: z
      .string()
      .min(1)
      .describe(
        'bash command run in the sandbox; stdin is the event JSON, stdout may be a JSON decision {decision, reason, updatedInput}. Exit 2 denies.',
      ),
    timeoutSec: z.number().positive().max(600).default(30).describe('Absent: 30 s, then deny.'),
  })
  .strict();

export const roleSchema = z
  .object({
    tools: z
      .array(toolRule)
      .min(1)
      .describe(
        'Tool rules the role may use (`Read`, `Bash(npm test:*)`, `mcp__docs__*`); any other call is denied. Empty is rejected.',
      ),
    mode: permissionModeSchema
      .optional()
      .describe("The role's permission mode. Absent: the session's mode (tools.mode or --mode)."),
  })
  .strict();

export const toolsPolicySchema = z
  .object({
    mode: permissionModeSchema
      .default('default')
      .describe('Permission mode. Absent: default (ask).'),
    allow: z
      .array(toolRule)
      .default([])
      .describe('Pre-approved tool rules. Absent or empty: none pre-approved.'),
    ask: z
      .array(toolRule)
      .default([])
      .describe('Rules that always need approval. Absent or empty: none.'),
    deny: z
      .array(toolRule)
      .default([])
      .describe('Rules always denied, in every mode. Absent or empty: none.'),
    mock: z
      .boolean()
      .default(false)
      .describe('Answer tool calls from a fixtures file instead of running them.'),
    mcp: z
      .record(
        z.string().regex(/^[A-Za-z0-9_-]+$/, 'MCP server names are [A-Za-z0-9_-]'),
        mcpServerSchema,
      )
      .optional()
      .describe(
        'MCP servers: stdio ones started INSIDE the sandbox, remote (url) ones reached through the session egress proxy; their tools appear as mcp__NAME__TOOL. Absent or empty: none.',
      ),
    hooks: z
      .array(commandHookSchema)
      .optional()
      .describe(
        'Command hooks run INSIDE the sandbox with the event as JSON on stdin. Absent or empty: none.',
      ),
    roles: z
      .record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'role names are [A-Za-z0-9_-]'), roleSchema)
      .optional()
      .describe(
        'Named roles for --role, beside the built-in reviewer, developer and tester (a role defined here replaces a built-in of the same name). Absent or empty: built-ins only.',
      ),
  })
  .strict();

export const secretBindingSchema = z
  .object({
    from: z.enum(['env', 'file']).describe('Where the secret value is read from.'),
    key: z.string().min(1).describe('Env var name (from: env) or file path (from: file).'),
    hosts: z
      .array(hostEntry)
      .min(1)
      .describe('Hosts the proxy injects it toward. Empty is rejected.'),
    header: z
      .string()
      .default('Authorization')
      .describe('Header the proxy sets. Absent: Authorization.'),
    format: z
      .string()
      .includes('{value}')
      .default('Bearer {value}')
      .describe('Header value template.'),
  })
  .strict();

export const policySchema = z
  .object({
    network: networkPolicySchema.default({}),
    filesystem: filesystemPolicySchema.default({}),
    limits: limitsSchema.default({}),
    tools: toolsPolicySchema.default({}),
    secrets: z
      .record(
        z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'secret names are UPPER_SNAKE'),
        secretBindingSchema,
      )
      .default({})
      .describe('Credentials injected outside the sandbox. Absent or empty: none.'),
  })
  .strict();

export type Policy = z.infer<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;
export type NetworkPolicy = z.infer<typeof networkPolicySchema>;
export type FilesystemPolicy = z.infer<typeof filesystemPolicySchema>;
export type Limits = z.infer<typeof limitsSchema>;
export type ToolsPolicy = z.infer<typeof toolsPolicySchema>;
export type SecretBinding = z.infer<typeof secretBindingSchema>;
export type PermissionMode = z.infer<typeof permissionModeSchema>;
export type McpServerConfig = z.infer<typeof mcpServerSchema>;
export type CommandHook = z.infer<typeof commandHookSchema>;
export type RoleConfig = z.infer<typeof roleSchema>;

/** The policy with every default applied: no egress, default limits, ask for tools. */
export function defaultPolicy(): Policy {
  return policySchema.parse({});
}

// Public types of the permission engine: tool calls, decisions, hooks, approvals and events.
// Shapes follow the Claude Agent SDK (canUseTool results, PreToolUse hook decisions).
import type { PermissionMode } from '../../policy/policy-schema.js';

export type { PermissionMode } from '../../policy/policy-schema.js';

export type ToolInput = Record<string, unknown>;

export interface ToolCall {
  readonly tool: string;
  readonly input: ToolInput;
  readonly toolUseId: string;
}

export interface DecideContext {
  readonly signal?: AbortSignal;
  /** No human can answer: every "ask" becomes a deny. */
  readonly unattended?: boolean;
  /** Current working directory of the session's shell; default the workspace root. */
  readonly cwd?: string;
}

/** Which step of the evaluation made the decision. */
export type DecidedBy =
  | 'hook'
  | 'deny-rule'
  | 'ask-rule'
  | 'mode'
  | 'allow-rule'
  | 'approval'
  | 'unknown-tool'
  | 'role'
  | 'unattended'
  | 'error';

export interface PermissionDecision {
  readonly behavior: 'allow' | 'deny';
  /** The input the tool must run with (hooks and approvers may rewrite it). */
  readonly updatedInput: ToolInput;
  readonly decidedBy: DecidedBy;
  /** The rule text that decided, when a rule did. */
  readonly rule?: string;
  /** Human-readable reason; shown to the model on deny. */
  readonly message: string;
  /** Set when an approval was requested. */
  readonly requestId?: string;
}

export interface HookResult {
  decision?: 'allow' | 'deny' | 'ask';
  reason?: string;
  updatedInput?: ToolInput;
}

/** A PreToolUse callback; returning nothing passes the call on unchanged. */
export type PreToolUseHook = (
  call: ToolCall,
  ctx: { signal: AbortSignal },
) => Promise<HookResult | undefined | void>;

export interface PreToolUseHookEntry {
  /** Tool-name filter: exact name or RegExp; absent = every tool. */
  matcher?: string | RegExp;
  hook: PreToolUseHook;
}

export interface ApprovalRequest {
  readonly requestId: string;
  readonly tool: string;
  readonly input: ToolInput;
  readonly toolUseId: string;
  /** Why approval is needed (ask rule, unparseable command, no allow rule...). */
  readonly reason: string;
  readonly rule?: string;
}

export type ApprovalResponse =
  { behavior: 'allow'; updatedInput?: ToolInput } | { behavior: 'deny'; message?: string };

export type ApprovalCallback = (
  request: ApprovalRequest,
  ctx: { signal: AbortSignal },
) => Promise<ApprovalResponse>;

export type PermissionEvent =
  | {
      readonly type: 'approval_requested';
      readonly requestId: string;
      readonly tool: string;
      readonly input: ToolInput;
      readonly toolUseId: string;
      readonly reason: string;
    }
  | {
      readonly type: 'approval_resolved';
      readonly requestId: string;
      readonly behavior: 'allow' | 'deny';
      readonly outcome: 'answered' | 'timeout' | 'aborted' | 'error';
    };

/** A named set of tools (rules) a session may use, optionally with its own mode. */
export interface Role {
  readonly name?: string;
  /** Rules like `Read`, `Bash(npm test:*)`, `mcp__docs`; a call outside all of them is denied. */
  readonly tools: readonly string[];
  readonly mode?: PermissionMode;
}

export interface PermissionLogger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

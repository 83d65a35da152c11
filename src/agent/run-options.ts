// Options of one agent session (runAgent) and the handle it returns.
import type { AuditLog } from '../audit/audit-log.js';
import type { ModelGateway } from '../models/model-gateway.js';
import type { Policy, PermissionMode } from '../policy/policy-schema.js';
import type { Sandbox } from '../sandbox/driver.js';
import type { RedactionSecret } from '../secrets/redactor.js';
import type { SessionStore } from '../sessions/session-store.js';
import type { AgentEvent, AgentUsage } from './agent-events.js';
import type Anthropic from '@anthropic-ai/sdk';
import type { AgentHooks } from './hooks/agent-hooks.js';
import type {
  ApprovalCallback,
  ApprovalResponse,
  PermissionLogger,
  Role,
} from './permissions/index.js';
import type { MockFixtures } from './tools/mock-fixtures.js';

/** Default bound on model turns of a session. */
export const DEFAULT_MAX_TURNS = 50;
export const DEFAULT_MAX_TOKENS = 8192;

export interface RunAgentOptions {
  prompt: string;
  /** The session's sandbox (caller-owned: created before, destroyed after). */
  sandbox: Sandbox;
  gateway: ModelGateway;
  /** Model name for the request and the init event (the gateway's route decides the real one). */
  model: string;
  /** The resolved policy: tools (mode, rules, mock, mcp, hooks) and limits. */
  policy: Policy;
  sessionId?: string;
  tenantId?: string;
  /** Overrides policy.tools.mode. */
  mode?: PermissionMode;
  role?: Role;
  /** Absent: 50. */
  maxTurns?: number;
  /** Absent: no budget. */
  maxBudgetUsd?: number;
  /** Absent: policy.limits.sessionTimeoutSec. */
  sessionTimeoutMs?: number;
  /** Per-exec timeout of tools. Absent: policy.limits.execTimeoutSec. */
  execTimeoutMs?: number;
  signal?: AbortSignal;
  /** No human can answer: approvals are denied at once. Default false. */
  unattended?: boolean;
  /** Answers approval requests; absent: wait for `respond()` until the approval timeout. */
  canUseTool?: ApprovalCallback;
  /** Default 5 minutes. */
  approvalTimeoutMs?: number;
  hooks?: AgentHooks;
  /** Audit log; every tool call is refused when it cannot be written. Absent: no audit. */
  audit?: AuditLog;
  /** Transcript store; absent: events are only yielded. */
  store?: SessionStore;
  /** Tier name and role recorded with the session row. */
  tier?: string;
  /** Values redacted from everything the model, transcript and audit see. */
  secrets?: readonly RedactionSecret[];
  /** Answer tools from fixtures; absent: policy.tools.mock decides (with the default fixtures). */
  mock?: MockFixtures | boolean;
  /** Driver isolates (bubblewrap does); bypassPermissions is refused otherwise. Default true. */
  sandboxIsolates?: boolean;
  systemPrompt?: string;
  maxTokens?: number;
  /** Chars of one tool result sent to the model. Default 30 000. */
  maxOutputChars?: number;
  logger?: PermissionLogger;
  /**
   * The conversation so far (resume or continuation), oldest first, as sent to the model. The
   * loop starts from it: completed tool calls are not run again (their results are in it).
   * `prompt` is appended as a new user message only when the history ends with an assistant
   * message. Absent or empty: the conversation is `[prompt]`.
   */
  history?: Anthropic.MessageParam[];
  /** Turns already completed in `history`: numbering continues after them. Default 0. */
  turnOffset?: number;
  /**
   * Awaited after each completed turn (its events persisted; for a tool turn after its tool
   * results are in): `turn` counts from turnOffset + 1, usage and cost are this run's totals.
   * A throw stops the session (error_during_execution).
   */
  onTurnComplete?: (turn: number, usage: AgentUsage, costUsd: number) => Promise<void> | void;
  /** The caller owns the session row: no store.create / updateStatus (events still appended). */
  callerOwnsSession?: boolean;
  /**
   * Lease epoch presented with every transcript append (`{ epoch }`). When set, a refused append
   * (stale epoch: the lease moved) aborts the session instead of running on unrecorded.
   */
  storeEpoch?: number;
}

/** The running session: iterate it for events; answer approvals with `respond`. */
export interface AgentRun extends AsyncGenerator<AgentEvent, void, undefined> {
  readonly sessionId: string;
  /** Answers a pending approval request; false when no such request is waiting. */
  respond(requestId: string, response: ApprovalResponse): boolean;
  /** Stops the session (result `error_during_execution`, stop reason "aborted"). */
  abort(): void;
}

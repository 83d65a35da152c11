// The permission engine (layer 3): decides every tool call from hooks, deny/ask/allow rules,
// the permission mode, the role and an approval callback, with the Claude Agent SDK's semantics.
import { PolicyError } from '../../errors.js';
import type { PermissionMode, ToolsPolicy } from '../../policy/policy-schema.js';
import { ApprovalGate, DEFAULT_APPROVAL_TIMEOUT_MS } from './approval-gate.js';
import { buildSubject, type CallSubject } from './call-subject.js';
import { modeApproves } from './mode-approval.js';
import { parseRule, type ParsedRule } from './rule.js';
import { ruleMatches } from './rule-match.js';
import { ToolCatalog, type McpToolInfo, type ToolDescriptor } from './tool-catalog.js';
import { runHooks } from './hook-chain.js';
import type {
  ApprovalCallback,
  DecideContext,
  DecidedBy,
  PermissionDecision,
  PermissionEvent,
  PermissionLogger,
  PreToolUseHook,
  PreToolUseHookEntry,
  Role,
  ToolCall,
  ToolInput,
} from './types.js';

/** Default limit for one PreToolUse hook: 60 s, then the call is denied. */
export const DEFAULT_HOOK_TIMEOUT_MS = 60_000;

export interface PermissionEngineOptions {
  /** `{ mode, allow, ask, deny }` from the policy; absent lists are empty, absent mode is default. */
  policy: Partial<Pick<ToolsPolicy, 'mode' | 'allow' | 'ask' | 'deny'>>;
  /** Restricts the tools available; its `mode`, when set, replaces the policy's mode. */
  role?: Role;
  /** True only when the sandbox driver really isolates; bypassPermissions is refused otherwise. */
  sandboxIsolates: boolean;
  hooks?: readonly (PreToolUseHook | PreToolUseHookEntry)[];
  /** Asked when no rule or mode decides; absent = nobody can approve (asks become denials). */
  onApproval?: ApprovalCallback;
  /** Unanswered approvals are denied after this long. Default 5 minutes. */
  approvalTimeoutMs?: number;
  /** A hook that has not answered after this long denies the call. Default 60 s. */
  hookTimeoutMs?: number;
  /** Known tools; default the built-ins. */
  tools?: readonly ToolDescriptor[];
  mcpTools?: readonly McpToolInfo[];
  /** Workspace root inside the sandbox. Default `/workspace`. */
  workspaceRoot?: string;
  /** Home directory inside the sandbox, for `~/` rules. Default `/root`. */
  homeDir?: string;
  /** Read/Glob/Grep inside the workspace need no approval (SDK behaviour). Default true. */
  autoApproveWorkspaceReads?: boolean;
  onEvent?: (event: PermissionEvent) => void;
  logger?: PermissionLogger;
  newRequestId?: () => string;
}

const SILENT: PermissionLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Evaluation order (the SDK's, https://code.claude.com/docs/en/agent-sdk/permissions):
 * 0. unknown tool → deny; 1. PreToolUse hooks (deny ends it, `updatedInput` replaces the input,
 *    `allow` and `ask` are remembered); role check on the final input → deny outside the role;
 * 2. deny rules → deny, in every mode, whatever a hook said (a hook `allow` never overrides);
 * 3. plan mode: a tool that is not read-only → deny (no rule, hook or approval runs it);
 * 4. ask rules, a hook `ask`, or a Bash line that cannot be parsed with confidence → approval,
 *    even in bypassPermissions (SDK: ask rules prompt in every mode); dontAsk/unattended → deny;
 *    in bypassPermissions an unparseable line asks only when Bash-scoped deny rules exist
 *    (they cannot be proven not to match), since that mode grants everything but deny rules;
 * 5. mode: bypassPermissions approves; acceptEdits approves edits and mkdir/touch/mv/cp inside
 *    the workspace; reads inside the workspace need no approval (not in dontAsk);
 *    a hook `allow` approves here;
 * 6. allow rules (a Bash line needs every subcommand allowed and every redirection target
 *    allowed by an Edit/Write rule or the mode);
 * 7. approval callback (default/acceptEdits/plan/bypass) — dontAsk, unattended or no callback → deny.
 * Approved input changed by the approver is re-checked against steps 0–3.
 * Any exception → deny (`decidedBy: 'error'`).
 */
export class PermissionEngine {
  readonly #mode: PermissionMode;
  readonly #deny: ParsedRule[];
  readonly #ask: ParsedRule[];
  readonly #allow: ParsedRule[];
  readonly #role: { name: string; rules: ParsedRule[] } | undefined;
  readonly #catalog: ToolCatalog;
  readonly #hooks: PreToolUseHookEntry[];
  readonly #gate: ApprovalGate | undefined;
  readonly #hookTimeoutMs: number;
  readonly #pathCtx: { workspaceRoot: string; homeDir: string };
  readonly #readsAuto: boolean;
  readonly #listeners = new Set<(e: PermissionEvent) => void>();
  readonly #log: PermissionLogger;
  readonly #bashDenyScoped: boolean;

  constructor(options: PermissionEngineOptions) {
    this.#log = options.logger ?? SILENT;
    this.#mode = options.role?.mode ?? options.policy.mode ?? 'default';
    if (this.#mode === 'bypassPermissions' && !options.sandboxIsolates) {
      throw new PolicyError('bypassPermissions is only allowed when the sandbox driver isolates', {
        details: { mode: this.#mode },
      });
    }
    this.#deny = (options.policy.deny ?? []).map(parseRule);
    this.#ask = (options.policy.ask ?? []).map(parseRule);
    this.#allow = (options.policy.allow ?? []).map(parseRule);
    this.#bashDenyScoped = this.#deny.some((r) => r.kind === 'bash' || r.kind === 'path');
    if (options.role) {
      this.#role = { name: options.role.name ?? 'role', rules: options.role.tools.map(parseRule) };
    }
    this.#catalog = new ToolCatalog(options.tools, options.mcpTools);
    this.#hooks = (options.hooks ?? []).map((h) => (typeof h === 'function' ? { hook: h } : h));
    this.#hookTimeoutMs = options.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
    this.#pathCtx = {
      workspaceRoot: options.workspaceRoot ?? '/workspace',
      homeDir: options.homeDir ?? '/root',
    };
    this.#readsAuto = options.autoApproveWorkspaceReads ?? true;
    if (options.onEvent) this.#listeners.add(options.onEvent);
    if (options.onApproval) {
      this.#gate = new ApprovalGate({
        callback: options.onApproval,
        timeoutMs: options.approvalTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS,
        emit: (e) => this.#emit(e),
        ...(options.newRequestId ? { newRequestId: options.newRequestId } : {}),
      });
    }
  }

  /** The effective mode (the role's when it sets one). */
  get mode(): PermissionMode {
    return this.#mode;
  }

  /** The known tools; `engine.tools.add(...)` registers one discovered later (an MCP server). */
  get tools(): ToolCatalog {
    return this.#catalog;
  }

  /** Subscribes to approval events; returns the unsubscribe function. */
  subscribe(listener: (event: PermissionEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * True when a deny rule covers reading `path` (absolute) with `tool`: Glob/Grep and directory
   * listings use it to drop denied files from their results.
   */
  isPathDenied(tool: 'Read' | 'Glob' | 'Grep' | 'Edit' | 'Write', path: string): boolean {
    const desc = this.#catalog.get(tool);
    if (!desc) return true;
    const subject: CallSubject = { tool: desc, input: {}, paths: [path] };
    return this.#deny.some((r) => ruleMatches(r, subject, this.#pathCtx, true));
  }

  /** Decides one tool call. Never throws: any failure is a deny. */
  async decide(call: ToolCall, ctx: DecideContext = {}): Promise<PermissionDecision> {
    try {
      return await this.#decide(call, ctx);
    } catch (error) {
      this.#log.error({ err: error, tool: call.tool }, 'permission evaluation failed');
      return deny(call.input, 'error', 'permission evaluation failed');
    }
  }

  async #decide(call: ToolCall, ctx: DecideContext): Promise<PermissionDecision> {
    const tool = this.#catalog.get(call.tool);
    if (!tool) return deny(call.input, 'unknown-tool', `unknown tool: ${call.tool}`);
    const cwd = ctx.cwd ?? this.#pathCtx.workspaceRoot;

    const hooks = await runHooks(this.#hooks, call, ctx.signal, this.#hookTimeoutMs, this.#log);
    const input = hooks.input;
    if (hooks.verdict === 'deny') return deny(input, 'hook', hooks.reason ?? 'denied by hook');

    const subject = buildSubject(tool, input, { ...this.#pathCtx, cwd });
    const hard = this.#hardDeny(subject);
    if (hard) return hard;

    const askRule = this.#ask.find((r) => ruleMatches(r, subject, this.#pathCtx, true));
    const issues = subject.shell?.issues ?? [];
    const unparsedAsks =
      issues.length > 0 && (this.#mode !== 'bypassPermissions' || this.#bashDenyScoped);
    if (askRule || hooks.verdict === 'ask' || unparsedAsks) {
      const reason = askRule
        ? `ask rule ${askRule.source}`
        : hooks.verdict === 'ask'
          ? (hooks.reason ?? 'a hook asked for approval')
          : `command needs approval: ${issues.join('; ')}`;
      return this.#approve(call, tool, input, cwd, ctx, reason, askRule?.source);
    }

    const byMode =
      this.#mode === 'bypassPermissions'
        ? 'bypassPermissions'
        : modeApproves(this.#mode, subject, this.#pathCtx, this.#readsAuto);
    if (byMode) return allow(input, 'mode', `approved by mode (${byMode})`);
    if (hooks.verdict === 'allow') return allow(input, 'hook', hooks.reason ?? 'approved by hook');

    const allowRule = this.#allowedBy(subject);
    if (allowRule) return allow(input, 'allow-rule', `allowed by ${allowRule}`, allowRule);

    return this.#approve(call, tool, input, cwd, ctx, 'no rule pre-approves this call');
  }

  /** Steps that nothing can override: role, deny rules, plan mode. */
  #hardDeny(subject: CallSubject): PermissionDecision | undefined {
    const input = subject.input;
    if (
      this.#role &&
      !this.#role.rules.some((r) => ruleMatches(r, subject, this.#pathCtx, false))
    ) {
      return deny(
        input,
        'role',
        `${subject.tool.name} is not available to role ${this.#role.name}`,
      );
    }
    const denyRule = this.#deny.find((r) => ruleMatches(r, subject, this.#pathCtx, true));
    if (denyRule) {
      return deny(input, 'deny-rule', `denied by rule ${denyRule.source}`, denyRule.source);
    }
    if (this.#mode === 'plan' && !subject.tool.readOnly) {
      return deny(
        input,
        'mode',
        `plan mode allows read-only tools only; ${subject.tool.name} is not`,
      );
    }
    return undefined;
  }

  /** Allow rule covering the whole call, including every redirection a Bash line writes. */
  #allowedBy(subject: CallSubject): string | undefined {
    const rule = this.#allow.find((r) => ruleMatches(r, subject, this.#pathCtx, false));
    if (!rule) return undefined;
    const sh = subject.shell;
    if (!sh || rule.kind === 'tool' || sh.writes.length === 0) return rule.source;
    const edit = this.#catalog.get('Edit') ?? { name: 'Edit', kind: 'edit', readOnly: false };
    for (const path of sh.writes) {
      const w: CallSubject = { tool: edit, input: {}, paths: [path] };
      const ok =
        modeApproves(this.#mode, w, this.#pathCtx, false) !== undefined ||
        this.#allow.some((r) => ruleMatches(r, w, this.#pathCtx, false));
      if (!ok) return undefined;
    }
    return rule.source;
  }

  async #approve(
    call: ToolCall,
    tool: ToolDescriptor,
    input: ToolInput,
    cwd: string,
    ctx: DecideContext,
    reason: string,
    rule?: string,
  ): Promise<PermissionDecision> {
    const r = rule === undefined ? {} : { rule };
    // An ask rule that cannot be asked is reported as the ask rule's decision.
    if (this.#mode === 'dontAsk') {
      const by = rule === undefined ? 'mode' : 'ask-rule';
      return { ...deny(input, by, `dontAsk mode never asks: ${reason}`), ...r };
    }
    if (ctx.unattended || !this.#gate) {
      const by = rule === undefined ? 'unattended' : 'ask-rule';
      return { ...deny(input, by, `no one can approve (unattended): ${reason}`), ...r };
    }
    const asked = { tool: call.tool, input, toolUseId: call.toolUseId };
    const res = await this.#gate.request(asked, reason, rule, ctx.signal);
    const requestId = res.requestId;
    if (res.outcome !== 'answered') {
      const msg =
        res.outcome === 'timeout'
          ? 'approval timed out'
          : res.outcome === 'aborted'
            ? 'approval aborted'
            : 'approval callback failed';
      if (res.outcome === 'error') this.#log.warn({ err: res.error, requestId }, msg);
      return { ...deny(input, 'approval', msg), requestId, ...r };
    }
    const answer = res.response;
    if (answer.behavior === 'deny') {
      return {
        ...deny(input, 'approval', answer.message ?? 'denied by approver'),
        requestId,
        ...r,
      };
    }
    const finalInput = answer.updatedInput ?? input;
    if (answer.updatedInput) {
      const again = this.#hardDeny(buildSubject(tool, finalInput, { ...this.#pathCtx, cwd }));
      if (again) return { ...again, requestId };
    }
    return { ...allow(finalInput, 'approval', 'approved'), requestId, ...r };
  }

  #emit(event: PermissionEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (error) {
        this.#log.warn({ err: error }, 'permission event listener failed');
      }
    }
  }
}

function deny(input: ToolInput, by: DecidedBy, message: string, rule?: string): PermissionDecision {
  return {
    behavior: 'deny',
    updatedInput: input,
    decidedBy: by,
    message,
    ...(rule ? { rule } : {}),
  };
}

function allow(
  input: ToolInput,
  by: DecidedBy,
  message: string,
  rule?: string,
): PermissionDecision {
  return {
    behavior: 'allow',
    updatedInput: input,
    decidedBy: by,
    message,
    ...(rule ? { rule } : {}),
  };
}

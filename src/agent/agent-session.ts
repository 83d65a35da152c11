// One agent session: the explicit bounded loop model → tools → model, with stop conditions for
// max turns, deadline, budget, abort and end of turn; events persisted, audited and redacted.
import type Anthropic from '@anthropic-ai/sdk';
import { randomUUID } from 'node:crypto';
import { hashInput } from '../audit/canonical-json.js';
import { ModelError } from '../models/model-errors.js';
import type { MessageParams } from '../models/providers/model-provider.js';
import { Redactor } from '../secrets/redactor.js';
import type { SessionStatus } from '../sessions/session-store.js';
import type { AgentEvent, AgentUsage, ResultEvent, ResultSubtype } from './agent-events.js';
import { ApprovalBroker } from './approval-broker.js';
import { EventChannel } from './event-channel.js';
import { commandHooks } from './hooks/command-hooks.js';
import { mergeHooks, type AgentHooks } from './hooks/agent-hooks.js';
import { connectMcpServers, type McpConnection } from './mcp/mcp-servers.js';
import {
  PermissionEngine,
  type ApprovalResponse,
  type PermissionLogger,
} from './permissions/index.js';
import { redactDeep } from './redact-deep.js';
import { DEFAULT_MAX_TOKENS, DEFAULT_MAX_TURNS, type RunAgentOptions } from './run-options.js';
import { ToolExecutor } from './tool-executor.js';
import { initialMessages } from './initial-messages.js';
import type { AgentTool } from './tools/agent-tool.js';
import { createBuiltinTools } from './tools/builtin-tools.js';
import { MockFixtures } from './tools/mock-fixtures.js';
import { MAX_TOOL_OUTPUT_CHARS } from './tools/truncate-output.js';

const SILENT: PermissionLogger = { debug() {}, info() {}, warn() {}, error() {} };

const DEFAULT_SYSTEM_PROMPT = [
  'You are an autonomous coding agent working on the project in /workspace.',
  'Use the tools to complete the task; paths are relative to /workspace.',
  'Every tool runs inside an isolated sandbox. The network is reachable only through an egress proxy to hosts the policy allows.',
  'Some tool calls may be denied by policy; do not try to work around a denial.',
].join(' ');

interface Stop {
  subtype: ResultSubtype;
  reason: string;
  result: string;
}

export class AgentSession {
  readonly sessionId: string;
  readonly #o: RunAgentOptions;
  readonly #channel = new EventChannel<AgentEvent>();
  readonly #broker = new ApprovalBroker();
  readonly #ctl = new AbortController();
  readonly #redactor: Redactor;
  readonly #log: PermissionLogger;
  #chain: Promise<void> = Promise.resolve();
  #hooks: Required<AgentHooks> = mergeHooks();
  #finished = false;
  #persistFailed = false;

  constructor(options: RunAgentOptions) {
    this.#o = options;
    this.sessionId = options.sessionId ?? randomUUID();
    this.#redactor = new Redactor(options.secrets ?? []);
    this.#log = options.logger ?? SILENT;
  }

  respond(requestId: string, response: ApprovalResponse): boolean {
    return this.#broker.respond(requestId, response);
  }

  abort(): void {
    if (!this.#ctl.signal.aborted) this.#ctl.abort('aborted');
  }

  async *events(): AsyncGenerator<AgentEvent, void, undefined> {
    const done = this.#run();
    try {
      for await (const e of this.#channel) yield e;
    } finally {
      if (!this.#finished) this.abort();
      await done;
    }
  }

  /** Persists (redacted) then hands the event to the consumer, in order. */
  #emit(event: AgentEvent): Promise<void> {
    // Tool outcomes feed the gateway's per-route metrics (the canary's tool-error rate).
    if (event.type === 'tool_result')
      this.#o.gateway.recordToolOutcome?.(this.sessionId, event.is_error);
    const clean = redactDeep(event, this.#redactor);
    if (clean.type === 'text_delta') {
      this.#channel.push(clean);
      return this.#chain;
    }
    this.#chain = this.#chain.then(async () => {
      const store = this.#o.store;
      if (store && !this.#persistFailed) {
        try {
          await store.appendEvent(
            this.sessionId,
            { type: clean.type, data: clean },
            this.#o.storeEpoch === undefined ? {} : { epoch: this.#o.storeEpoch },
          );
        } catch (err) {
          this.#persistFailed = true;
          // A fenced append refused: the lease moved to another worker; stop acting at once.
          if (this.#o.storeEpoch !== undefined) this.abort();
          this.#log.error({ err }, 'transcript append failed; further events are not stored');
        }
      }
      this.#channel.push(clean);
    });
    return this.#chain;
  }

  /**
   * These records gate no action, so they skip their own fsync ({ sync: false }): written at
   * once (they survive a process crash) and power-loss durable with the next tool intent or the
   * sealing checkpoint of finishSession, whichever comes first.
   */
  async #auditQuiet(
    type: 'session.start' | 'model.call' | 'approval' | 'hook',
    data: Record<string, string | number | boolean | null>,
  ): Promise<void> {
    try {
      await this.#o.audit?.append(this.sessionId, type, data, { sync: false });
    } catch (err) {
      this.#log.error({ err, type }, 'audit append failed');
    }
  }

  async #setStatus(
    status: SessionStatus,
    change?: Parameters<NonNullable<RunAgentOptions['store']>['updateStatus']>[2],
  ): Promise<void> {
    if (this.#o.callerOwnsSession === true) return;
    try {
      await this.#o.store?.updateStatus(this.sessionId, status, change);
    } catch (err) {
      this.#log.error({ err, status }, 'session status update failed');
    }
  }

  async #run(): Promise<void> {
    const o = this.#o;
    const startedMs = performance.now();
    const usage: AgentUsage = {
      input_tokens: 0,
      output_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
    };
    let costUsd = 0;
    let turns = 0;
    let executor: ToolExecutor | undefined;
    let mcp: McpConnection[] = [];
    const onCallerAbort = (): void => this.abort();
    o.signal?.addEventListener('abort', onCallerAbort, { once: true });
    if (o.signal?.aborted) this.abort();
    const timeoutMs = o.sessionTimeoutMs ?? o.policy.limits.sessionTimeoutSec * 1000;
    const deadline = setTimeout(() => this.#ctl.abort('timeout'), timeoutMs);
    deadline.unref();
    const signal = this.#ctl.signal;
    let stop: Stop;
    try {
      const mode = o.mode ?? o.role?.mode ?? o.policy.tools.mode;
      if (o.store && o.callerOwnsSession !== true) {
        await o.store.create({
          id: this.sessionId,
          tenantId: o.tenantId ?? 'local',
          prompt: this.#redactor.redact(o.prompt),
          tier: o.tier ?? 'dev',
          role: o.role?.name ?? 'default',
          mode,
        });
        await this.#setStatus('running');
      }
      this.#hooks = mergeHooks(
        o.hooks ?? {},
        commandHooks(o.policy.tools.hooks ?? [], o.sandbox, this.sessionId),
      );
      const tools = new Map<string, AgentTool>(createBuiltinTools().map((t) => [t.name, t]));
      mcp = await connectMcpServers(o.policy.tools.mcp ?? {}, o.sandbox, {
        signal,
        logger: this.#log,
      });
      for (const conn of mcp) for (const t of conn.tools) tools.set(t.name, t);
      const engine = new PermissionEngine({
        policy: {
          mode,
          allow: o.policy.tools.allow,
          ask: o.policy.tools.ask,
          deny: o.policy.tools.deny,
        },
        ...(o.role === undefined ? {} : { role: { ...o.role, mode } }),
        sandboxIsolates: o.sandboxIsolates ?? true,
        hooks: this.#hooks.PreToolUse,
        ...(o.unattended === true ? {} : { onApproval: o.canUseTool ?? this.#broker.callback }),
        ...(o.approvalTimeoutMs === undefined ? {} : { approvalTimeoutMs: o.approvalTimeoutMs }),
        mcpTools: mcp.flatMap((c) => c.infos),
        workspaceRoot: '/workspace',
        homeDir: '/tmp',
        logger: this.#log,
        onEvent: (pe) => {
          if (pe.type === 'approval_requested') {
            void this.#emit({
              type: 'approval_request',
              session_id: this.sessionId,
              request_id: pe.requestId,
              tool: pe.tool,
              input: pe.input,
              tool_use_id: pe.toolUseId,
              reason: pe.reason,
            });
          } else {
            void this.#emit({
              type: 'approval_resolved',
              session_id: this.sessionId,
              request_id: pe.requestId,
              behavior: pe.behavior,
              outcome: pe.outcome,
            });
            void this.#auditQuiet('approval', {
              requestId: pe.requestId,
              behavior: pe.behavior,
              outcome: pe.outcome,
            });
          }
        },
      });
      const mockSetting = o.mock ?? o.policy.tools.mock;
      const mock =
        mockSetting === true
          ? MockFixtures.load()
          : mockSetting === false
            ? undefined
            : mockSetting;
      executor = new ToolExecutor({
        sessionId: this.sessionId,
        engine,
        tools,
        toolContext: {
          sandbox: o.sandbox,
          execTimeoutMs: o.execTimeoutMs ?? o.policy.limits.execTimeoutSec * 1000,
          isPathDenied: (tool, path) => engine.isPathDenied(tool, path),
        },
        audit: o.audit,
        redactor: this.#redactor,
        mock,
        postToolUse: this.#hooks.PostToolUse,
        unattended: o.unattended === true,
        emit: (e) => this.#emit(e),
        logger: this.#log,
        maxOutputChars: o.maxOutputChars ?? MAX_TOOL_OUTPUT_CHARS,
      });
      await this.#auditQuiet('session.start', {
        model: o.model,
        mode,
        promptHash: hashInput(o.prompt),
        tools: [...tools.keys()].join(','),
        mocked: mock !== undefined,
      });
      await this.#emit({
        type: 'system',
        subtype: 'init',
        session_id: this.sessionId,
        tools: [...tools.keys()],
        mcp_servers: mcp.map((c) => ({
          name: c.name,
          status: c.error === undefined ? ('connected' as const) : ('failed' as const),
          ...(c.error === undefined ? {} : { error: c.error }),
        })),
        model: o.model,
        permissionMode: mode,
        cwd: '/workspace',
      });
      for (const h of this.#hooks.SessionStart) await h({ sessionId: this.sessionId });
      stop = await this.#loop(
        tools,
        executor,
        usage,
        (c) => (costUsd += c),
        (n) => (turns = n),
      );
    } catch (err) {
      stop = this.#stopFromError(err);
    } finally {
      clearTimeout(deadline);
      o.signal?.removeEventListener('abort', onCallerAbort);
    }
    for (const h of this.#hooks.SessionEnd) {
      try {
        await h({ sessionId: this.sessionId, reason: stop.subtype });
      } catch (err) {
        this.#log.warn({ err }, 'SessionEnd hook failed');
      }
    }
    await Promise.allSettled(mcp.map((c) => c.close()));
    const result: ResultEvent = {
      type: 'result',
      subtype: stop.subtype,
      session_id: this.sessionId,
      is_error: stop.subtype !== 'success',
      result: stop.result,
      stop_reason: stop.reason,
      num_turns: turns,
      duration_ms: performance.now() - startedMs,
      usage,
      total_cost_usd: costUsd,
      permission_denials: executor?.denials ?? [],
    };
    try {
      await o.audit?.finishSession(this.sessionId, {
        subtype: stop.subtype,
        turns,
        costUsd,
        stopReason: this.#redactor.redact(stop.reason),
      });
    } catch (err) {
      this.#log.error({ err }, 'audit finishSession failed');
    }
    await this.#chain;
    const status: SessionStatus =
      stop.subtype === 'success' ? 'succeeded' : stop.reason === 'aborted' ? 'cancelled' : 'failed';
    await this.#setStatus(status, {
      result: redactDeep(
        { subtype: stop.subtype, result: stop.result, stop_reason: stop.reason },
        this.#redactor,
      ),
      usage: { inputTokens: usage.input_tokens, outputTokens: usage.output_tokens, costUsd },
    });
    await this.#emit(result);
    this.#finished = true;
    this.#channel.close();
  }

  #stopFromError(err: unknown): Stop {
    // stop: the session deadline fired (policy.limits.sessionTimeoutSec).
    if (this.#ctl.signal.aborted && this.#ctl.signal.reason === 'timeout') {
      return {
        subtype: 'error_timeout',
        reason: 'session deadline reached',
        result: 'session timed out',
      };
    }
    // stop: the caller aborted (signal or abort()).
    if (this.#ctl.signal.aborted)
      return { subtype: 'error_during_execution', reason: 'aborted', result: 'session aborted' };
    // stop: the gateway refused a call over the session's budget.
    if (err instanceof ModelError && err.kind === 'budget_exceeded') {
      return { subtype: 'error_max_budget_usd', reason: 'budget exhausted', result: err.message };
    }
    const message = this.#redactor.redact(err instanceof Error ? err.message : String(err));
    this.#log.error({ err }, 'agent session failed');
    // stop: anything else (model failure after retries, store or sandbox errors).
    return {
      subtype: 'error_during_execution',
      reason: `error: ${message.split('\n')[0] ?? ''}`,
      result: message,
    };
  }

  async #loop(
    tools: ReadonlyMap<string, AgentTool>,
    executor: ToolExecutor,
    usage: AgentUsage,
    addCost: (usd: number) => void,
    setTurns: (n: number) => void,
  ): Promise<Stop> {
    const o = this.#o;
    const signal = this.#ctl.signal;
    const maxTurns = o.maxTurns ?? DEFAULT_MAX_TURNS;
    const toolDefs: Anthropic.Tool[] = [...tools.values()].map((t) => ({
      name: t.name,
      description: t.description,
      input_schema: t.inputSchema as Anthropic.Tool.InputSchema,
    }));
    const messages: Anthropic.MessageParam[] = initialMessages(o.prompt, o.history);
    const turnOffset = o.turnOffset ?? 0;
    let spentUsd = 0;
    let stopHookActive = false;
    for (let turn = turnOffset + 1; ; turn += 1) {
      // stop: aborted or deadline passed between turns.
      if (signal.aborted) return this.#stopFromError(signal.reason);
      // stop: the turn bound is reached and the model still wants to act.
      if (turn - turnOffset > maxTurns)
        return {
          subtype: 'error_max_turns',
          reason: `max turns (${maxTurns}) reached`,
          result: `stopped after ${maxTurns} turns`,
        };
      // stop: the known spend reached the budget; no further model call.
      if (o.maxBudgetUsd !== undefined && spentUsd >= o.maxBudgetUsd) {
        return {
          subtype: 'error_max_budget_usd',
          reason: `budget $${o.maxBudgetUsd} spent ($${spentUsd.toFixed(4)})`,
          result: 'budget exhausted',
        };
      }
      const params: MessageParams = {
        model: o.model,
        max_tokens: o.maxTokens ?? DEFAULT_MAX_TOKENS,
        system: o.systemPrompt ?? DEFAULT_SYSTEM_PROMPT,
        tools: toolDefs,
        messages,
      };
      const res = await o.gateway.streamMessage(params, {
        sessionId: this.sessionId,
        tenantId: o.tenantId,
        signal,
        maxBudgetUsd: o.maxBudgetUsd,
        onEvent: (event) => void this.#emit({ type: 'gateway', session_id: this.sessionId, event }),
        onStreamEvent: (se) => {
          if (se.type === 'content_block_delta' && se.delta.type === 'text_delta') {
            void this.#emit({
              type: 'text_delta',
              session_id: this.sessionId,
              text: se.delta.text,
            });
          }
        },
      });
      setTurns(turn);
      const u = res.message.usage;
      usage.input_tokens += u.input_tokens;
      usage.output_tokens += u.output_tokens;
      usage.cache_read_input_tokens += u.cache_read_input_tokens ?? 0;
      usage.cache_creation_input_tokens += u.cache_creation_input_tokens ?? 0;
      spentUsd += res.costUsd ?? 0;
      addCost(res.costUsd ?? 0);
      await this.#auditQuiet('model.call', {
        route: res.route,
        model: res.message.model,
        inputTokens: u.input_tokens,
        outputTokens: u.output_tokens,
        costUsd: res.costUsd ?? null,
        attempts: res.attempts,
        stopReason: res.message.stop_reason ?? null,
      });
      await this.#emit({
        type: 'assistant',
        session_id: this.sessionId,
        message: res.message,
        route: res.route,
        cost_usd: res.costUsd,
      });
      messages.push({ role: 'assistant', content: res.message.content });
      const uses = res.message.content.filter(
        (b): b is Anthropic.ToolUseBlock => b.type === 'tool_use',
      );
      if (uses.length === 0 || res.message.stop_reason !== 'tool_use') {
        const text = res.message.content
          .filter((b): b is Anthropic.TextBlock => b.type === 'text')
          .map((b) => b.text)
          .join('\n');
        await o.onTurnComplete?.(turn, usage, spentUsd);
        const block = await this.#stopHooks(text, stopHookActive);
        if (block === undefined) {
          // stop: the model ended its turn and no Stop hook asked it to go on.
          return {
            subtype: 'success',
            reason: `model finished (${res.message.stop_reason ?? 'end_turn'})`,
            result: this.#redactor.redact(text),
          };
        }
        stopHookActive = true;
        messages.push({ role: 'user', content: block });
        continue;
      }
      const results: Anthropic.ToolResultBlockParam[] = [];
      for (const use of uses) {
        if (signal.aborted) return this.#stopFromError(signal.reason);
        results.push(await executor.execute(use, signal));
      }
      await this.#emit({
        type: 'user',
        session_id: this.sessionId,
        message: { role: 'user', content: results },
      });
      messages.push({ role: 'user', content: results });
      await o.onTurnComplete?.(turn, usage, spentUsd);
    }
  }

  async #stopHooks(lastMessage: string, stopHookActive: boolean): Promise<string | undefined> {
    for (const h of this.#hooks.Stop) {
      try {
        const r = await h({ sessionId: this.sessionId, lastMessage, stopHookActive });
        if (r?.decision === 'block') {
          await this.#auditQuiet('hook', { event: 'Stop', decision: 'block' });
          return this.#redactor.redact(r.reason ?? 'A Stop hook asked you to continue.');
        }
      } catch (err) {
        this.#log.warn({ err }, 'Stop hook failed');
      }
    }
    return undefined;
  }
}

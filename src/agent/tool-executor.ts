// Runs one tool_use block: permission decision → durable audit intent → the tool in the sandbox
// (or its mock fixture) → redaction + truncation → audit result. Every failure is a tool result.
import type Anthropic from '@anthropic-ai/sdk';
import type { AuditLog } from '../audit/audit-log.js';
import { hashInput, sha256Hex, type JsonObject } from '../audit/canonical-json.js';
import type { Redactor } from '../secrets/redactor.js';
import type { AgentEvent, PermissionDenial } from './agent-events.js';
import type { PostToolUseHook } from './hooks/agent-hooks.js';
import type { PermissionEngine, PermissionLogger, ToolInput } from './permissions/index.js';
import type { AgentTool, ToolContext, ToolOutcome } from './tools/agent-tool.js';
import { describeFileError } from './tools/file-errors.js';
import type { MockFixtures } from './tools/mock-fixtures.js';
import { truncateMiddle } from './tools/truncate-output.js';

export interface ToolExecutorOptions {
  sessionId: string;
  engine: PermissionEngine;
  tools: ReadonlyMap<string, AgentTool>;
  toolContext: Omit<ToolContext, 'signal'>;
  audit: AuditLog | undefined;
  redactor: Redactor;
  mock: MockFixtures | undefined;
  postToolUse: readonly PostToolUseHook[];
  unattended: boolean;
  emit: (event: AgentEvent) => Promise<void>;
  logger: PermissionLogger;
  maxOutputChars: number;
}

export class ToolExecutor {
  readonly #o: ToolExecutorOptions;
  readonly denials: PermissionDenial[] = [];
  /** The shell's cwd after the last Bash call, for path rules. */
  #cwd = '/workspace';

  constructor(options: ToolExecutorOptions) {
    this.#o = options;
  }

  async execute(
    block: Anthropic.ToolUseBlock,
    signal: AbortSignal,
  ): Promise<Anthropic.ToolResultBlockParam> {
    const o = this.#o;
    const input = (
      typeof block.input === 'object' && block.input !== null ? block.input : {}
    ) as ToolInput;
    const call = { tool: block.name, input, toolUseId: block.id };
    const decision = await o.engine.decide(call, {
      signal,
      unattended: o.unattended,
      cwd: this.#cwd,
    });
    const base = { session_id: o.sessionId, tool_use_id: block.id, tool: block.name };
    const intent: JsonObject = {
      tool: block.name,
      toolUseId: block.id,
      inputHash: hashInput(decision.updatedInput),
      decision: decision.behavior,
      decidedBy: decision.decidedBy,
      ...(decision.rule === undefined ? {} : { rule: decision.rule }),
      ...(decision.requestId === undefined ? {} : { requestId: decision.requestId }),
    };
    if (decision.behavior === 'deny') {
      await o.emit({
        type: 'tool_decision',
        ...base,
        input,
        behavior: 'deny',
        decided_by: decision.decidedBy,
        message: decision.message,
        ...(decision.rule === undefined ? {} : { rule: decision.rule }),
      });
      this.denials.push({
        tool_name: block.name,
        tool_use_id: block.id,
        tool_input: input,
        reason: decision.message,
      });
      await this.#auditQuiet('tool.intent', { ...intent, reason: decision.message });
      return this.#result(block.id, `Permission denied: ${decision.message}`, true);
    }
    const tool = o.tools.get(block.name);
    const parsed = tool?.schema.safeParse(decision.updatedInput);
    if (!tool || !parsed?.success) {
      const why = tool
        ? `Invalid input for ${block.name}: ${parsed?.error?.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`
        : `No such tool: ${block.name}`;
      await o.emit({
        type: 'tool_decision',
        ...base,
        input,
        behavior: 'deny',
        decided_by: 'invalid-input',
        message: why,
      });
      await this.#auditQuiet('tool.intent', {
        ...intent,
        decision: 'deny',
        decidedBy: 'invalid-input',
        reason: why,
      });
      return this.#result(block.id, why, true);
    }
    // The intent record must be durable before the tool runs; no audit, no tool call.
    if (o.audit) {
      try {
        await o.audit.append(o.sessionId, 'tool.intent', intent);
      } catch (err) {
        o.logger.error({ err, tool: block.name }, 'audit intent failed; tool call refused');
        await o.emit({
          type: 'tool_decision',
          ...base,
          input,
          behavior: 'deny',
          decided_by: 'audit',
          message: 'audit unavailable',
        });
        this.denials.push({
          tool_name: block.name,
          tool_use_id: block.id,
          tool_input: input,
          reason: 'audit unavailable',
        });
        return this.#result(block.id, 'audit unavailable: the tool call was refused', true);
      }
    }
    await o.emit({
      type: 'tool_decision',
      ...base,
      input: decision.updatedInput,
      behavior: 'allow',
      decided_by: decision.decidedBy,
      message: decision.message,
      ...(decision.rule === undefined ? {} : { rule: decision.rule }),
    });
    const started = performance.now();
    let outcome: ToolOutcome;
    try {
      outcome = o.mock
        ? o.mock.answer(block.name, decision.updatedInput)
        : await tool.run(parsed.data, { ...o.toolContext, signal });
    } catch (err) {
      outcome = { content: describeFileError('run', block.name, err), isError: true };
    }
    const durationMs = performance.now() - started;
    if (outcome.cwd !== undefined) this.#cwd = outcome.cwd;
    let content = o.redactor.redact(outcome.content);
    for (const hook of o.postToolUse) {
      try {
        const extra = await hook({
          sessionId: o.sessionId,
          tool: block.name,
          input: decision.updatedInput,
          toolUseId: block.id,
          result: { content, isError: outcome.isError },
        });
        if (extra?.additionalContext) content += `\n${o.redactor.redact(extra.additionalContext)}`;
      } catch (err) {
        o.logger.warn({ err, tool: block.name }, 'PostToolUse hook failed');
      }
    }
    const outputBytes = Buffer.byteLength(content);
    // Deferred fsync: the result gates nothing; the next intent's (or the session's sealing
    // checkpoint's) fsync makes it power-loss durable, the write itself survives a crash.
    await this.#auditQuiet('tool.result', {
      tool: block.name,
      toolUseId: block.id,
      durationMs: Math.round(durationMs * 1000) / 1000,
      isError: outcome.isError,
      ...(outcome.exitCode === undefined ? {} : { exitCode: outcome.exitCode }),
      outputBytes,
      outputHash: sha256Hex(content),
      mocked: o.mock !== undefined,
    });
    await o.emit({
      type: 'tool_result',
      ...base,
      is_error: outcome.isError,
      duration_ms: durationMs,
      output_bytes: outputBytes,
      mocked: o.mock !== undefined,
      ...(outcome.exitCode === undefined ? {} : { exit_code: outcome.exitCode }),
    });
    return this.#result(block.id, truncateMiddle(content, o.maxOutputChars), outcome.isError);
  }

  /**
   * Audit records after the decision (denials, results): a failure is logged, not fatal.
   * Denials stay synchronous (rare, and a denial is a decision worth an fsync); results don't.
   */
  async #auditQuiet(type: 'tool.intent' | 'tool.result', data: JsonObject): Promise<void> {
    try {
      await this.#o.audit?.append(this.#o.sessionId, type, data, { sync: type !== 'tool.result' });
    } catch (err) {
      this.#o.logger.error({ err, type }, 'audit append failed');
    }
  }

  #result(id: string, content: string, isError: boolean): Anthropic.ToolResultBlockParam {
    return {
      type: 'tool_result',
      tool_use_id: id,
      content: content === '' ? '(no output)' : content,
      is_error: isError,
    };
  }
}

// Command hooks from the policy, run INSIDE the sandbox (never on the host): the event JSON on
// stdin, an optional JSON decision on stdout; exit 2 (or any failure of a PreToolUse hook) denies.
import type { CommandHook } from '../../policy/policy-schema.js';
import type { Sandbox } from '../../sandbox/driver.js';
import type { HookResult, ToolInput } from '../permissions/index.js';
import type { AgentHooks } from './agent-hooks.js';

interface CommandOutcome {
  exitCode: number;
  json: Record<string, unknown> | undefined;
  stderr: string;
}

async function runHook(
  sandbox: Sandbox,
  hook: CommandHook,
  payload: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<CommandOutcome> {
  const r = await sandbox.exec(['bash', '-c', hook.command], {
    stdin: JSON.stringify(payload),
    timeoutMs: hook.timeoutSec * 1000,
    ...(signal === undefined ? {} : { signal }),
    maxOutputBytes: 64 * 1024,
  });
  let json: Record<string, unknown> | undefined;
  const out = r.stdout.trim();
  if (out.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(out);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        json = parsed as Record<string, unknown>;
      }
    } catch {
      json = undefined;
    }
  }
  return { exitCode: r.limit === 'timeout' ? 124 : r.exitCode, json, stderr: r.stderr.trim() };
}

function matches(hook: CommandHook, tool: string): boolean {
  if (hook.matcher === undefined || hook.matcher === '' || hook.matcher === '*') return true;
  if (hook.matcher === tool) return true;
  try {
    return new RegExp(`^(?:${hook.matcher})$`).test(tool);
  } catch {
    return false;
  }
}

function asInput(v: unknown): ToolInput | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as ToolInput) : undefined;
}

/** Turns the policy's command hooks into AgentHooks bound to this session's sandbox. */
export function commandHooks(
  hooks: readonly CommandHook[],
  sandbox: Sandbox,
  sessionId: string,
): AgentHooks {
  const of = (event: CommandHook['event']): CommandHook[] => hooks.filter((h) => h.event === event);
  return {
    PreToolUse: of('PreToolUse').map((hook) => ({
      hook: async (call, ctx): Promise<HookResult | undefined> => {
        if (!matches(hook, call.tool)) return undefined;
        const r = await runHook(
          sandbox,
          hook,
          {
            hook_event_name: 'PreToolUse',
            session_id: sessionId,
            tool_name: call.tool,
            tool_input: call.input,
            tool_use_id: call.toolUseId,
          },
          ctx.signal,
        );
        if (r.exitCode !== 0) {
          return {
            decision: 'deny',
            reason: `PreToolUse hook ${r.exitCode === 2 ? 'denied' : `failed (exit ${r.exitCode})`}: ${r.stderr || hook.command}`,
          };
        }
        const d = r.json?.['decision'];
        const result: HookResult = {};
        if (d === 'allow' || d === 'deny' || d === 'ask') result.decision = d;
        if (typeof r.json?.['reason'] === 'string') result.reason = r.json['reason'];
        const updated = asInput(r.json?.['updatedInput']);
        if (updated) result.updatedInput = updated;
        return result;
      },
    })),
    PostToolUse: of('PostToolUse').map((hook) => async (e) => {
      if (!matches(hook, e.tool)) return undefined;
      const r = await runHook(sandbox, hook, {
        hook_event_name: 'PostToolUse',
        session_id: sessionId,
        tool_name: e.tool,
        tool_input: e.input,
        tool_response: e.result,
      });
      const ctx = r.json?.['additionalContext'];
      return typeof ctx === 'string' ? { additionalContext: ctx } : undefined;
    }),
    Stop: of('Stop').map((hook) => async (e) => {
      const r = await runHook(sandbox, hook, {
        hook_event_name: 'Stop',
        session_id: sessionId,
        stop_hook_active: e.stopHookActive,
        last_message: e.lastMessage,
      });
      const reason = typeof r.json?.['reason'] === 'string' ? r.json['reason'] : r.stderr;
      if (r.exitCode === 2 || r.json?.['decision'] === 'block')
        return { decision: 'block', reason };
      return undefined;
    }),
    SessionStart: of('SessionStart').map((hook) => async (e) => {
      await runHook(sandbox, hook, { hook_event_name: 'SessionStart', session_id: e.sessionId });
    }),
    SessionEnd: of('SessionEnd').map((hook) => async (e) => {
      await runHook(sandbox, hook, {
        hook_event_name: 'SessionEnd',
        session_id: e.sessionId,
        reason: e.reason ?? '',
      });
    }),
  };
}

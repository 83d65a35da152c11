// Runs the PreToolUse hooks of one call in order: a deny ends the chain, `updatedInput` feeds the
// next hook, a throwing, malformed or overdue hook is a deny.
import type { PermissionLogger, PreToolUseHookEntry, ToolCall, ToolInput } from './types.js';

export interface HookChainResult {
  /** Strongest verdict seen: deny > ask > allow; undefined when no hook decided. */
  verdict: 'allow' | 'deny' | 'ask' | undefined;
  reason: string | undefined;
  input: ToolInput;
}

const RANK = { allow: 1, ask: 2, deny: 3 } as const;

export async function runHooks(
  hooks: readonly PreToolUseHookEntry[],
  call: ToolCall,
  signal: AbortSignal | undefined,
  timeoutMs: number,
  log: PermissionLogger,
): Promise<HookChainResult> {
  const result: HookChainResult = { verdict: undefined, reason: undefined, input: call.input };
  for (const entry of hooks) {
    if (!matches(entry.matcher, call.tool)) continue;
    const current: ToolCall = { ...call, input: result.input };
    let out: Awaited<ReturnType<PreToolUseHookEntry['hook']>>;
    try {
      out = await withTimeout(entry.hook, current, signal, timeoutMs);
    } catch (error) {
      log.warn({ err: error, tool: call.tool }, 'PreToolUse hook failed');
      return { verdict: 'deny', reason: `hook failed: ${describe(error)}`, input: result.input };
    }
    if (out === undefined || out === null) continue;
    if (typeof out !== 'object') return malformed(result.input);
    const { decision, reason, updatedInput } = out;
    if (decision !== undefined && !(decision in RANK)) return malformed(result.input);
    if (updatedInput !== undefined) {
      if (
        typeof updatedInput !== 'object' ||
        updatedInput === null ||
        Array.isArray(updatedInput)
      ) {
        return malformed(result.input);
      }
      result.input = updatedInput;
    }
    if (decision === 'deny')
      return { verdict: 'deny', reason: reason ?? 'denied by hook', input: result.input };
    if (decision && (result.verdict === undefined || RANK[decision] > RANK[result.verdict])) {
      result.verdict = decision;
      result.reason = reason;
    }
  }
  return result;
}

function matches(matcher: string | RegExp | undefined, tool: string): boolean {
  if (matcher === undefined) return true;
  if (typeof matcher === 'string') return matcher === tool;
  matcher.lastIndex = 0;
  return matcher.test(tool);
}

function malformed(input: ToolInput): HookChainResult {
  return { verdict: 'deny', reason: 'hook returned a malformed result', input };
}

async function withTimeout(
  hook: PreToolUseHookEntry['hook'],
  call: ToolCall,
  signal: AbortSignal | undefined,
  timeoutMs: number,
): ReturnType<PreToolUseHookEntry['hook']> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal?.aborted) throw new Error('aborted');
  signal?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hook timed out after ${timeoutMs} ms`)), timeoutMs);
    controller.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
  });
  try {
    return await Promise.race([hook(call, { signal: controller.signal }), stop]);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    controller.abort();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

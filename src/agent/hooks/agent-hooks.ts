// Session hooks as TypeScript callbacks (PreToolUse goes to the permission engine; PostToolUse,
// Stop, SessionStart, SessionEnd run in the loop). A throwing PreToolUse hook denies the call.
import type { PreToolUseHook, PreToolUseHookEntry, ToolInput } from '../permissions/index.js';

export interface PostToolUseEvent {
  sessionId: string;
  tool: string;
  input: ToolInput;
  toolUseId: string;
  /** The (redacted) output the model will see. */
  result: { content: string; isError: boolean };
}

/** PostToolUse may add context for the model (appended to the tool result). */
export type PostToolUseHook = (
  event: PostToolUseEvent,
) => Promise<{ additionalContext?: string } | undefined | void>;

export interface StopEvent {
  sessionId: string;
  /** Final assistant text of the turn. */
  lastMessage: string;
  /** True when a Stop hook already blocked once in this session (avoid endless loops). */
  stopHookActive: boolean;
}

/** Stop may block the end of the session: `reason` is sent to the model as the next user turn. */
export type StopHook = (
  event: StopEvent,
) => Promise<{ decision?: 'block'; reason?: string } | undefined | void>;

export interface SessionHookEvent {
  sessionId: string;
  /** SessionEnd: the result subtype. */
  reason?: string;
}

export type SessionHook = (event: SessionHookEvent) => Promise<void>;

export interface AgentHooks {
  PreToolUse?: readonly (PreToolUseHook | PreToolUseHookEntry)[];
  PostToolUse?: readonly PostToolUseHook[];
  Stop?: readonly StopHook[];
  SessionStart?: readonly SessionHook[];
  SessionEnd?: readonly SessionHook[];
}

/** Concatenates hook sets (callbacks first, then command hooks). */
export function mergeHooks(...sets: readonly AgentHooks[]): Required<AgentHooks> {
  const merged: Required<AgentHooks> = {
    PreToolUse: [],
    PostToolUse: [],
    Stop: [],
    SessionStart: [],
    SessionEnd: [],
  };
  for (const s of sets) {
    merged.PreToolUse = [...merged.PreToolUse, ...(s.PreToolUse ?? [])];
    merged.PostToolUse = [...merged.PostToolUse, ...(s.PostToolUse ?? [])];
    merged.Stop = [...merged.Stop, ...(s.Stop ?? [])];
    merged.SessionStart = [...merged.SessionStart, ...(s.SessionStart ?? [])];
    merged.SessionEnd = [...merged.SessionEnd, ...(s.SessionEnd ?? [])];
  }
  return merged;
}

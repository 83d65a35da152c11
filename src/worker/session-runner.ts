// The SessionRunner contract: what a worker needs from "something that runs one task of a
// session" (the agent loop adapter in agent-session-runner.ts; other runners later).
import type { RunningSessionHandle } from '../server/session-control.js';
import type {
  SessionEvent,
  SessionEventInput,
  SessionRecord,
  SessionUsage,
} from '../sessions/session-store.js';

/** What a resumed (or continued) run starts from. */
export interface ResumeState {
  /** Latest workspace snapshot (tar.gz), including the uploaded initial workspace (turn 0; runner turns count from 1). */
  snapshot: Buffer | undefined;
  snapshotTurn: number | undefined;
  /** The whole transcript so far, oldest first. */
  events: SessionEvent[];
  /** Highest turn whose transcript and snapshot are durable; -1 before the first. */
  lastCompletedTurn: number;
  /** true when a previous lease of this same task died (crash recovery). */
  recovered: boolean;
}

export interface SessionRunContext {
  session: SessionRecord;
  /** This task's prompt: the session prompt, or the continuation message. */
  prompt: string;
  /** Lease epoch; every write below presents it. */
  epoch: number;
  /** Aborted on cancel, lost lease, or drain deadline. `signal.reason` says which. */
  signal: AbortSignal;
  resume: ResumeState;
  /** Appends a transcript event under the lease epoch (StaleEpochError once the lease moved). */
  emit(event: SessionEventInput): Promise<SessionEvent>;
  /**
   * Marks `turn` durable: stores the workspace snapshot (content-addressed) and the turn
   * number + usage, both fenced by the epoch. Call after the turn's events are emitted.
   */
  completeTurn(
    turn: number,
    workspaceTarGz: Buffer | undefined,
    usage?: SessionUsage,
  ): Promise<void>;
  /** Lets the API reach this run (approvals, cancel); returns the unregister function. */
  register(handle: RunningSessionHandle): () => void;
}

export interface SessionRunResult {
  status: 'succeeded' | 'failed';
  /** Stored as the session's result (JSON). */
  result: unknown;
  usage?: SessionUsage;
}

export interface SessionRunner {
  /**
   * Runs one task of a session to its end. Throwing means "this attempt failed" (the worker
   * retries with backoff); a finished session that failed returns `status: 'failed'`.
   */
  run(ctx: SessionRunContext): Promise<SessionRunResult>;
}

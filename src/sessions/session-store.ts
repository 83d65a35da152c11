// The SessionStore contract: session rows, the append-only transcript with a live feed,
// content-addressed workspace snapshots and retention. Backends: sqlite/ (embedded); postgres/ later.
import type { Readable } from 'node:stream';

export type SessionStatus =
  'queued' | 'running' | 'waiting_approval' | 'paused' | 'succeeded' | 'failed' | 'cancelled';

export const SESSION_STATUSES: readonly SessionStatus[] = [
  'queued',
  'running',
  'waiting_approval',
  'paused',
  'succeeded',
  'failed',
  'cancelled',
];

/** Statuses after which retention may delete the transcript and snapshots. */
export const FINISHED_STATUSES: readonly SessionStatus[] = ['succeeded', 'failed', 'cancelled'];

export interface SessionUsage {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface CreateSessionInput {
  /** Chosen by the caller (the API) so the queue task can reference it; unique. */
  id: string;
  tenantId: string;
  prompt: string;
  /** Config tier (dev | staging | prod) the session runs under. */
  tier: string;
  role: string;
  /** Permission mode (default, acceptEdits, plan, dontAsk, bypassPermissions). */
  mode: string;
  options?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

export interface SessionRecord {
  id: string;
  tenantId: string;
  status: SessionStatus;
  prompt: string;
  tier: string;
  role: string;
  mode: string;
  options: Record<string, unknown>;
  metadata: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
  result: unknown;
  usage: SessionUsage;
  /** Highest turn whose effects are durable (transcript + snapshot); -1 before the first. */
  lastCompletedTurn: number;
  /** Seq of the newest transcript event; 0 when empty. */
  lastEventSeq: number;
  /** Set when retention deleted the transcript and snapshots. */
  purgedAt: number | undefined;
}

export interface ListSessionsFilter {
  tenantId?: string;
  status?: SessionStatus | readonly SessionStatus[];
  /** 1..200, default 50. */
  limit?: number;
  /** Opaque cursor from a previous page's `nextCursor`; pass the same filters with it. */
  cursor?: string;
}

export interface SessionPage {
  /** Newest first. */
  sessions: SessionRecord[];
  /** Absent on the last page. */
  nextCursor: string | undefined;
}

/** Fencing: a leased session's writes present the lease epoch; absent means "not leased". */
export interface FenceOptions {
  epoch?: number;
}

export interface StatusChange extends FenceOptions {
  result?: unknown;
  usage?: SessionUsage;
  lastCompletedTurn?: number;
}

export interface SessionEventInput {
  /** e.g. `assistant`, `tool_use`, `tool_result`, `status`; free-form for the store. */
  type: string;
  data: unknown;
}

export interface SessionEvent {
  sessionId: string;
  /** 1, 2, 3 ... per session, no gaps. */
  seq: number;
  type: string;
  data: unknown;
  /** Lease epoch that wrote it; undefined for writes outside a lease (API). */
  epoch: number | undefined;
  createdAt: number;
}

export type SessionEventListener = (event: SessionEvent) => void;

export interface SnapshotRef {
  sessionId: string;
  turn: number;
  /** Hex sha256 of the tar.gz bytes; also the blob's name on disk. */
  sha256: string;
  sizeBytes: number;
  createdAt: number;
}

export interface RetentionResult {
  sessions: number;
  events: number;
  snapshots: number;
  blobs: number;
}

export interface SessionStore {
  create(input: CreateSessionInput): Promise<SessionRecord>;
  get(id: string): Promise<SessionRecord | undefined>;
  list(filter?: ListSessionsFilter): Promise<SessionPage>;
  /** Changes status along the allowed transitions; `cancelled` is allowed while leased without epoch. */
  updateStatus(id: string, status: SessionStatus, change?: StatusChange): Promise<SessionRecord>;
  /** Records progress of a running session (turn, usage) without a status change. */
  recordTurn(
    id: string,
    turn: number,
    usage: SessionUsage | undefined,
    fence?: FenceOptions,
  ): Promise<SessionRecord>;
  appendEvent(
    sessionId: string,
    event: SessionEventInput,
    fence?: FenceOptions,
  ): Promise<SessionEvent>;
  /** Events with seq > afterSeq (default 0), oldest first, at most `limit` (default 500, max 5000). */
  events(
    sessionId: string,
    options?: { afterSeq?: number; limit?: number },
  ): Promise<SessionEvent[]>;
  /** Live feed of events appended through this store instance; returns unsubscribe. */
  subscribe(sessionId: string, listener: SessionEventListener): () => void;
  putSnapshot(
    sessionId: string,
    turn: number,
    data: Buffer | Readable,
    fence?: FenceOptions,
  ): Promise<SnapshotRef>;
  latestSnapshot(sessionId: string): Promise<SnapshotRef | undefined>;
  readSnapshot(ref: SnapshotRef): Promise<Buffer>;
  /** Deletes events and snapshots of sessions finished before `before` (ms); never audit records. */
  deleteExpired(before: number): Promise<RetentionResult>;
  close(): Promise<void>;
}

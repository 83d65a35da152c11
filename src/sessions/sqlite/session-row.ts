// Row shapes of the session tables and their mapping to the contract's records,
// plus the opaque list cursor (base64url JSON of the last row's seq).
import { RingfenceError } from '../../errors.js';
import type {
  SessionEvent,
  SessionRecord,
  SessionStatus,
  SessionUsage,
  SnapshotRef,
} from '../session-store.js';

export interface SessionRow {
  seq: number;
  id: string;
  tenant_id: string;
  status: SessionStatus;
  prompt: string;
  tier: string;
  role: string;
  mode: string;
  options: string;
  metadata: string;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  result: string | null;
  usage: string;
  last_completed_turn: number;
  last_event_seq: number;
  purged_at: number | null;
}

export interface EventRow {
  session_id: string;
  seq: number;
  type: string;
  data: string;
  epoch: number | null;
  created_at: number;
}

export interface SnapshotRow {
  session_id: string;
  turn: number;
  sha256: string;
  size_bytes: number;
  created_at: number;
}

export function sessionFromRow(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    status: row.status,
    prompt: row.prompt,
    tier: row.tier,
    role: row.role,
    mode: row.mode,
    options: JSON.parse(row.options) as Record<string, unknown>,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    result: row.result === null ? undefined : (JSON.parse(row.result) as unknown),
    usage: JSON.parse(row.usage) as SessionUsage,
    lastCompletedTurn: row.last_completed_turn,
    lastEventSeq: row.last_event_seq,
    purgedAt: row.purged_at ?? undefined,
  };
}

export function eventFromRow(row: EventRow): SessionEvent {
  return {
    sessionId: row.session_id,
    seq: row.seq,
    type: row.type,
    data: JSON.parse(row.data) as unknown,
    epoch: row.epoch ?? undefined,
    createdAt: row.created_at,
  };
}

export function snapshotFromRow(row: SnapshotRow): SnapshotRef {
  return {
    sessionId: row.session_id,
    turn: row.turn,
    sha256: row.sha256,
    sizeBytes: row.size_bytes,
    createdAt: row.created_at,
  };
}

export function encodeCursor(seq: number): string {
  return Buffer.from(JSON.stringify({ v: 1, s: seq })).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      v?: unknown;
      s?: unknown;
    };
    if (parsed.v === 1 && typeof parsed.s === 'number' && Number.isSafeInteger(parsed.s))
      return parsed.s;
  } catch {
    // fall through to the typed error
  }
  throw new RingfenceError('invalid_request', 'invalid cursor');
}

// What the API routes need from the service (stores, queue, control, metrics), and the
// per-request principal resolved by the auth hook.
import type { FastifyRequest } from 'fastify';
import type { AuditStore } from '../audit/audit-store.js';
import { RingfenceError } from '../errors.js';
import type { TaskQueue } from '../queue/queue.js';
import type { SessionRecord, SessionStore } from '../sessions/session-store.js';
import type { TenantRateLimiter } from './rate-limits.js';
import type { ServiceMetrics } from './service-metrics.js';
import type { SessionControl } from './session-control.js';
import { roleAllows, type ApiRole, type Principal, type TenantKeyStore } from './tenant-keys.js';
import type { UploadStore } from './upload-store.js';

export interface ReadinessReport {
  ok: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

/** Alerts listed at GET /v1/alerts (src/monitoring feeds them). */
export interface AlertSource {
  list(limit: number): Promise<unknown[]>;
}

export interface ApiContext {
  store: SessionStore;
  queue: TaskQueue;
  keys: TenantKeyStore;
  metrics: ServiceMetrics;
  control: SessionControl;
  uploads: UploadStore;
  limiter: TenantRateLimiter;
  defaultTier: string;
  /** Tiers a session may ask for with `env`; absent: any. */
  tiers?: readonly string[];
  audit?: { store: AuditStore; publicKeyPem: string };
  alerts?: AlertSource;
  readiness?: () => Promise<ReadinessReport>;
  /** SSE heartbeat comment interval. */
  sseHeartbeatMs: number;
  /** SSE store poll interval (events written by workers in other processes). */
  ssePollMs: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

/** The authenticated principal, or 401. */
export function principalOf(request: FastifyRequest, need: ApiRole): Principal {
  const p = request.principal;
  if (p === undefined) throw new RingfenceError('unauthorized', 'missing or invalid API key');
  if (!roleAllows(p.role, need)) {
    throw new RingfenceError('forbidden', `this action needs role ${need}; the key has ${p.role}`, {
      details: { need, have: p.role },
    });
  }
  return p;
}

/** The session if it exists and belongs to the principal's tenant; 404 otherwise (no leak). */
export async function ownSession(
  ctx: ApiContext,
  principal: Principal,
  id: string,
): Promise<SessionRecord> {
  const s = await ctx.store.get(id);
  if (s === undefined || s.tenantId !== principal.tenantId) {
    throw new RingfenceError('not_found', `session ${id} not found`, { details: { id } });
  }
  return s;
}

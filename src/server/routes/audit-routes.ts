// GET /v1/sessions/:id/audit (the session's audit records) and GET /v1/audit/verify?session=
// (hash chain + signed checkpoints of one session's log, checked with the service's public key).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { verify } from '../../audit/verify-audit.js';
import { RingfenceError } from '../../errors.js';
import { ownSession, principalOf, type ApiContext } from '../api-context.js';
import { validationError } from '../api-errors.js';

const verifyQuery = z.object({ session: z.string().min(1).max(200) });

function auditOf(ctx: ApiContext): NonNullable<ApiContext['audit']> {
  if (ctx.audit === undefined) {
    throw new RingfenceError('not_found', 'this server has no audit log configured');
  }
  return ctx.audit;
}

export function registerAuditRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: { id: string } }>('/v1/sessions/:id/audit', async (request) => {
    const p = principalOf(request, 'read');
    const s = await ownSession(ctx, p, request.params.id);
    const audit = auditOf(ctx);
    const entries = await audit.store.readRecords(s.id);
    return { sessionId: s.id, records: entries.map((e) => JSON.parse(e.text) as unknown) };
  });

  app.get('/v1/audit/verify', async (request) => {
    const p = principalOf(request, 'read');
    const q = verifyQuery.safeParse(request.query);
    if (!q.success) throw validationError(q.error, 'query');
    const s = await ownSession(ctx, p, q.data.session);
    const audit = auditOf(ctx);
    const r = await verify(audit.store, { logId: s.id, publicKey: audit.publicKeyPem });
    const log = r.logs[0];
    return {
      sessionId: s.id,
      ok: r.ok,
      records: r.records,
      checkpoints: r.checkpoints,
      sealed: log?.sealed ?? false,
      firstBad: r.firstBad ?? null,
    };
  });
}

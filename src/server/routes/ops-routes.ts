// Unauthenticated probes (/healthz, /readyz, /metrics, /openapi.json) and the admin routes
// of a tenant (/v1/keys) and of the operator (/v1/alerts).
import type { FastifyInstance } from 'fastify';
import { RingfenceError } from '../../errors.js';
import { TASK_STATUSES } from '../../queue/queue.js';
import { SESSION_STATUSES } from '../../sessions/session-store.js';
import { principalOf, type ApiContext } from '../api-context.js';
import { validationError } from '../api-errors.js';
import { OPENAPI_DOCUMENT } from '../openapi-document.js';
import { createKeySchema } from '../request-schemas.js';

/** Paths that skip authentication and rate limiting. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set([
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
]);

async function refreshGauges(ctx: ApiContext): Promise<void> {
  const stats = await ctx.queue.stats();
  for (const s of TASK_STATUSES) ctx.metrics.queueDepth.set({ status: s }, stats.byStatus[s]);
  ctx.metrics.queueOldestWaitSeconds.set((stats.oldestWaitMs ?? 0) / 1000);
  for (const status of SESSION_STATUSES) {
    const page = await ctx.store.list({ status, limit: 200 });
    ctx.metrics.sessionsByStatus.set({ status }, page.sessions.length);
  }
}

export function registerOpsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/healthz', () => ({ ok: true }));

  app.get('/readyz', async (_request, reply) => {
    const report = ctx.readiness === undefined ? { ok: true, checks: {} } : await ctx.readiness();
    return reply.code(report.ok ? 200 : 503).send(report);
  });

  app.get('/metrics', async (_request, reply) => {
    await refreshGauges(ctx);
    return reply
      .header('content-type', ctx.metrics.registry.contentType)
      .send(await ctx.metrics.registry.metrics());
  });

  app.get('/openapi.json', () => OPENAPI_DOCUMENT);

  app.post('/v1/keys', async (request, reply) => {
    const p = principalOf(request, 'admin');
    const parsed = createKeySchema.safeParse(request.body);
    if (!parsed.success) throw validationError(parsed.error, 'key request');
    const created = await ctx.keys.createKey(p.tenantId, parsed.data.role);
    return reply.code(201).send({ ...created.info, key: created.key });
  });

  app.get('/v1/alerts', async (request) => {
    principalOf(request, 'admin');
    if (ctx.alerts === undefined) {
      throw new RingfenceError('not_found', 'monitoring is not enabled on this server');
    }
    return { alerts: await ctx.alerts.list(100) };
  });
}

// Builds the Fastify app of the service API: bearer-key auth, per-tenant rate limits, JSON
// errors, raw gzip uploads, request metrics, and the /v1 routes. Use app.inject() in tests.
import Fastify, { type FastifyInstance } from 'fastify';
import { RingfenceError } from '../errors.js';
import type { ApiContext } from './api-context.js';
import { handleApiError } from './api-errors.js';
import { registerAuditRoutes } from './routes/audit-routes.js';
import { registerEventRoutes } from './routes/event-routes.js';
import { PUBLIC_PATHS, registerOpsRoutes } from './routes/ops-routes.js';
import { registerSessionRoutes } from './routes/session-routes.js';

export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;
export const DEFAULT_UPLOAD_LIMIT_BYTES = 100 * 1024 * 1024;

export interface ApiServerOptions {
  /** JSON body limit. */
  bodyLimitBytes?: number;
  /** application/gzip upload limit. */
  uploadLimitBytes?: number;
  /** pino-compatible logger for Fastify; absent: silent. */
  logger?: boolean | Record<string, unknown>;
}

/**
 * @example const app = buildApiServer(ctx); await app.listen({ port: 0, host: '127.0.0.1' });
 */
export function buildApiServer(ctx: ApiContext, options: ApiServerOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
  });
  app.decorateRequest('principal', undefined);
  app.addContentTypeParser(
    'application/gzip',
    { parseAs: 'buffer', bodyLimit: options.uploadLimitBytes ?? DEFAULT_UPLOAD_LIMIT_BYTES },
    (_req, body, done) => done(null, body),
  );
  app.setErrorHandler((err, request, reply) => handleApiError(err, request, reply));
  app.setNotFoundHandler((request, reply) =>
    handleApiError(
      new RingfenceError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
      request,
      reply,
    ),
  );

  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0] ?? '';
    if (PUBLIC_PATHS.has(path)) return;
    const auth = request.headers.authorization;
    const m = auth === undefined ? null : /^Bearer\s+(\S+)$/i.exec(auth);
    const principal = m?.[1] === undefined ? undefined : await ctx.keys.authenticate(m[1]);
    if (principal === undefined) {
      throw new RingfenceError(
        'unauthorized',
        'missing or invalid API key (Authorization: Bearer)',
      );
    }
    request.principal = principal;
    ctx.limiter.takeRequest(principal.tenantId);
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    ctx.metrics.httpRequests.inc({ route, status: String(reply.statusCode) });
    ctx.metrics.httpDurationSeconds.observe({ route }, reply.elapsedTime / 1000);
  });

  registerOpsRoutes(app, ctx);
  registerSessionRoutes(app, ctx);
  registerEventRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
  return app;
}

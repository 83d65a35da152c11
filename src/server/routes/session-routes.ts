// /v1/sessions: create (202 + queued task), get, list, continue with a message, cancel,
// approvals, workspace download and uploads of workspace archives.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { RingfenceError } from '../../errors.js';
import type { SessionRecord } from '../../sessions/session-store.js';
import { ownSession, principalOf, type ApiContext } from '../api-context.js';
import { validationError } from '../api-errors.js';
import {
  approvalSchema,
  createSessionSchema,
  listQuerySchema,
  messageSchema,
  MODE_FROM_TIER,
} from '../request-schemas.js';
import { ACTIVE_STATUSES, enqueueSessionTask, findSessionTasks } from '../session-tasks.js';

/** The public view of a session. */
export function sessionView(s: SessionRecord): Record<string, unknown> {
  return {
    id: s.id,
    tenantId: s.tenantId,
    status: s.status,
    prompt: s.prompt,
    env: s.tier,
    role: s.role,
    mode: s.mode,
    options: s.options,
    metadata: s.metadata,
    createdAt: new Date(s.createdAt).toISOString(),
    updatedAt: new Date(s.updatedAt).toISOString(),
    result: s.result ?? null,
    usage: s.usage,
    lastCompletedTurn: s.lastCompletedTurn,
    lastEventSeq: s.lastEventSeq,
    purged: s.purgedAt !== undefined,
  };
}

export function registerSessionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post('/v1/uploads', async (request, reply) => {
    principalOf(request, 'submit');
    if (!Buffer.isBuffer(request.body)) {
      throw new RingfenceError('invalid_request', 'upload body must be application/gzip');
    }
    const out = await ctx.uploads.put(request.body);
    return reply.code(201).send(out);
  });

  app.post('/v1/sessions', async (request, reply) => {
    const p = principalOf(request, 'submit');
    const parsed = createSessionSchema.safeParse(request.body);
    if (!parsed.success) throw validationError(parsed.error, 'session request');
    const body = parsed.data;
    const tier = body.env ?? ctx.defaultTier;
    if (ctx.tiers !== undefined && !ctx.tiers.includes(tier)) {
      throw new RingfenceError('invalid_request', `env: unknown tier ${tier}`, {
        details: { issues: [{ path: 'env', message: `unknown tier ${tier}` }] },
      });
    }
    const workspaceTar =
      body.workspace.type === 'tar' ? await ctx.uploads.get(body.workspace.uploadId) : undefined;
    const active = await ctx.store.list({
      tenantId: p.tenantId,
      status: ACTIVE_STATUSES,
      limit: Math.min(200, ctx.limiter.config.maxConcurrentSessions + 1),
    });
    ctx.limiter.takeSessionStart(p.tenantId, active.sessions.length);
    const id = `ses_${randomUUID().replaceAll('-', '')}`;
    const options: Record<string, unknown> = { workspace: body.workspace };
    if (body.allowedTools !== undefined) options['allowedTools'] = body.allowedTools;
    if (body.disallowedTools !== undefined) options['disallowedTools'] = body.disallowedTools;
    if (body.maxTurns !== undefined) options['maxTurns'] = body.maxTurns;
    if (body.maxBudgetUsd !== undefined) options['maxBudgetUsd'] = body.maxBudgetUsd;
    await ctx.store.create({
      id,
      tenantId: p.tenantId,
      prompt: body.prompt,
      tier,
      role: body.role,
      mode: body.mode ?? MODE_FROM_TIER,
      options,
      metadata: body.metadata,
    });
    // The initial workspace is the session's snapshot of turn 0 (runner turns count from 1), so
    // starting and resuming are one path: restore the latest snapshot.
    if (workspaceTar !== undefined) await ctx.store.putSnapshot(id, 0, workspaceTar);
    await enqueueSessionTask(ctx.queue, {
      sessionId: id,
      tenantId: p.tenantId,
      prompt: body.prompt,
    });
    return reply.code(202).send({ id, status: 'queued' });
  });

  app.get('/v1/sessions', async (request) => {
    const p = principalOf(request, 'read');
    const q = listQuerySchema.safeParse(request.query);
    if (!q.success) throw validationError(q.error, 'query');
    const page = await ctx.store.list({
      tenantId: p.tenantId,
      limit: q.data.limit,
      ...(q.data.status === undefined ? {} : { status: q.data.status }),
      ...(q.data.cursor === undefined ? {} : { cursor: q.data.cursor }),
    });
    return { sessions: page.sessions.map(sessionView), nextCursor: page.nextCursor ?? null };
  });

  app.get<{ Params: { id: string } }>('/v1/sessions/:id', async (request) => {
    const p = principalOf(request, 'read');
    return sessionView(await ownSession(ctx, p, request.params.id));
  });

  app.post<{ Params: { id: string } }>('/v1/sessions/:id/messages', async (request, reply) => {
    const p = principalOf(request, 'submit');
    const s = await ownSession(ctx, p, request.params.id);
    const parsed = messageSchema.safeParse(request.body);
    if (!parsed.success) throw validationError(parsed.error, 'message');
    if (s.status !== 'succeeded' && s.status !== 'failed') {
      throw new RingfenceError(
        'conflict',
        `session ${s.id} is ${s.status}; wait until it finishes`,
        {
          details: { status: s.status },
        },
      );
    }
    if (s.purgedAt !== undefined) {
      throw new RingfenceError('conflict', `session ${s.id} was purged by retention`);
    }
    const active = await ctx.store.list({
      tenantId: p.tenantId,
      status: ACTIVE_STATUSES,
      limit: Math.min(200, ctx.limiter.config.maxConcurrentSessions + 1),
    });
    ctx.limiter.takeSessionStart(p.tenantId, active.sessions.length);
    await ctx.store.appendEvent(s.id, {
      type: 'user_message',
      data: { prompt: parsed.data.prompt },
    });
    await ctx.store.updateStatus(s.id, 'queued');
    await enqueueSessionTask(ctx.queue, {
      sessionId: s.id,
      tenantId: p.tenantId,
      prompt: parsed.data.prompt,
    });
    return reply.code(202).send({ id: s.id, status: 'queued' });
  });

  app.post<{ Params: { id: string } }>('/v1/sessions/:id/cancel', async (request, reply) => {
    const p = principalOf(request, 'submit');
    const s = await ownSession(ctx, p, request.params.id);
    if (s.status === 'cancelled') return reply.code(200).send({ id: s.id, status: s.status });
    if (s.status === 'succeeded' || s.status === 'failed') {
      throw new RingfenceError('conflict', `session ${s.id} already finished (${s.status})`, {
        details: { status: s.status },
      });
    }
    await ctx.store.updateStatus(s.id, 'cancelled');
    for (const t of await findSessionTasks(ctx.queue, s.id)) await ctx.queue.cancel(t.id);
    ctx.control.abort(s.id, 'cancelled by API');
    return reply.code(200).send({ id: s.id, status: 'cancelled' });
  });

  app.post<{ Params: { id: string; requestId: string } }>(
    '/v1/sessions/:id/approvals/:requestId',
    async (request) => {
      const p = principalOf(request, 'submit');
      const s = await ownSession(ctx, p, request.params.id);
      const parsed = approvalSchema.safeParse(request.body);
      if (!parsed.success) throw validationError(parsed.error, 'approval');
      const a = parsed.data;
      const ok = ctx.control.respond(s.id, request.params.requestId, {
        behavior: a.behavior,
        ...(a.updatedInput === undefined ? {} : { updatedInput: a.updatedInput }),
        ...(a.message === undefined ? {} : { message: a.message }),
      });
      if (!ok) {
        throw new RingfenceError(
          'not_found',
          `no pending approval ${request.params.requestId} in session ${s.id}`,
        );
      }
      return { id: s.id, requestId: request.params.requestId, behavior: a.behavior };
    },
  );

  app.get<{ Params: { id: string } }>('/v1/sessions/:id/workspace', async (request, reply) => {
    const p = principalOf(request, 'read');
    const s = await ownSession(ctx, p, request.params.id);
    const ref = await ctx.store.latestSnapshot(s.id);
    if (ref === undefined) {
      throw new RingfenceError('not_found', `session ${s.id} has no workspace snapshot`);
    }
    const data = await ctx.store.readSnapshot(ref);
    return reply
      .header('content-type', 'application/gzip')
      .header('content-disposition', `attachment; filename="${s.id}.tar.gz"`)
      .header('x-ringfence-turn', String(ref.turn))
      .header('etag', `"${ref.sha256}"`)
      .send(data);
  });
}

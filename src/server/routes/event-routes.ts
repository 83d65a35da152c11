// GET /v1/sessions/:id/events: a JSON page (?format=json&after=) or Server-Sent Events where each
// event's `id` is its transcript seq, so `Last-Event-ID` resumes exactly after the last one seen.
import type { FastifyInstance } from 'fastify';
import { RingfenceError } from '../../errors.js';
import { FINISHED_STATUSES, type SessionEvent } from '../../sessions/session-store.js';
import { ownSession, principalOf, type ApiContext } from '../api-context.js';
import { validationError } from '../api-errors.js';
import { eventsQuerySchema } from '../request-schemas.js';

export function eventView(e: SessionEvent): Record<string, unknown> {
  return { seq: e.seq, type: e.type, data: e.data, createdAt: new Date(e.createdAt).toISOString() };
}

function lastEventId(header: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,15}$/.test(raw)) {
    throw new RingfenceError('invalid_request', 'Last-Event-ID must be an event seq (integer)');
  }
  return Number(raw);
}

export function registerEventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: { id: string } }>('/v1/sessions/:id/events', async (request, reply) => {
    const p = principalOf(request, 'read');
    const s = await ownSession(ctx, p, request.params.id);
    const q = eventsQuerySchema.safeParse(request.query);
    if (!q.success) throw validationError(q.error, 'query');
    if (q.data.format === 'json') {
      const events = await ctx.store.events(s.id, { afterSeq: q.data.after, limit: q.data.limit });
      const last = events.at(-1);
      return {
        events: events.map(eventView),
        nextAfter: last?.seq ?? q.data.after,
        status: s.status,
      };
    }
    let after = lastEventId(request.headers['last-event-id']) ?? q.data.after;
    const sessionId = s.id;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': connected\n\n');
    let closed = false;
    let pumping = false;
    let again = false;
    const finish = (): void => {
      if (closed) return;
      closed = true;
      unsubscribe();
      clearInterval(heartbeat);
      clearInterval(poll);
      res.end();
    };
    // One pump at a time reads the store after `after`: ordered, gap-free, no duplicates.
    const pump = async (): Promise<void> => {
      if (pumping) {
        again = true;
        return;
      }
      pumping = true;
      try {
        do {
          again = false;
          const batch = await ctx.store.events(sessionId, { afterSeq: after, limit: 500 });
          for (const e of batch) {
            if (closed) return;
            res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(eventView(e))}\n\n`);
            after = e.seq;
          }
          if (batch.length === 500) again = true;
        } while (again && !closed);
        const now = await ctx.store.get(sessionId);
        const last = now?.lastEventSeq ?? 0;
        if (now === undefined || (FINISHED_STATUSES.includes(now.status) && after >= last)) {
          finish();
        }
      } catch (err) {
        request.log.warn({ err, sessionId }, 'sse: pump failed');
        finish();
      } finally {
        pumping = false;
      }
    };
    const kick = (): void => void pump();
    const unsubscribe = ctx.store.subscribe(sessionId, kick);
    const heartbeat = setInterval(() => res.write(': hb\n\n'), ctx.sseHeartbeatMs);
    const poll = setInterval(kick, ctx.ssePollMs);
    res.on('close', finish);
    kick();
    return reply;
  });
}

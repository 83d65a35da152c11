// The gateway over HTTP for hosted Claude Code / Agent SDK processes: POST /v1/messages (JSON and
// SSE) accepting only a per-session placeholder key, which the gateway maps to its session.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { RingfenceError } from '../errors.js';
import type { ModelGateway } from './model-gateway.js';
import { ModelError } from './model-errors.js';
import type { MessageParams } from './providers/model-provider.js';
import { readBody } from './read-body.js';

export const DEFAULT_PING_INTERVAL_MS = 10_000;

export interface GatewaySession {
  sessionId: string;
  tenantId?: string | undefined;
  maxBudgetUsd?: number | undefined;
}

export interface GatewayServerOptions {
  gateway: ModelGateway;
  host?: string;
  port?: number;
  /** A ping event is written this often on every open stream. Absent: 10000. */
  pingIntervalMs?: number;
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ type: 'error', error: { type, message } }));
}

/** HTTP status and Anthropic error type for a gateway failure. */
function statusOf(err: unknown): [number, string] {
  if (err instanceof ModelError) {
    if (err.kind === 'budget_exceeded') return [403, 'permission_error'];
    if (err.kind === 'client' && err.status !== undefined)
      return [err.status, 'invalid_request_error'];
    if (err.kind === 'all_routes_down' || err.kind === 'breaker_open')
      return [529, 'overloaded_error'];
  }
  if (err instanceof RingfenceError && err.code === 'rate_limited')
    return [429, 'rate_limit_error'];
  return [502, 'api_error'];
}

function sse(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export class GatewayServer {
  readonly #opts: Readonly<GatewayServerOptions>;
  readonly #server: Server;
  readonly #keys = new Map<string, GatewaySession>();
  readonly #sockets = new Set<Socket>();
  #closing: Promise<void> | undefined;

  constructor(opts: GatewayServerOptions) {
    this.#opts = Object.freeze({ ...opts });
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, 500, 'api_error', (err as Error).message);
        else res.destroy();
      });
    });
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  /** A fresh placeholder key for a session: give it to the hosted process as ANTHROPIC_API_KEY. */
  issueSessionKey(session: GatewaySession): string {
    const key = `rf-session-${randomBytes(24).toString('hex')}`;
    this.#keys.set(key, { ...session });
    return key;
  }

  revokeSessionKey(key: string): void {
    this.#keys.delete(key);
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.port ?? 0, this.#opts.host ?? '127.0.0.1', () => resolve());
    });
    const addr = this.#server.address();
    if (addr === null || typeof addr === 'string')
      throw new RingfenceError('internal', 'gateway server not listening');
    return `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const s of this.#sockets) s.destroy();
    });
    return this.#closing;
  }

  #session(req: IncomingMessage): GatewaySession | undefined {
    const x = req.headers['x-api-key'];
    const auth = req.headers.authorization;
    const key = typeof x === 'string' ? x : auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    return key === undefined ? undefined : this.#keys.get(key);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'POST' || path !== '/v1/messages') {
      sendError(res, 404, 'not_found_error', 'not found');
      return;
    }
    const session = this.#session(req);
    if (!session) {
      sendError(res, 401, 'authentication_error', 'unknown session key');
      return;
    }
    let body: MessageParams & { stream?: unknown };
    try {
      body = JSON.parse(await readBody(req)) as MessageParams & { stream?: unknown };
      if (!Array.isArray(body.messages)) throw new Error('messages must be an array');
    } catch (err) {
      sendError(res, 400, 'invalid_request_error', (err as Error).message);
      return;
    }
    const { stream, ...params } = body;
    const ctl = new AbortController();
    res.on('close', () => ctl.abort());
    const ctx = {
      sessionId: session.sessionId,
      tenantId: session.tenantId,
      maxBudgetUsd: session.maxBudgetUsd,
      signal: ctl.signal,
    };
    if (stream !== true) {
      try {
        const result = await this.#opts.gateway.createMessage(params, ctx);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(result.message));
      } catch (err) {
        const [status, type] = statusOf(err);
        sendError(res, status, type, (err as Error).message);
      }
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    // Upstream pings are consumed by the SDK; the gateway keeps the client's stream alive itself.
    sse(res, 'ping', { type: 'ping' });
    const ping = setInterval(
      () => sse(res, 'ping', { type: 'ping' }),
      this.#opts.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
    );
    try {
      await this.#opts.gateway.streamMessage(params, {
        ...ctx,
        restartable: false,
        onStreamEvent: (e) => sse(res, e.type, e),
      });
    } catch (err) {
      const [, type] = statusOf(err);
      sse(res, 'error', { type: 'error', error: { type, message: (err as Error).message } });
    } finally {
      clearInterval(ping);
      res.end();
    }
  }
}

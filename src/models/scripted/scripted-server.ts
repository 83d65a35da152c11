// The scripted model server: a real HTTP server speaking the Anthropic Messages API (JSON and SSE),
// answering from a YAML script. Used by the dev tier, the demo and every model test.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { RingfenceError } from '../../errors.js';
import type { Script, ScriptReply } from './script-schema.js';
import {
  buildMessage,
  estimateInputTokens,
  pickReply,
  requestDigest,
  turnIndexOf,
  type ScriptedRequest,
} from './scripted-reply.js';
import {
  bodyEvents,
  formatSse,
  messageStartEvent,
  PING_EVENT,
  type SseEvent,
} from './scripted-sse.js';
import { readBody } from '../read-body.js';

/** Any dated version is accepted (2023-06-01, 2023-01-01, newer SDKs' values); absent is fine too. */
const VERSION_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** What the server saw for one request (for tests and debugging; never logged by default). */
export interface ScriptedRequestInfo {
  path: string;
  headers: IncomingMessage['headers'];
  body: ScriptedRequest;
}

export interface ScriptedServerOptions {
  script: Script;
  /** Port to listen on. Absent: 0 (an ephemeral port). */
  port?: number;
  /** Address to bind. Absent: 127.0.0.1. */
  host?: string;
  /** When set, requests must carry this key (x-api-key or Bearer). Absent: any key is accepted. */
  requireApiKey?: string;
  /** Called for each request after its body is parsed. */
  onRequest?: (info: ScriptedRequestInfo) => void;
}

interface ApiErrorBody {
  status: number;
  type: string;
  message: string;
  retryAfterMs?: number | undefined;
}

function sendError(res: ServerResponse, e: ApiErrorBody): void {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'request-id': 'req_scripted',
  };
  if (e.retryAfterMs !== undefined) {
    headers['retry-after-ms'] = String(e.retryAfterMs);
    headers['retry-after'] = String(Math.ceil(e.retryAfterMs / 1000));
  }
  res.writeHead(e.status, headers);
  res.end(JSON.stringify({ type: 'error', error: { type: e.type, message: e.message } }));
}

function presentedKey(req: IncomingMessage): string | undefined {
  const x = req.headers['x-api-key'];
  if (typeof x === 'string') return x;
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
}

export class ScriptedServer {
  readonly #opts: Readonly<ScriptedServerOptions>;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** How often each (conversation, turn) was asked: drives `times` on errors and faults. */
  readonly #seen = new Map<string, number>();
  #closing: Promise<void> | undefined;

  constructor(opts: ScriptedServerOptions) {
    this.#opts = Object.freeze({ ...opts });
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) {
          sendError(res, { status: 500, type: 'api_error', message: (err as Error).message });
        } else res.destroy();
      });
    });
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  /** Starts listening; resolves with the base URL (e.g. http://127.0.0.1:41234). */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.port ?? 0, this.#opts.host ?? '127.0.0.1', () => resolve());
    });
    return this.url;
  }

  get url(): string {
    const addr = this.#server.address();
    if (addr === null || typeof addr === 'string') {
      throw new RingfenceError('internal', 'scripted server is not listening');
    }
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  /** Stops the server, dropping hung and streaming connections. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      for (const t of this.#timers) clearTimeout(t);
      this.#server.close(() => resolve());
      for (const s of this.#sockets) s.destroy();
    });
    return this.#closing;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        resolve();
      }, ms);
      this.#timers.add(t);
    });
  }

  /** True when this request should still get the injected error/fault (`times` not used up). */
  #countHit(key: string, times: number | undefined): boolean {
    const n = (this.#seen.get(key) ?? 0) + 1;
    this.#seen.set(key, n);
    return times === undefined || n <= times;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (
      req.method !== 'POST' ||
      (path !== '/v1/messages' && path !== '/v1/messages/count_tokens')
    ) {
      sendError(res, {
        status: 404,
        type: 'not_found_error',
        message: `no route ${req.method} ${path}`,
      });
      return;
    }
    const version = req.headers['anthropic-version'];
    if (typeof version === 'string' && !VERSION_PATTERN.test(version)) {
      sendError(res, {
        status: 400,
        type: 'invalid_request_error',
        message: `unsupported anthropic-version ${version}`,
      });
      return;
    }
    if (this.#opts.requireApiKey !== undefined && presentedKey(req) !== this.#opts.requireApiKey) {
      sendError(res, { status: 401, type: 'authentication_error', message: 'invalid x-api-key' });
      return;
    }
    let body: ScriptedRequest;
    try {
      const parsed: unknown = JSON.parse(await readBody(req));
      if (
        typeof parsed !== 'object' ||
        parsed === null ||
        !Array.isArray((parsed as ScriptedRequest).messages)
      ) {
        throw new Error('body must be an object with a messages array');
      }
      body = parsed;
    } catch (err) {
      sendError(res, {
        status: 400,
        type: 'invalid_request_error',
        message: (err as Error).message,
      });
      return;
    }
    this.#opts.onRequest?.({ path, headers: req.headers, body });
    if (path === '/v1/messages/count_tokens') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ input_tokens: estimateInputTokens(body) }));
      return;
    }
    const script = this.#opts.script;
    const reply = pickReply(script, body);
    if (!reply) {
      const turn = turnIndexOf(body);
      sendError(res, {
        status: 400,
        type: 'invalid_request_error',
        message: `script has no turn ${turn} (it has ${script.turns.length})`,
      });
      return;
    }
    const key = `${requestDigest(body)}:${turnIndexOf(body)}`;
    if (reply.error && this.#countHit(`${key}:error`, reply.error.times)) {
      if (reply.delayMs > 0) await this.#sleep(reply.delayMs);
      sendError(res, reply.error);
      return;
    }
    const fault =
      reply.fault && this.#countHit(`${key}:fault`, reply.fault.times) ? reply.fault : undefined;
    if (fault?.kind === 'hang') return; // never answer; the socket is dropped on close()
    if (body.stream === true) {
      await this.#stream(
        res,
        body,
        reply,
        fault?.kind === 'disconnect' ? fault.afterEvents : undefined,
      );
      return;
    }
    if (reply.delayMs > 0) await this.#sleep(reply.delayMs);
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_scripted' });
    res.end(JSON.stringify(buildMessage(script, body, reply)));
  }

  async #stream(
    res: ServerResponse,
    body: ScriptedRequest,
    reply: ScriptReply,
    disconnectAfter: number | undefined,
  ): Promise<void> {
    const script = this.#opts.script;
    const msg = buildMessage(script, body, reply);
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'request-id': 'req_scripted',
    });
    let sent = 0;
    let written: Promise<void> = Promise.resolve();
    const send = (e: SseEvent): boolean => {
      if (res.destroyed) return false;
      if (disconnectAfter !== undefined && sent >= disconnectAfter) {
        // Drop the connection without the terminating chunk once what was sent is written out:
        // on Node 24 the writes of this tick are still queued, and ending the socket now would
        // drop them (the client would see no response at all, not a cut stream).
        void written.then(() => res.socket?.destroySoon());
        return false;
      }
      written = new Promise((resolve) => res.write(formatSse(e), () => resolve()));
      if (e.event !== 'ping') sent += 1;
      return true;
    };
    if (!send(messageStartEvent(msg)) || !send(PING_EVENT)) return;
    let waitedMs = 0;
    while (waitedMs < reply.delayMs) {
      const stepMs = Math.min(script.pingIntervalMs, reply.delayMs - waitedMs);
      await this.#sleep(stepMs);
      waitedMs += stepMs;
      if (!send(PING_EVENT)) return;
    }
    for (const e of bodyEvents(msg, script.chunkChars)) {
      if (!send(e)) return;
    }
    res.end();
  }
}

// One session's listening unix socket (mode 0600): the socket IS the session identity, so no
// header can claim another session. Serves absolute-form HTTP requests and CONNECT tunnels.
import { createServer, type Server, type ServerResponse } from 'node:http';
import { chmod, lstat, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { RingfenceError } from '../errors.js';
import { createTerminator } from './tls-terminate.js';
import { handleConnect } from './connect-tunnel.js';
import type { RelayLink } from './relay-process.js';
import { handlePlainRequest, handleTerminatedRequest, type TunnelInfo } from './http-forward.js';
import { denyMessage, rawDenyResponse } from './reasons.js';
import { relayMark, track, type SessionContext } from './session-context.js';

const HEADERS_TIMEOUT_MS = 30_000;
const MAX_HEADER_BYTES = 32 * 1024;

export interface SessionStats {
  tunnels: number;
  bytes: number;
  connections: number;
}

/** A per-session handle; `close()` is idempotent and closes every connection of the session. */
export class EgressSession {
  readonly sessionId: string;
  readonly socketPath: string;
  readonly #ctx: SessionContext;
  readonly #server: Server;
  readonly #inner: Server;
  readonly #onClose: () => void;
  #closing: Promise<void> | undefined;

  private constructor(ctx: SessionContext, socketPath: string, onClose: () => void) {
    this.sessionId = ctx.sessionId;
    this.socketPath = socketPath;
    this.#ctx = ctx;
    this.#onClose = onClose;
    const tunnels = new WeakMap<object, TunnelInfo>();
    const failClosed = (res: ServerResponse, err: unknown): void => {
      ctx.logger.error({ sessionId: ctx.sessionId, err }, 'egress evaluation failed');
      if (!res.headersSent) {
        res.writeHead(403, { 'X-Proxy-Error': 'evaluation_error', 'Content-Type': 'text/plain' });
        res.end(denyMessage({ reason: 'evaluation_error' }));
      } else res.destroy();
    };
    const options = {
      headersTimeout: HEADERS_TIMEOUT_MS,
      maxHeaderSize: MAX_HEADER_BYTES,
      requestTimeout: 0,
    };
    this.#inner = createServer(options, (req, res) => {
      const tunnel = tunnels.get(req.socket);
      if (!tunnel || ctx.closed) return void res.destroy();
      try {
        handleTerminatedRequest(ctx, tunnel, req, res);
      } catch (err) {
        failClosed(res, err);
      }
    });
    const terminate = createTerminator(ctx, this.#inner, tunnels);
    this.#server = createServer(options, (req, res) => {
      const mark = relayMark(ctx, req); // read on every request: it records the first one
      if (ctx.closed) return void res.destroy();
      handlePlainRequest(ctx, req, res, mark?.conn).catch((err: unknown) => failClosed(res, err));
    });
    this.#server.maxConnections = ctx.limiter.limits.maxClientConnections;
    this.#server.on('connection', (socket: Socket) => track(ctx, socket));
    this.#server.on('connect', (req, socket: Socket, head: Buffer) => {
      if (ctx.closed) return void socket.destroy();
      handleConnect(ctx, req, socket, head, terminate).catch((err: unknown) => {
        ctx.logger.error({ sessionId: ctx.sessionId, err }, 'egress CONNECT failed');
        socket.destroy();
      });
    });
    // Unparseable requests (bad bytes in the URL, oversized headers) get a 400, nothing echoed.
    this.#server.on('clientError', (_err, socket: Socket) => {
      if (socket.writable) socket.end(rawDenyResponse({ reason: 'invalid_request' }));
      else socket.destroy();
    });
    this.#inner.on('clientError', (_err, socket: Socket) => socket.destroy());
  }

  /** Listens on `socketPath` (which must not exist yet) and restricts it to mode 0600. */
  static async open(
    ctx: SessionContext,
    socketPath: string,
    onClose: () => void,
  ): Promise<EgressSession> {
    const exists = await lstat(socketPath).then(
      () => true,
      () => false,
    );
    if (exists)
      throw new RingfenceError('conflict', `egress socket path already exists: ${socketPath}`);
    const session = new EgressSession(ctx, socketPath, onClose);
    await new Promise<void>((resolve, reject) => {
      session.#server.once('error', reject);
      session.#server.listen(socketPath, () => {
        session.#server.off('error', reject);
        resolve();
      });
    });
    try {
      await chmod(socketPath, 0o600);
    } catch (err) {
      await session.close();
      throw err;
    }
    return session;
  }

  /**
   * Lets `relay` dial and splice the CONNECT tunnels and plain responses' bodies of the client
   * connections it marks. Attach only a relay that alone can reach this session's socket (see
   * src/egress/relay.c); without one every byte passes here.
   */
  attachRelay(relay: RelayLink | undefined): void {
    this.#ctx.relay = relay;
  }

  stats(): SessionStats {
    return {
      tunnels: this.#ctx.limiter.tunnels,
      bytes: this.#ctx.limiter.bytes,
      connections: this.#ctx.sockets.size,
    };
  }

  /** Stops listening, destroys every connection and removes the socket. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#ctx.closed = true;
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const s of this.#ctx.sockets) s.destroy();
      for (const id of this.#ctx.spliced) this.#ctx.relay?.drop(id);
      this.#inner.close();
      await closed;
      await rm(this.socketPath, { force: true });
      this.#onClose();
    })();
    return this.#closing;
  }
}

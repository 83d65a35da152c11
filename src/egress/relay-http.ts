// Plain HTTP requests on connections the relay marked: the relay dials the pinned IP and hands
// the proxy a leg to it; a response body the proxy need not see is spliced by the relay.
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { keepLeg, LegView, takeLeg } from './relay-leg.js';
import { LEG_REFUSED, type BodyAt, type BodyEnd } from './relay-process.js';
import type { RelayedConnection, SessionContext } from './session-context.js';

/**
 * Runs `handle` once the connection's previous request is answered. The relay holds one
 * upstream per connection, and the place of a spliced body in the client stream is only known
 * once the responses before it are written.
 */
export async function inTurn(
  conn: RelayedConnection,
  req: IncomingMessage,
  res: ServerResponse,
  handle: () => Promise<void>,
): Promise<void> {
  const previous = conn.turn;
  conn.turn = answered(req.socket, res);
  // the next request's leg, opened once this one is answered (when it needed one)
  void conn.turn.then(() => conn.relay.openAhead());
  await previous;
  await handle();
}

/** Settles when `res` is written out or given up (its connection closed). */
function answered(socket: Socket, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    const done = (): void => {
      res.off('close', done);
      socket.off('close', done);
      resolve();
    };
    res.once('close', done);
    socket.once('close', done);
  });
}

/**
 * How much of this response's body the relay can splice: its length, -1 (delimited by the
 * upstream's close), or undefined when the proxy must copy it (chunked, or not a plain length).
 */
export function spliceLength(method: string, up: IncomingMessage): number | undefined {
  const status = up.statusCode ?? 0;
  if (status < 200) return undefined; // a 101 nobody asked for: the proxy handles the oddity
  if (method === 'HEAD' || status === 204 || status === 304) return 0;
  if (up.headers['transfer-encoding'] !== undefined) return undefined;
  const length = up.headers['content-length'];
  if (length === undefined) return -1;
  return /^\d{1,15}$/.test(length) ? Number(length) : undefined;
}

/**
 * Whether the leg may carry the connection's next request after this exchange: upstream keeps
 * the connection (HTTP/1.1, no `close`) and the request was all written.
 */
function reusable(upstream: ClientRequest, up: IncomingMessage): boolean {
  const keepsAlive = up.httpVersion === '1.1' && !/\bclose\b/i.test(up.headers.connection ?? '');
  return keepsAlive && upstream.writableFinished;
}

/** How a request the relay carried ended: bytes from upstream, and why (`bytes_exceeded`: cut). */
export type CarriedDone = (bytesIn: number, why: BodyEnd | 'bytes_exceeded') => void;

/** The parts of a carried request the body's hand-off works with. */
interface RelayedRequest {
  ctx: SessionContext;
  conn: RelayedConnection;
  leg: Socket;
  view: LegView;
  ip: string;
  port: number;
  req: IncomingMessage;
  res: ServerResponse;
  reused: boolean;
}

/**
 * A plain request the relay carries: the http client writes it on the leg through `view`, the
 * relay sends back the response head, and `answer` tells the relay what to do with the body.
 */
export class CarriedRequest {
  readonly view: LegView;
  /** The leg was kept from the connection's last request (its upstream may have closed since). */
  readonly reused: boolean;
  /** The relay splices the response body: the event comes at its end, from `answer`'s `done`. */
  spliced = false;
  readonly #r: RelayedRequest;
  /** What the leg had carried before this exchange. */
  readonly #base: number;
  #answered = false;

  private constructor(r: RelayedRequest) {
    this.#r = r;
    this.view = r.view;
    this.reused = r.reused;
    this.#base = r.leg.bytesRead - r.leg.readableLength;
  }

  /**
   * The connection's leg to ip:port (kept or dialled now). `unreachable`: the dial failed;
   * undefined: the session socket had no room for the leg (its connection limit), the proxy
   * carries this request itself.
   */
  static async open(
    ctx: SessionContext,
    conn: RelayedConnection,
    target: { ip: string; port: number },
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<CarriedRequest | 'unreachable' | undefined> {
    const leg = await takeLeg(conn, target.ip, target.port);
    if (!leg.ok) return leg.errno === LEG_REFUSED ? undefined : 'unreachable';
    const view = new LegView(leg.socket);
    const reused = leg.reused === true;
    return new CarriedRequest({ ctx, conn, leg: leg.socket, view, ...target, req, res, reused });
  }

  /** The response will not be answered (upstream failed, the client left): the relay drops it. */
  giveUp(): void {
    if (this.#answered) return;
    this.#answered = true;
    this.#r.leg.destroy();
    this.#r.conn.relay.drop(this.#r.conn.id);
  }

  /**
   * Answers the relay about the response `up`. Spliced (true): the head is written with
   * `headers`, the relay moves the body and `done` reports the end. Copied (false): the caller
   * forwards the body from `up` (and reports); the leg is kept or closed at its end.
   */
  answer(
    upstream: ClientRequest,
    up: IncomingMessage,
    headers: string[],
    done: CarriedDone,
  ): boolean {
    if (this.#answered) return false;
    this.#answered = true;
    const r = this.#r;
    // a request still being uploaded stays with the proxy (ending it early would reset it)
    const length = r.req.readableEnded ? spliceLength(r.req.method ?? 'GET', up) : undefined;
    // what the leg carried of this exchange (heads, body copied ahead) and the spliced rest
    const report = (spliced: number, why: BodyEnd | 'bytes_exceeded'): void =>
      done(r.leg.bytesRead - this.#base + spliced, why);
    this.spliced = length !== undefined && spliceBody(r, upstream, up, headers, length, report);
    if (!this.spliced) copyBody(r, upstream, up);
    return this.spliced;
  }
}

/** COPY: the relay copies the body to the leg; at its end the leg is kept (HEAD) or closed. */
function copyBody(r: RelayedRequest, upstream: ClientRequest, up: IncomingMessage): void {
  r.conn.relay.copy(r.conn.id);
  let ended = false;
  up.once('end', () => {
    ended = true;
    r.view.destroy();
    // nothing of this exchange may be left on it either way
    const spent = !r.leg.destroyed && r.leg.readableLength === 0;
    if (!reusable(upstream, up) || !spent) return r.leg.destroy();
    const ready = r.conn.relay.rearm(r.conn.id).then((errno) => errno === 0);
    keepLeg(r.conn, r.leg, r, ready);
  });
  up.once('close', () => {
    if (!ended) r.leg.destroy();
  });
}

/**
 * The relay moves this body: the response head is written here with what of the body came on
 * the leg (at most the relay's copy-ahead), then the relay splices the rest right after it. False
 * (nothing written) when the response is not yet first in line on its connection: the caller
 * copies.
 */
function spliceBody(
  r: RelayedRequest,
  upstream: ClientRequest,
  up: IncomingMessage,
  responseHeaders: string[],
  length: number,
  done: (spliced: number, why: BodyEnd | 'bytes_exceeded') => void,
): boolean {
  const { ctx, conn, res } = r;
  const client = res.socket;
  if (!client || client.destroyed) return false;
  const headers = [...responseHeaders];
  if (length < 0) {
    // the body ends with the connection: no chunked framing, and the client is told so
    res.useChunkedEncodingByDefault = false;
    headers.push('Connection', 'close');
  }
  res.writeHead(up.statusCode ?? 502, headers);
  const at = conn.relay.bodyAt(conn.id, length);
  let forwarded = 0;
  let over = false;
  const end = (why: BodyEnd | 'bytes_exceeded', spliced = 0): void => {
    if (over) return;
    over = true;
    done(spliced, why);
  };
  const onData = (chunk: Buffer): void => {
    forwarded += chunk.length;
    if (!ctx.limiter.addBytes(chunk.length)) {
      up.off('data', onData);
      conn.relay.drop(conn.id);
      r.leg.destroy();
      res.destroy();
      return end('bytes_exceeded');
    }
    res.write(chunk); // at most the relay's copy-ahead (64 KiB) is buffered here
    void at.then(handOver);
  };
  let handed = false;
  const handOver = (state: BodyAt): void => {
    if (handed || over || state?.rest !== 'held' || forwarded < state.bytes) return;
    handed = true;
    up.off('data', onData);
    r.view.destroy(); // the rest never comes on the leg
    res.flushHeaders();
    // counts bytes still queued in the socket too (Node 20 and 22): the body goes after them
    spliceRest(r, client, length >= 0 && reusable(upstream, up), (bytes, why) => end(why, bytes));
  };
  up.on('data', onData);
  // all of the body came on the leg: it ends here, and the leg may serve the next request
  up.once('end', () => {
    if (handed || over) return;
    res.end();
    r.view.destroy();
    if (!reusable(upstream, up)) r.leg.destroy();
    else
      keepLeg(
        conn,
        r.leg,
        r,
        at.then((state) => state?.rest === 'next'),
      );
    end('done');
  });
  up.once('close', () => {
    if (handed || over || up.complete) return;
    r.leg.destroy(); // the leg or the relay went away mid-body
    res.destroy();
    end('error');
  });
  void at.then((state) => {
    if (state) return handOver(state);
    res.destroy(); // the relay has no such response (its connection is gone)
    r.leg.destroy();
    end('error');
  });
  return true;
}

/** GO: the relay splices the held rest of the body after all that the proxy wrote so far. */
function spliceRest(
  r: RelayedRequest,
  client: Socket,
  reusable: boolean,
  done: (bytes: number, why: BodyEnd | 'bytes_exceeded') => void,
): void {
  const { ctx, conn, res } = r;
  let counted = 0;
  let capped = false;
  const count = (bytes: number): boolean => {
    const ok = ctx.limiter.addBytes(bytes - counted);
    counted = bytes;
    return ok;
  };
  ctx.spliced.add(conn.id);
  conn.relay.body(conn.id, client.bytesWritten, ctx.limiter.limits.idleTimeoutMs, {
    onBytes: (bytes) => {
      touch(client);
      if (!count(bytes) && !capped) {
        capped = true;
        conn.relay.drop(conn.id);
      }
    },
    onEnd: (bytes, why) => {
      count(bytes);
      ctx.spliced.delete(conn.id);
      // Ended only now: the server's keep-alive timer and the next response wait for the body.
      if (why === 'done') res.end();
      else res.destroy();
      // the relay waits for the next head on the leg after a complete body
      if (why === 'done' && reusable && !r.leg.destroyed) keepLeg(conn, r.leg, r, NEXT_HEAD);
      else r.leg.destroy();
      done(bytes, capped && why === 'drop' ? 'bytes_exceeded' : why);
    },
  });
}

/** The relay waits for the next head after a complete spliced body (it said so with BODYEND). */
const NEXT_HEAD = Promise.resolve(true);

/** Re-arms the socket's idle timer: the spliced body is traffic the socket itself never sees. */
function touch(socket: Socket): void {
  if (socket.timeout) socket.setTimeout(socket.timeout);
}

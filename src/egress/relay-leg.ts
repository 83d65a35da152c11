// The relay's legs as the proxy holds them: the one kept per connection for its next request to
// the same address, and the per-request view the http client writes and reads through.
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { Leg } from './relay-process.js';
import type { RelayedConnection } from './session-context.js';

/** A kept leg closes after this idle (below the common 5 s server keep-alive timeout). */
export const LEG_IDLE_MS = 4_000;

interface KeptLeg {
  socket: Socket;
  ip: string;
  port: number;
  /** True once the relay waits for the next head on it. */
  ready: Promise<boolean>;
  timer: NodeJS.Timeout;
  /** Closes the leg: read while kept, its end (relay, upstream) or any byte is its last word. */
  idle: () => void;
}

const kept = new WeakMap<RelayedConnection, KeptLeg>();

/** The connection's leg to ip:port: the one kept from its last request, else a new UPSTREAM. */
export async function takeLeg(conn: RelayedConnection, ip: string, port: number): Promise<Leg> {
  const leg = kept.get(conn);
  if (leg) {
    kept.delete(conn);
    clearTimeout(leg.timer);
    const same = leg.ip === ip && leg.port === port && (await leg.ready);
    // still read until here: an end that came meanwhile destroyed it
    leg.socket.off('data', leg.idle).off('end', leg.idle).pause();
    if (same && !leg.socket.destroyed) return { ok: true, socket: leg.socket, reused: true };
    leg.socket.destroy(); // the relay closes its upstream with it (or at the UPSTREAM below)
  }
  const opened = await conn.relay.upstream(conn.id, ip, port);
  if (opened.ok) {
    const socket = opened.socket;
    socket.once('close', () => {
      if (kept.get(conn)?.socket !== socket) return;
      clearTimeout(kept.get(conn)?.timer);
      kept.delete(conn);
    });
  }
  return opened;
}

/** Keeps `socket` for the connection's next request (closed after LEG_IDLE_MS unused). */
export function keepLeg(
  conn: RelayedConnection,
  socket: Socket,
  target: { ip: string; port: number },
  ready: Promise<boolean>,
): void {
  const idle = (): void => void socket.destroy();
  const timer = setTimeout(idle, LEG_IDLE_MS);
  timer.unref();
  // a leg server-side socket is half-open: its end alone would not close it
  socket.on('data', idle).on('end', idle).resume();
  kept.set(conn, { socket, ...target, ready, timer, idle });
}

/**
 * One request's view of a leg, given to the http client as its socket: writes go to the leg,
 * the leg's bytes come here until the view is destroyed. Destroying it (at a BODY verdict, at
 * the response's end) detaches that request and leaves the leg open for the next one.
 */
export class LegView extends Duplex {
  readonly #leg: Socket;
  readonly #onData = (chunk: Buffer): void => {
    if (!this.push(chunk)) this.#leg.pause();
  };
  readonly #onEnd = (): void => void this.push(null);
  readonly #onClose = (): void => void this.destroy();

  constructor(leg: Socket) {
    super();
    this.#leg = leg;
    // the http client stops listening at a kept-alive response's end; a late error is no crash
    this.on('error', () => undefined);
    leg.on('data', this.#onData);
    leg.on('end', this.#onEnd);
    leg.on('close', this.#onClose);
  }

  override _read(): void {
    this.#leg.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, done: (err?: Error) => void): void {
    if (this.#leg.destroyed)
      return done(Object.assign(new Error('relay leg closed'), { code: 'EPIPE' }));
    this.#leg.write(chunk, encoding, () => done());
  }

  override _final(done: () => void): void {
    done(); // the leg outlives the request
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    this.#leg.off('data', this.#onData);
    this.#leg.off('end', this.#onEnd);
    this.#leg.off('close', this.#onClose);
    this.#leg.pause();
    done(err);
  }
}

// The C egress relay (src/egress/relay.c, build/rf-relay) as seen from the proxy: starts it in a
// sandbox's network namespace and speaks its control protocol. Through it an approved CONNECT
// tunnel, or a plain request's response body, moves by splice in the relay, never copied here.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { SandboxError } from '../errors.js';

/** The relay binary next to the sources' root (build/rf-relay), when it was built. */
export function relayBinary(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/egress or dist/egress -> <root>/build/rf-relay
  const path = join(here, '..', '..', 'build', 'rf-relay');
  return existsSync(path) ? path : undefined;
}

/** The header the relay inserts first into the first request head of each client connection. */
export const RELAY_HEADER = 'x-ringfence-relay';
/** The second header of a leg (the relay's own connection for an UPSTREAM): its nonce. */
export const LEG_HEADER = 'x-ringfence-leg';

export type TunnelEnd = 'eof' | 'idle' | 'error' | 'drop' | 'relay_exit';
/** How a spliced body ended: `done` is complete; otherwise the relay closed the client. */
export type BodyEnd = 'done' | 'short' | 'idle' | 'error' | 'drop' | 'relay_exit';

export interface SplicedTunnel {
  /** Progress: totals so far (in = from upstream, out = to upstream). */
  onBytes(bytesIn: number, bytesOut: number): void;
  onEnd(bytesIn: number, bytesOut: number, why: TunnelEnd): void;
}

export interface SplicedBody {
  /** Progress: body bytes moved so far. */
  onBytes(bytes: number): void;
  onEnd(bytes: number, why: BodyEnd): void;
}

/**
 * Where a body stands after `bodyAt`: `bytes` of it went on the leg; `held`: the relay splices
 * the rest on `body()`; `next`: all of it is there and the relay waits for the next head;
 * `copy`: all of it is there, and the relay copies on until the leg closes.
 */
export type BodyAt = { bytes: number; rest: 'held' | 'next' | 'copy' } | undefined;

/** The upstream of a plain request: the leg socket that carries it, or why there is none. */
export type Leg = { ok: true; socket: Socket; reused?: boolean } | { ok: false; errno: number };

/** What a session needs of its relay. */
export interface RelayLink {
  /** Connects the relay's connection `id` to ip:port; resolves the errno (0 = connected). */
  dial(id: string, ip: string, port: number): Promise<number>;
  /** Approves the tunnel: from now on its bytes move between client and upstream in the relay. */
  splice(id: string, idleMs: number, tunnel: SplicedTunnel): void;
  /** Resumes forwarding the client's bytes to the proxy (TLS termination of a bound host). */
  pass(id: string): void;
  /**
   * Closes the relay's upstream connection of `id`: of a tunnel (the proxy ends its own leg), of
   * a plain request not yet answered (the connection goes on), of a spliced body (and the client).
   */
  drop(id: string): void;
  /**
   * Dials ip:port for the plain request in progress on connection `id`; resolves the leg: the
   * relay's connection to the session socket that carries the request upstream and brings the
   * response head back (the session hands it over through `claimLeg`), or the errno. A leg the
   * relay opened ahead comes at once, while the relay dials: a failed dial then closes it.
   */
  upstream(id: string, ip: string, port: number): Promise<Leg>;
  /**
   * Gives `socket` to the `upstream(id)` waiting for it, or keeps it as a leg opened ahead (id
   * 0); false when the nonce is not one the proxy gave.
   */
  claimLeg(id: string, nonce: string, socket: Socket): boolean;
  /**
   * A plain request is answered: a leg is opened ahead now, off the request's path, if one was
   * taken or missed since the last one was asked for.
   */
  openAhead(): void;
  /**
   * The response's body has `length` bytes (-1: until upstream closes) and is for the relay to
   * move: it stops copying the body to the leg and resolves how much already went there (the
   * proxy forwards that) and what follows; undefined: no such response.
   */
  bodyAt(id: string, length: number): Promise<BodyAt>;
  /**
   * The relay splices the rest of that body into the client stream right after the first
   * `after` bytes the proxy wrote on the client's unix connection (a body delimited by the close:
   * then closes the client). `body` counts those spliced bytes.
   */
  body(id: string, after: number, idleMs: number, body: SplicedBody): void;
  /** The proxy reads the response body itself from the leg (closing the leg ends the request). */
  copy(id: string): void;
  /**
   * A copied response ended: the relay waits for the next response head on the same upstream and
   * leg. Resolves 0 once the leg may carry the next request, else the errno (the leg is closed).
   */
  rearm(id: string): Promise<number>;
}

export interface StartRelayOptions {
  /** The session's unix socket, which the relay connects to for every client connection. */
  socketPath: string;
  /** The sandbox's network namespace (e.g. /proc/PID/ns/net); absent: the current one. */
  netns?: string;
  /** Port on 127.0.0.1 to listen on; 0 picks one (reported as `port`). */
  port: number;
  /** uid/gid the relay drops to after binding (needs root to start with). */
  uid?: number;
  gid?: number;
  binary?: string;
}

/** The entry for `id`, removed: each relay answer settles what waits for it once. */
function take<T>(map: Map<string, T>, id: string): T | undefined {
  const value = map.get(id);
  map.delete(id);
  return value;
}

const READY_TIMEOUT_MS = 10_000;
/** Past the relay's own 10 s dial timeout: a leg that has not come by then never will. */
const LEG_TIMEOUT_MS = 15_000;
/** The errno a dial reports when the relay is gone. */
const ECONNABORTED = 103;
/** UPFAIL's errno for a leg the session socket refused (its connection limit): dialled fine. */
export const LEG_REFUSED = 104; // ECONNRESET
const ETIMEDOUT = 110;
const EBUSY = 16;

interface PendingLeg {
  nonce: Buffer;
  done: (leg: Leg) => void;
}

/** Legs the relay keeps open ahead of need (its SPARE), so a new request need not wait for one. */
const SPARES = 1;

/** A leg asked for ahead: its nonce, and its socket once it came. */
interface SpareLeg {
  hex: string;
  askedAt: number;
  socket?: Socket;
}

/** Whether `given` is `expected` (hex nonces), in constant time. */
function sameNonce(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'latin1');
  const b = Buffer.from(expected, 'latin1');
  return a.length === b.length && timingSafeEqual(a, b);
}

export class RelayProcess implements RelayLink {
  readonly port: number;
  readonly #child: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly #dials = new Map<string, (errno: number) => void>();
  readonly #tunnels = new Map<string, SplicedTunnel & { in: number; out: number }>();
  readonly #legs = new Map<string, PendingLeg>();
  readonly #spares: SpareLeg[] = [];
  /** Requests written on a spare leg while the relay dials: their UPFAIL closes that leg. */
  readonly #spareDials = new Map<string, SpareLeg>();
  #spareWanted = false;
  readonly #bodies = new Map<string, SplicedBody & { bytes: number }>();
  readonly #rearms = new Map<string, (errno: number) => void>();
  readonly #bodyAts = new Map<string, (at: BodyAt) => void>();
  #exited = false;

  private constructor(child: ChildProcessByStdio<Writable, Readable, Readable>, port: number) {
    this.#child = child;
    this.port = port;
  }

  /** Starts the relay and resolves once it listens. */
  static async start(options: StartRelayOptions): Promise<RelayProcess> {
    const binary = options.binary ?? relayBinary();
    if (!binary)
      throw new SandboxError(
        'sandbox_unavailable',
        'rf-relay is not built (scripts/build-supervisor.sh)',
      );
    const args = ['--socket', options.socketPath, '--port', String(options.port)];
    if (options.netns) args.push('--netns', options.netns);
    if (options.uid !== undefined)
      args.push('--uid', String(options.uid), '--gid', String(options.gid ?? options.uid));
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    let pending = '';
    let ready = false;
    // Replaced once the relay object exists (nothing but READY comes before a command is sent).
    let onLine: (line: string) => void = () => undefined;
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new SandboxError('sandbox_unavailable', 'egress relay did not start'));
      }, READY_TIMEOUT_MS);
      child.stdout.setEncoding('latin1').on('data', (d: string) => {
        pending += d;
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (!ready && line.startsWith('READY ')) {
            ready = true;
            clearTimeout(timer);
            resolve(Number(line.slice(6)));
          } else onLine(line);
        }
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(
          new SandboxError('sandbox_unavailable', `egress relay exited ${code}: ${stderr.trim()}`),
        );
      });
    });
    const r = new RelayProcess(child, port);
    onLine = (line) => r.#onLine(line);
    child.removeAllListeners('exit');
    child.once('exit', () => r.#onExit());
    child.stdin.on('error', () => undefined);
    return r;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  #send(line: string): void {
    if (!this.#exited) this.#child.stdin.write(`${line}\n`);
  }

  #onLine(line: string): void {
    const [verb = '', id = '', a = '0', b = '0', why = 'eof'] = line.split(' ');
    switch (verb) {
      case 'DIALED':
        take(this.#dials, id)?.(Number(a));
        break;
      case 'BYTES': {
        const body = this.#bodies.get(id);
        if (body) {
          body.bytes = Number(a);
          body.onBytes(body.bytes);
          break;
        }
        const t = this.#tunnels.get(id);
        if (t) {
          t.in = Number(a);
          t.out = Number(b);
          t.onBytes(t.in, t.out);
        }
        break;
      }
      case 'END':
        take(this.#tunnels, id)?.onEnd(Number(a), Number(b), why as TunnelEnd);
        break;
      case 'UPFAIL': {
        // only the UPSTREAM it answers (a late one must not fail the connection's next)
        const pending = this.#legs.get(id);
        if (pending && (b === '-' || b === pending.nonce.toString('hex')))
          pending.done({ ok: false, errno: Number(a) });
        const spare = this.#spareDials.get(id);
        if (spare && (b === '-' || b === spare.hex)) {
          this.#spareDials.delete(id);
          spare.socket?.destroy(); // the request on it ends as unreachable
        }
        // a spare the relay could not open
        if (id === '0') this.#dropSpare(this.#spares.find((s) => s.hex === b));
        break;
      }
      case 'BODYAT': {
        const rest = b === 'held' || b === 'next' || b === 'copy' ? b : undefined;
        take(this.#bodyAts, id)?.(rest && { bytes: Number(a), rest });
        break;
      }
      case 'HEADED':
        take(this.#rearms, id)?.(Number(a));
        break;
      case 'BODYEND':
        take(this.#bodies, id)?.onEnd(Number(a), b as BodyEnd);
        break;
      default:
        break; // unknown lines are ignored (a newer relay may say more)
    }
  }

  #onExit(): void {
    this.#exited = true;
    for (const done of this.#dials.values()) done(ECONNABORTED);
    this.#dials.clear();
    for (const t of this.#tunnels.values()) t.onEnd(t.in, t.out, 'relay_exit');
    this.#tunnels.clear();
    for (const leg of this.#legs.values()) leg.done({ ok: false, errno: ECONNABORTED });
    for (const spare of this.#spares) spare.socket?.destroy();
    this.#spares.length = 0;
    for (const body of this.#bodies.values()) body.onEnd(body.bytes, 'relay_exit');
    this.#bodies.clear();
    for (const done of this.#rearms.values()) done(ECONNABORTED);
    this.#rearms.clear();
    for (const done of this.#bodyAts.values()) done(undefined);
    this.#bodyAts.clear();
  }

  dial(id: string, ip: string, port: number): Promise<number> {
    if (this.#exited) return Promise.resolve(ECONNABORTED);
    return new Promise((resolve) => {
      this.#dials.set(id, resolve);
      this.#send(`DIAL ${id} ${ip} ${port}`);
    });
  }

  splice(id: string, idleMs: number, tunnel: SplicedTunnel): void {
    if (this.#exited) return tunnel.onEnd(0, 0, 'relay_exit');
    this.#tunnels.set(id, { ...tunnel, in: 0, out: 0 });
    this.#send(`SPLICE ${id} ${Math.max(0, Math.floor(idleMs))}`);
  }

  pass(id: string): void {
    this.#send(`PASS ${id}`);
  }

  drop(id: string): void {
    this.#send(`DROP ${id}`);
  }

  upstream(id: string, ip: string, port: number): Promise<Leg> {
    if (this.#exited) return Promise.resolve({ ok: false, errno: ECONNABORTED });
    // one upstream per connection: the session's turns guarantee it, the relay checks it too
    if (this.#legs.has(id)) return Promise.resolve({ ok: false, errno: EBUSY });
    const spare = this.#takeSpare();
    if (spare?.socket) {
      const socket = spare.socket;
      this.#spareDials.set(id, spare);
      socket.once('close', () => {
        if (this.#spareDials.get(id) === spare) this.#spareDials.delete(id);
      });
      this.#send(`UPSTREAM ${id} ${ip} ${port} ${spare.hex}`);
      this.#spareWanted = true;
      return Promise.resolve({ ok: true, socket });
    }
    this.#spareWanted = true; // for the next request: this one opens its leg after the dial
    const nonce = randomBytes(16);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        done({ ok: false, errno: ETIMEDOUT });
        this.drop(id); // a leg still on its way finds no taker and is refused
      }, LEG_TIMEOUT_MS);
      const done = (leg: Leg): void => {
        clearTimeout(timer);
        this.#legs.delete(id);
        resolve(leg);
      };
      this.#legs.set(id, { nonce, done });
      this.#send(`UPSTREAM ${id} ${ip} ${port} ${nonce.toString('hex')}`);
    });
  }

  claimLeg(id: string, nonce: string, socket: Socket): boolean {
    if (id === '0') {
      const spare = this.#spares.find((s) => !s.socket && sameNonce(nonce, s.hex));
      if (!spare) return false;
      spare.socket = socket;
      socket.once('close', () => this.#dropSpare(spare));
      return true;
    }
    const pending = this.#legs.get(id);
    if (!pending || !sameNonce(nonce, pending.nonce.toString('hex'))) return false;
    pending.done({ ok: true, socket });
    return true;
  }

  openAhead(): void {
    // Not at UPSTREAM: the proxy would accept the new leg while the request is in flight.
    if (!this.#spareWanted) return;
    this.#spareWanted = false;
    this.#askSpare();
  }

  /** A spare leg that came and is open, taken out of the spares; gone or late ones are dropped. */
  #takeSpare(): SpareLeg | undefined {
    const now = Date.now();
    for (const spare of [...this.#spares]) {
      if (spare.socket && !spare.socket.destroyed) {
        this.#dropSpare(spare);
        return spare;
      }
      // refused on its way (the session's connection limit), or closed since it came
      if (spare.socket || now - spare.askedAt > LEG_TIMEOUT_MS) this.#dropSpare(spare);
    }
    return undefined;
  }

  /**
   * Asks the relay for a leg ahead. Only after a request took one or found none: a spare that
   * closes unused (the idle timeout) is not replaced until a request needs a leg again.
   */
  #askSpare(): void {
    if (this.#exited || this.#spares.length >= SPARES) return;
    const spare = { hex: randomBytes(16).toString('hex'), askedAt: Date.now() };
    this.#spares.push(spare);
    this.#send(`SPARE ${spare.hex}`);
  }

  #dropSpare(spare: SpareLeg | undefined): void {
    const at = spare ? this.#spares.indexOf(spare) : -1;
    if (at >= 0) this.#spares.splice(at, 1);
  }

  bodyAt(id: string, length: number): Promise<BodyAt> {
    if (this.#exited || this.#bodyAts.has(id)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#bodyAts.set(id, resolve);
      this.#send(`BODY ${id} ${length}`);
    });
  }

  body(id: string, after: number, idleMs: number, body: SplicedBody): void {
    if (this.#exited) return body.onEnd(0, 'relay_exit');
    this.#bodies.set(id, { ...body, bytes: 0 });
    this.#send(`GO ${id} ${after} ${Math.max(0, Math.floor(idleMs))}`);
  }

  copy(id: string): void {
    this.#send(`COPY ${id}`);
  }

  rearm(id: string): Promise<number> {
    if (this.#exited) return Promise.resolve(ECONNABORTED);
    if (this.#rearms.has(id)) return Promise.resolve(EBUSY);
    return new Promise((resolve) => {
      this.#rearms.set(id, resolve);
      this.#send(`HEAD ${id}`);
    });
  }

  /** Kills the relay and with it every connection and tunnel it holds. */
  stop(): void {
    if (!this.#exited) this.#child.kill('SIGKILL');
  }
}

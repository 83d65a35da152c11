// The C egress relay (src/egress/relay.c, build/rf-relay) as seen from the proxy: starts it in a
// sandbox's network namespace and speaks its control protocol. Through it an approved CONNECT
// tunnel is dialled by the relay to the pinned IP and its bytes are spliced, never copied here.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
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

/** The header the relay inserts first into each CONNECT head it forwards. */
export const RELAY_HEADER = 'x-ringfence-relay';

export type TunnelEnd = 'eof' | 'idle' | 'error' | 'drop' | 'relay_exit';

export interface SplicedTunnel {
  /** Progress: totals so far (in = from upstream, out = to upstream). */
  onBytes(bytesIn: number, bytesOut: number): void;
  onEnd(bytesIn: number, bytesOut: number, why: TunnelEnd): void;
}

/** What a session needs of its relay. */
export interface RelayLink {
  /** Connects the relay's connection `id` to ip:port; resolves the errno (0 = connected). */
  dial(id: string, ip: string, port: number): Promise<number>;
  /** Approves the tunnel: from now on its bytes move between client and upstream in the relay. */
  splice(id: string, idleMs: number, tunnel: SplicedTunnel): void;
  /** Resumes forwarding the client's bytes to the proxy (TLS termination of a bound host). */
  pass(id: string): void;
  /** Closes the relay's upstream connection of `id` (the proxy ends its own leg). */
  drop(id: string): void;
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

const READY_TIMEOUT_MS = 10_000;
/** The errno a dial reports when the relay is gone. */
const ECONNABORTED = 103;

export class RelayProcess implements RelayLink {
  readonly port: number;
  readonly #child: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly #dials = new Map<string, (errno: number) => void>();
  readonly #tunnels = new Map<string, SplicedTunnel & { in: number; out: number }>();
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
      case 'DIALED': {
        const done = this.#dials.get(id);
        this.#dials.delete(id);
        done?.(Number(a));
        break;
      }
      case 'BYTES': {
        const t = this.#tunnels.get(id);
        if (t) {
          t.in = Number(a);
          t.out = Number(b);
          t.onBytes(t.in, t.out);
        }
        break;
      }
      case 'END': {
        const t = this.#tunnels.get(id);
        this.#tunnels.delete(id);
        t?.onEnd(Number(a), Number(b), why as TunnelEnd);
        break;
      }
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

  /** Kills the relay and with it every connection and tunnel it holds. */
  stop(): void {
    if (!this.#exited) this.#child.kill('SIGKILL');
  }
}

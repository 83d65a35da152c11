// Host side of the in-sandbox supervisor protocol (newline-delimited JSON over the bwrap
// process's stdin/stdout): correlates requests with events and streams exec output.
import type { Readable, Writable } from 'node:stream';
import { SandboxError } from '../../errors.js';

export interface ExecHandlers {
  onOutput(fd: 1 | 2, data: Buffer): void;
  onExit(code: number, signal: string | undefined): void;
  onError(message: string): void;
}

type SupervisorEvent =
  | { ev: 'ready'; pid: number }
  | { ev: 'started'; id: number; pid: number }
  | { ev: 'out'; id: number; fd: 1 | 2; data: string }
  | { ev: 'exit'; id: number; code: number; signal: string | null }
  | {
      ev: 'result';
      id: number;
      ok: boolean;
      error?: string;
      errno?: number;
      [key: string]: unknown;
    };

export interface FileResult {
  ok: boolean;
  error?: string;
  errno?: number;
  data?: string;
  size?: number;
  entries?: { name: string; type: string; size: number }[];
}

export class SupervisorClient {
  readonly #input: Writable;
  #nextId = 1;
  #buffer = '';
  readonly #execs = new Map<number, ExecHandlers>();
  readonly #pending = new Map<
    number,
    { resolve: (r: FileResult) => void; reject: (e: Error) => void }
  >();
  #closedError: Error | undefined;
  readonly ready: Promise<number>;

  constructor(input: Writable, output: Readable) {
    this.#input = input;
    let readyResolve!: (pid: number) => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ready.catch(() => undefined);
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let nl: number;
      while ((nl = this.#buffer.indexOf('\n')) >= 0) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        this.#dispatch(JSON.parse(line) as SupervisorEvent, readyResolve);
      }
    });
    output.on('close', () => {
      const err = new SandboxError('sandbox_destroyed', 'sandbox supervisor exited');
      readyReject(err);
      this.failAll(err);
    });
    input.on('error', () => undefined);
  }

  #dispatch(event: SupervisorEvent, readyResolve: (pid: number) => void): void {
    switch (event.ev) {
      case 'ready':
        readyResolve(event.pid);
        return;
      case 'started':
        return;
      case 'out':
        this.#execs.get(event.id)?.onOutput(event.fd, Buffer.from(event.data, 'base64'));
        return;
      case 'exit': {
        const h = this.#execs.get(event.id);
        this.#execs.delete(event.id);
        h?.onExit(event.code, event.signal ?? undefined);
        return;
      }
      case 'result': {
        const execHandler = this.#execs.get(event.id);
        if (execHandler && !event.ok) {
          this.#execs.delete(event.id);
          execHandler.onError(event.error ?? 'exec failed');
          return;
        }
        const p = this.#pending.get(event.id);
        this.#pending.delete(event.id);
        p?.resolve(event);
        return;
      }
    }
  }

  #send(msg: Record<string, unknown>): void {
    if (this.#closedError) throw this.#closedError;
    this.#input.write(`${JSON.stringify(msg)}\n`);
  }

  /** Starts a command; returns its id for stdin and kill. */
  exec(
    req: { argv: readonly string[]; env: Record<string, string>; cwd: string; stdin: boolean },
    handlers: ExecHandlers,
  ): number {
    const id = this.#nextId++;
    this.#execs.set(id, handlers);
    this.#send({ op: 'exec', id, ...req });
    return id;
  }

  stdin(id: number, data: Uint8Array): void {
    this.#send({ op: 'stdin', id, data: Buffer.from(data).toString('base64') });
  }

  stdinEnd(id: number): void {
    this.#send({ op: 'stdin_end', id });
  }

  kill(id: number, signal = 9): void {
    if (!this.#closedError) this.#send({ op: 'kill', id, sig: signal });
  }

  request(
    op: 'read' | 'write' | 'list' | 'ping',
    fields: Record<string, unknown>,
  ): Promise<FileResult> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      try {
        this.#send({ op, id, ...fields });
      } catch (err) {
        this.#pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Fails every in-flight exec and request (the sandbox is gone). */
  failAll(err: Error): void {
    this.#closedError ??= err;
    for (const [, h] of this.#execs) h.onError(err.message);
    this.#execs.clear();
    for (const [, p] of this.#pending) p.reject(err);
    this.#pending.clear();
  }
}

// A minimal Docker Engine API client over the unix socket (plain node:http, no dockerode):
// JSON requests, and hijacked attach streams whose stdout/stderr frames are demultiplexed.
import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { SandboxError } from '../../errors.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export interface EngineResponse<T = unknown> {
  status: number;
  body: T;
}

/** A hijacked connection: write raw stdin to `socket`; read demultiplexed stdout/stderr. */
export interface HijackedStream {
  socket: Socket;
  stdout: PassThrough;
  stderr: PassThrough;
}

export class EngineClient {
  readonly #socketPath: string;
  readonly #prefix: string;

  constructor(socketPath: string = DEFAULT_DOCKER_SOCKET, apiVersion = 'v1.41') {
    this.#socketPath = socketPath;
    this.#prefix = `/${apiVersion}`;
  }

  get socketPath(): string {
    return this.#socketPath;
  }

  /** One JSON request; non-2xx statuses are returned, transport failures throw. */
  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<EngineResponse<T>> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.#socketPath,
          method,
          path: `${this.#prefix}${path}`,
          headers: payload
            ? { 'content-type': 'application/json', 'content-length': payload.length }
            : {},
          ...(signal ? { signal } : {}),
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            if ((res.headers['content-type'] ?? '').includes('json') && text) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = text;
              }
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T });
          });
        },
      );
      req.on('error', (err) =>
        reject(
          new SandboxError(
            'sandbox_unavailable',
            `docker engine at ${this.#socketPath}: ${err.message}`,
            {
              cause: err,
            },
          ),
        ),
      );
      req.end(payload);
    });
  }

  /** Like call(), but a non-2xx status throws SandboxError with the engine's message. */
  async ok<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<T> {
    const r = await this.call<T>(method, path, body, signal);
    if (r.status < 200 || r.status >= 300) {
      const msg = (r.body as { message?: string } | undefined)?.message ?? JSON.stringify(r.body);
      throw new SandboxError('sandbox_failed', `docker ${method} ${path}: ${r.status} ${msg}`, {
        details: { status: r.status },
      });
    }
    return r.body;
  }

  /** POSTs to an attach/exec-start endpoint and takes over the connection (HTTP 101). */
  hijack(path: string, body?: unknown): Promise<HijackedStream> {
    const payload = Buffer.from(body === undefined ? '' : JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request({
        socketPath: this.#socketPath,
        method: 'POST',
        path: `${this.#prefix}${path}`,
        headers: {
          'content-type': 'application/json',
          'content-length': payload.length,
          connection: 'Upgrade',
          upgrade: 'tcp',
        },
      });
      req.on('upgrade', (_res, socket: Socket, head: Buffer) => {
        const stdout = new PassThrough();
        const stderr = new PassThrough();
        const demux = new FrameDemux(stdout, stderr);
        if (head.length) demux.push(head);
        socket.on('data', (d: Buffer) => demux.push(d));
        socket.on('close', () => {
          stdout.end();
          stderr.end();
        });
        socket.on('error', () => undefined);
        resolve({ socket, stdout, stderr });
      });
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          reject(
            new SandboxError(
              'sandbox_failed',
              `docker POST ${path}: ${res.statusCode} ${Buffer.concat(chunks).toString()}`,
            ),
          ),
        );
      });
      req.on('error', (err) =>
        reject(
          new SandboxError(
            'sandbox_unavailable',
            `docker engine at ${this.#socketPath}: ${err.message}`,
            {
              cause: err,
            },
          ),
        ),
      );
      req.end(payload);
    });
  }
}

/**
 * Splits Docker's multiplexed stream: each frame is an 8-byte header (stream type, 3 zero bytes,
 * big-endian uint32 length) followed by that many bytes. Type 1 is stdout, 2 stderr.
 */
export class FrameDemux {
  readonly #stdout: PassThrough;
  readonly #stderr: PassThrough;
  #pending: Buffer = Buffer.alloc(0);

  constructor(stdout: PassThrough, stderr: PassThrough) {
    this.#stdout = stdout;
    this.#stderr = stderr;
  }

  push(data: Buffer): void {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, data]) : data;
    while (this.#pending.length >= 8) {
      const size = this.#pending.readUInt32BE(4);
      if (this.#pending.length < 8 + size) break;
      const type = this.#pending[0];
      const frame = this.#pending.subarray(8, 8 + size);
      this.#pending = this.#pending.subarray(8 + size);
      if (type === 2) this.#stderr.write(frame);
      else this.#stdout.write(frame);
    }
  }
}

// An MCP Transport whose server is a long-running exec INSIDE the sandbox: JSON-RPC lines go to
// its stdin and come back on its stdout, so the server never runs on the host.
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Sandbox } from '../../sandbox/driver.js';

/** A writable async iterable: what `send` pushes becomes the exec's stdin. */
class StdinQueue implements AsyncIterable<Uint8Array> {
  readonly #chunks: Uint8Array[] = [];
  #wake: (() => void) | undefined;
  #ended = false;

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      const c = this.#chunks.shift();
      if (c) {
        yield c;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = undefined;
    }
  }
}

export interface SandboxStdioOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Lifetime cap of the server process. */
  timeoutMs: number;
  onStderr?: (text: string) => void;
}

export class SandboxStdioTransport implements Transport {
  readonly #sandbox: Sandbox;
  readonly #argv: readonly string[];
  readonly #opts: SandboxStdioOptions;
  readonly #stdin = new StdinQueue();
  readonly #read = new ReadBuffer();
  readonly #ctl = new AbortController();
  #closed = false;
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage) => void) | undefined;

  constructor(sandbox: Sandbox, argv: readonly string[], opts: SandboxStdioOptions) {
    this.#sandbox = sandbox;
    this.#argv = argv;
    this.#opts = opts;
  }

  async start(): Promise<void> {
    const exec = this.#sandbox.exec(this.#argv, {
      stdin: this.#stdin,
      timeoutMs: this.#opts.timeoutMs,
      signal: this.#ctl.signal,
      ...(this.#opts.env === undefined ? {} : { env: this.#opts.env }),
      ...(this.#opts.cwd === undefined ? {} : { cwd: this.#opts.cwd }),
      onStdout: (chunk) => this.#onData(chunk),
      ...(this.#opts.onStderr
        ? { onStderr: (c: Buffer) => this.#opts.onStderr?.(c.toString('utf8')) }
        : {}),
    });
    exec.then(
      (r) => {
        if (!this.#closed && r.exitCode !== 0) {
          this.onerror?.(
            new Error(`MCP server exited with ${r.exitCode}${r.limit ? ` (${r.limit})` : ''}`),
          );
        }
        this.#finish();
      },
      (err: unknown) => {
        this.onerror?.(err instanceof Error ? err : new Error(String(err)));
        this.#finish();
      },
    );
  }

  #onData(chunk: Buffer): void {
    this.#read.append(chunk);
    for (;;) {
      let msg: JSONRPCMessage | null;
      try {
        msg = this.#read.readMessage();
      } catch (err) {
        this.onerror?.(err as Error);
        continue;
      }
      if (msg === null) break;
      this.onmessage?.(msg);
    }
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) throw new Error('MCP transport is closed');
    this.#stdin.push(Buffer.from(serializeMessage(message), 'utf8'));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stdin.end();
    this.#ctl.abort();
    this.#finish();
  }

  #finish(): void {
    this.#closed = true;
    this.#read.clear();
    const cb = this.onclose;
    this.onclose = undefined;
    cb?.();
  }
}

// Host-side client of the root mount helper (mounter.py): bind, make-shared and lazy unmount as
// one syscall each, for warm sandboxes' workspace slots. Started once per driver, on demand.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxError } from '../../errors.js';

const MOUNTER_SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'mounter.py');

export class Mounter {
  readonly #python: string;
  #child: ChildProcess | undefined;
  #buffer = '';
  #nextId = 1;
  readonly #pending = new Map<number, (errno: number) => void>();

  constructor(python: string) {
    this.#python = python;
  }

  #start(): ChildProcess {
    if (this.#child && this.#child.exitCode === null) return this.#child;
    const child = spawn(this.#python, ['-I', '-S', '-B', MOUNTER_SOURCE], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.#buffer += chunk;
      let nl: number;
      while ((nl = this.#buffer.indexOf('\n')) >= 0) {
        const reply = JSON.parse(this.#buffer.slice(0, nl)) as { id: number; errno: number };
        this.#buffer = this.#buffer.slice(nl + 1);
        this.#pending.get(reply.id)?.(reply.errno);
        this.#pending.delete(reply.id);
      }
    });
    child.once('exit', () => {
      for (const [, done] of this.#pending) done(-1);
      this.#pending.clear();
    });
    child.stdin.on('error', () => undefined);
    this.#child = child;
    return child;
  }

  async #call(op: 'bind' | 'share' | 'umount', dst: string, src?: string): Promise<void> {
    const id = this.#nextId++;
    const errno = await new Promise<number>((resolve) => {
      this.#pending.set(id, resolve);
      this.#start().stdin!.write(`${JSON.stringify({ id, op, dst, ...(src ? { src } : {}) })}\n`);
    });
    if (errno !== 0) {
      throw new SandboxError('sandbox_failed', `${op} ${dst} failed (errno ${errno})`);
    }
  }

  bind(src: string, dst: string): Promise<void> {
    return this.#call('bind', dst, src);
  }

  makeShared(dst: string): Promise<void> {
    return this.#call('share', dst);
  }

  /** Lazy unmount of the top mount at `dst`. */
  unmount(dst: string): Promise<void> {
    return this.#call('umount', dst);
  }

  close(): void {
    this.#child?.stdin?.end();
  }
}

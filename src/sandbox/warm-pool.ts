// A warm pool in front of any SandboxDriver: pre-created sandboxes (size, max age, refill rate)
// handed out once each; acquire() falls back to on-demand creation and refills in the background.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { SandboxError } from '../errors.js';
import { silentLogger, type StorageLogger } from '../storage/storage-logger.js';
import type { CreateSandboxOptions, Sandbox, SandboxDriver } from './driver.js';

const WARMUP_TIMEOUT_MS = 30_000;

export const warmPoolConfigSchema = z
  .object({
    size: z.number().int().min(0).max(256).default(2).describe('Sandboxes kept ready. Absent: 2.'),
    maxAgeSec: z
      .number()
      .positive()
      .default(600)
      .describe('A ready sandbox older than this is destroyed and replaced. Absent: 10 minutes.'),
    refillPerSec: z
      .number()
      .positive()
      .default(4)
      .describe('At most this many sandboxes created per second by the refiller. Absent: 4.'),
    refillDelayMs: z
      .number()
      .int()
      .min(0)
      .max(60_000)
      .default(250)
      .describe(
        'After a hand-out that leaves ready sandboxes, the refill waits this long so it does not compete with the new session; an emptied pool refills at once. Absent: 250.',
      ),
  })
  .strict();
export type WarmPoolConfig = z.infer<typeof warmPoolConfigSchema>;

/** What every pooled sandbox is created with; the workspace is a fresh empty dir per sandbox. */
export type PoolTemplate = Omit<CreateSandboxOptions, 'workspace' | 'sessionId' | 'signal'>;

export interface WarmPoolOptions {
  driver: SandboxDriver;
  template: PoolTemplate;
  config?: Partial<WarmPoolConfig>;
  /** Parent of the per-sandbox empty workspaces (default: a private dir under tmpdir()). */
  workspaceRoot?: string;
  logger?: StorageLogger;
  /** Clock for sandbox ages (the refill rate always uses real time). */
  now?: () => number;
  /**
   * Run once in each new sandbox before it is pooled, so a session's first exec finds the
   * runtime's caches warm (gVisor loads a program's files through its gofer on first use).
   * Default `['true']`; null: none. A non-zero exit is ignored; a failed exec discards the sandbox.
   */
  warmup?: readonly string[] | null;
}

export interface AcquiredSandbox {
  sandbox: Sandbox;
  /** Host workspace bound at /workspace: empty; the session copies its files into it. */
  workspace: string;
  /** True when it came from the pool, false when created on demand. */
  pooled: boolean;
}

interface Ready {
  sandbox: Sandbox;
  workspace: string;
  createdAt: number;
}

export class WarmPool {
  readonly #driver: SandboxDriver;
  readonly #template: PoolTemplate;
  readonly #config: WarmPoolConfig;
  readonly #logger: StorageLogger;
  readonly #now: () => number;
  readonly #warmup: readonly string[] | null;
  readonly #ready: Ready[] = [];
  readonly #creating = new Set<Promise<void>>();
  #root: string | undefined;
  readonly #rootOption: string | undefined;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #timerDue = 0;
  #expiryTimer: NodeJS.Timeout | undefined;
  #lastCreateAt = -Infinity;
  #failures = 0;

  constructor(options: WarmPoolOptions) {
    this.#driver = options.driver;
    this.#template = options.template;
    this.#config = warmPoolConfigSchema.parse(options.config ?? {});
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#warmup = options.warmup === undefined ? ['true'] : options.warmup;
    this.#rootOption = options.workspaceRoot;
  }

  get readyCount(): number {
    return this.#ready.length;
  }

  get config(): WarmPoolConfig {
    return this.#config;
  }

  /** Fills the pool to its size and waits for that; later refills run in the background. */
  async start(): Promise<void> {
    await this.#workspaceRoot();
    this.#schedule(0);
    await this.drain();
  }

  /** Waits until the refiller is idle (or failing: acquire() then creates on demand). */
  async drain(): Promise<void> {
    while (!this.#closed && this.#failures === 0 && (this.#creating.size > 0 || this.#timer)) {
      if (this.#creating.size > 0) await Promise.allSettled([...this.#creating]);
      else await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Hands out a sandbox nobody used before; never blocks on the refiller. */
  async acquire(
    options: { sessionId?: string; signal?: AbortSignal } = {},
  ): Promise<AcquiredSandbox> {
    if (this.#closed) throw new SandboxError('sandbox_unavailable', 'warm pool is closed');
    this.#evictExpired();
    const ready = this.#ready.shift();
    // Nothing is urgent while sandboxes remain ready: starting a replacement (hundreds of ms of
    // CPU for gVisor) waits so it does not compete with the first commands of this session.
    this.#schedule(this.#ready.length > 0 ? this.#config.refillDelayMs : 0, true);
    if (ready) return { sandbox: ready.sandbox, workspace: ready.workspace, pooled: true };
    const workspace = await mkdtemp(join(await this.#workspaceRoot(), 'ws-'));
    try {
      const sandbox = await this.#driver.create({
        ...this.#template,
        workspace,
        ...(options.sessionId ? { sessionId: options.sessionId } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return { sandbox, workspace, pooled: false };
    } catch (err) {
      await rm(workspace, { recursive: true, force: true });
      throw err;
    }
  }

  /** Destroys a sandbox handed out by acquire() (never returned to the pool) and its workspace. */
  async release(
    acquired: AcquiredSandbox,
    options: { keepWorkspace?: boolean } = {},
  ): Promise<void> {
    try {
      await acquired.sandbox.destroy();
    } finally {
      if (!options.keepWorkspace) await rm(acquired.workspace, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
    this.#timer = undefined;
    this.#expiryTimer = undefined;
    await Promise.allSettled([...this.#creating]);
    const all = this.#ready.splice(0);
    await Promise.allSettled(all.map((r) => this.#discard(r)));
    if (this.#root && !this.#rootOption) await rm(this.#root, { recursive: true, force: true });
  }

  async #workspaceRoot(): Promise<string> {
    this.#root ??= this.#rootOption ?? (await mkdtemp(join(tmpdir(), 'ringfence-pool-')));
    return this.#root;
  }

  #evictExpired(): void {
    const maxAgeMs = this.#config.maxAgeSec * 1000;
    const now = this.#now();
    for (let i = this.#ready.length - 1; i >= 0; i--) {
      const r = this.#ready[i];
      if (r && now - r.createdAt >= maxAgeMs) {
        this.#ready.splice(i, 1);
        this.#logger.debug({ sandbox: r.sandbox.id }, 'warm pool: expired sandbox replaced');
        void this.#discard(r);
      }
    }
  }

  async #discard(r: Ready): Promise<void> {
    await r.sandbox.destroy().catch(() => undefined);
    await rm(r.workspace, { recursive: true, force: true }).catch(() => undefined);
  }

  /** Runs the warm-up command; false when the sandbox could not run it at all. */
  async #warmUp(sandbox: Sandbox): Promise<boolean> {
    if (!this.#warmup || this.#warmup.length === 0) return true;
    try {
      const r = await sandbox.exec(this.#warmup, { timeoutMs: WARMUP_TIMEOUT_MS });
      if (r.exitCode === 0) return true;
      if (r.limit) return false;
      // A command the image lacks is no reason to discard; a sandbox that died is: a round trip
      // to its supervisor tells them apart (it throws when the sandbox is gone).
      await sandbox.list('/workspace');
      this.#logger.debug(
        { sandbox: sandbox.id, exitCode: r.exitCode },
        'warm pool: warm-up exited non-zero',
      );
      return true;
    } catch (err) {
      this.#logger.debug({ sandbox: sandbox.id, err: (err as Error).message }, 'warm-up failed');
      return false;
    }
  }

  /**
   * Runs the refiller after `delayMs` unless it is already scheduled. With `moveUp` a wake-up due
   * later is brought forward (an emptied pool must not wait out an earlier hand-out's delay),
   * except during a failure back-off.
   */
  #schedule(delayMs: number, moveUp = false): void {
    if (this.#closed) return;
    const due = performance.now() + delayMs;
    if (this.#timer) {
      if (!moveUp || this.#failures > 0 || this.#timerDue <= due) return;
      clearTimeout(this.#timer);
    }
    this.#timerDue = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#refill();
    }, delayMs);
    this.#timer.unref?.();
  }

  #refill(): void {
    if (this.#closed) return;
    this.#evictExpired();
    const missing = this.#config.size - this.#ready.length - this.#creating.size;
    if (missing <= 0) {
      // Wake up to replace the oldest when it expires.
      const oldest = this.#ready[0];
      if (oldest) {
        const wait = oldest.createdAt + this.#config.maxAgeSec * 1000 - this.#now();
        this.#scheduleExpiry(Math.max(wait, 0));
      }
      return;
    }
    const interval = 1000 / this.#config.refillPerSec;
    const since = performance.now() - this.#lastCreateAt;
    if (since < interval) {
      this.#schedule(interval - since);
      return;
    }
    this.#lastCreateAt = performance.now();
    const job = this.#createOne().finally(() => {
      this.#creating.delete(job);
    });
    this.#creating.add(job);
    if (missing > 1) this.#schedule(interval);
  }

  #scheduleExpiry(delayMs: number): void {
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = setTimeout(() => {
      this.#expiryTimer = undefined;
      this.#schedule(0);
    }, delayMs);
    this.#expiryTimer.unref();
  }

  async #createOne(): Promise<void> {
    const workspace = await mkdtemp(join(await this.#workspaceRoot(), 'ws-'));
    try {
      const sandbox = await this.#driver.create({ ...this.#template, workspace });
      if (!(await this.#warmUp(sandbox))) {
        await this.#discard({ sandbox, workspace, createdAt: 0 });
        throw new SandboxError('sandbox_failed', `warm-up exec failed in ${sandbox.id}`);
      }
      this.#failures = 0;
      if (this.#closed) {
        await this.#discard({ sandbox, workspace, createdAt: 0 });
        return;
      }
      this.#ready.push({ sandbox, workspace, createdAt: this.#now() });
      this.#schedule(0);
    } catch (err) {
      this.#failures++;
      await rm(workspace, { recursive: true, force: true }).catch(() => undefined);
      this.#logger.warn(
        { err: (err as Error).message, failures: this.#failures },
        'warm pool: create failed',
      );
      // Back off (capped) so a broken engine does not spin; acquire() still creates on demand.
      if (!this.#closed) this.#schedule(Math.min(30_000, 250 * 2 ** Math.min(this.#failures, 7)));
    }
  }
}

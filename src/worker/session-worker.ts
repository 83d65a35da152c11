// A worker: leases session tasks from the queue, heartbeats them, runs them through the
// SessionRunner with the lease epoch on every write, completes/fails them, drains on shutdown.
import { randomBytes } from 'node:crypto';
import type { Lease } from '../queue/queue.js';
import { StaleEpochError } from '../queue/stale-epoch-error.js';
import type { SessionTaskPayload } from '../server/session-tasks.js';
import type { SessionEvent, SessionRecord } from '../sessions/session-store.js';
import { silentLogger, type StorageLogger } from '../storage/storage-logger.js';
import type { ResumeState, SessionRunContext, SessionRunResult } from './session-runner.js';
import {
  DRAIN_DEADLINE_MS,
  HEARTBEAT_INTERVAL_MS,
  LEASE_POLL_INTERVAL_MS,
  LEASE_VISIBILITY_MS,
  type SessionWorkerOptions,
} from './worker-options.js';

/** Transcript event the worker writes when a task of a session ends (SSE clients stop there). */
export const SESSION_END_EVENT = 'session_end';

type StopReason = 'cancelled' | 'lease_lost' | 'drain';

interface Running {
  lease: Lease;
  ctl: AbortController;
  done: Promise<void>;
}

export class SessionWorker {
  readonly #o: Required<
    Pick<
      SessionWorkerOptions,
      'concurrency' | 'visibilityMs' | 'heartbeatIntervalMs' | 'pollIntervalMs' | 'workerId'
    >
  > &
    SessionWorkerOptions;
  readonly #log: StorageLogger;
  readonly #running = new Map<string, Running>();
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: SessionWorkerOptions) {
    this.#o = Object.freeze({
      ...options,
      concurrency: options.concurrency ?? 2,
      visibilityMs: options.visibilityMs ?? LEASE_VISIBILITY_MS,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS,
      pollIntervalMs: options.pollIntervalMs ?? LEASE_POLL_INTERVAL_MS,
      workerId: options.workerId ?? `worker-${process.pid}-${randomBytes(3).toString('hex')}`,
    });
    this.#log = options.logger ?? silentLogger;
  }

  get workerId(): string {
    return this.#o.workerId;
  }

  /** Session ids running now. */
  get running(): string[] {
    return [...this.#running.values()].map((r) => r.lease.task.sessionId);
  }

  /** Starts the lease loop (idempotent). */
  start(): void {
    this.#loop ??= this.#leaseLoop();
  }

  /**
   * Graceful shutdown: stop leasing, let running sessions finish up to `deadlineMs`, then abort
   * them and release their leases (no attempt used) so another worker resumes them.
   */
  close(deadlineMs: number = DRAIN_DEADLINE_MS): Promise<void> {
    this.#closing ??= this.#drain(deadlineMs);
    return this.#closing;
  }

  async #drain(deadlineMs: number): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#loop;
    const all = (): Promise<unknown> =>
      Promise.allSettled([...this.#running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), deadlineMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      for (const r of this.#running.values()) r.ctl.abort('drain' satisfies StopReason);
      await all();
    }
  }

  async #leaseLoop(): Promise<void> {
    const o = this.#o;
    while (!this.#stopping) {
      let lease: Lease | undefined;
      if (this.#running.size < o.concurrency) {
        try {
          lease = await o.queue.lease(o.workerId, {
            visibilityMs: o.visibilityMs,
            ...(o.tenantCaps === undefined ? {} : { tenantCaps: o.tenantCaps }),
            ...(o.defaultTenantCap === undefined ? {} : { defaultTenantCap: o.defaultTenantCap }),
          });
        } catch (err) {
          this.#log.error({ err }, 'worker: lease failed');
        }
      }
      if (lease !== undefined) {
        this.#startTask(lease);
        continue;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, o.pollIntervalMs);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  #startTask(lease: Lease): void {
    const ctl = new AbortController();
    const entry: Running = { lease, ctl, done: Promise.resolve() };
    this.#running.set(lease.task.id, entry);
    this.#o.metrics?.runningSessions.inc();
    this.#o.metrics?.queueWaitSeconds.observe(
      Math.max(0, Date.now() - lease.task.enqueuedAt) / 1000,
    );
    entry.done = this.#runTask(lease, ctl)
      .catch((err: unknown) =>
        this.#log.error({ err, task: lease.task.id }, 'worker: task crashed'),
      )
      .finally(() => {
        this.#running.delete(lease.task.id);
        this.#o.metrics?.runningSessions.dec();
        this.#wake?.();
      });
  }

  async #runTask(lease: Lease, ctl: AbortController): Promise<void> {
    const { queue, store } = this.#o;
    const { task, epoch } = lease;
    const fence = { epoch };
    const session = await store.get(task.sessionId);
    if (session === undefined || session.status === 'cancelled') {
      await queue.complete(task.id, epoch).catch(() => undefined);
      return;
    }
    const heartbeat = setInterval(() => {
      queue.heartbeat(task.id, epoch, this.#o.visibilityMs).catch((err: unknown) => {
        if (err instanceof StaleEpochError) ctl.abort('lease_lost' satisfies StopReason);
        else this.#log.warn({ err, task: task.id }, 'worker: heartbeat failed');
      });
    }, this.#o.heartbeatIntervalMs);
    try {
      const fresh =
        session.status === 'running'
          ? session
          : await store.updateStatus(session.id, 'running', fence);
      const resume = await this.#resumeState(fresh, lease);
      const payload = task.payload as Partial<SessionTaskPayload> | undefined;
      await store.appendEvent(
        session.id,
        {
          type: 'worker',
          data: {
            event: resume.recovered ? 'resumed' : 'started',
            worker: this.#o.workerId,
            epoch,
            lastCompletedTurn: resume.lastCompletedTurn,
          },
        },
        fence,
      );
      const unregisters: (() => void)[] = [];
      const ctx: SessionRunContext = {
        session: fresh,
        prompt: typeof payload?.prompt === 'string' ? payload.prompt : fresh.prompt,
        epoch,
        signal: ctl.signal,
        resume,
        emit: (e) => store.appendEvent(session.id, e, fence),
        completeTurn: async (turn, tarGz, usage) => {
          if (tarGz !== undefined) await store.putSnapshot(session.id, turn, tarGz, fence);
          await store.recordTurn(session.id, turn, usage, fence);
        },
        register: (handle) => {
          const off = this.#o.control.register(session.id, {
            respond: (id, a) => handle.respond(id, a),
            abort: (reason) => {
              ctl.abort('cancelled' satisfies StopReason);
              handle.abort(reason);
            },
          });
          unregisters.push(off);
          return off;
        },
      };
      let result: SessionRunResult | undefined;
      let failure: unknown;
      try {
        result = await this.#o.runner.run(ctx);
      } catch (err) {
        failure = err;
      } finally {
        for (const off of unregisters) off();
      }
      await this.#settle(lease, ctl.signal, result, failure, fresh);
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Records the outcome of a run, fenced; a lost lease writes nothing. */
  async #settle(
    lease: Lease,
    signal: AbortSignal,
    result: SessionRunResult | undefined,
    failure: unknown,
    session: SessionRecord,
  ): Promise<void> {
    const { queue, store, metrics } = this.#o;
    const { task, epoch } = lease;
    const fence = { epoch };
    const reason = signal.aborted ? (signal.reason as StopReason) : undefined;
    if (reason === 'lease_lost' || failure instanceof StaleEpochError) {
      this.#log.warn({ task: task.id }, 'worker: lease lost; another worker owns the session');
      return;
    }
    const current = await store.get(task.sessionId);
    if (reason === 'cancelled' || current?.status === 'cancelled') {
      await store
        .appendEvent(
          task.sessionId,
          { type: SESSION_END_EVENT, data: { status: 'cancelled' } },
          fence,
        )
        .catch(() => undefined);
      await queue.complete(task.id, epoch).catch(() => undefined);
      metrics?.sessionsFinished.inc({ tenant: task.tenantId, outcome: 'cancelled' });
      this.#ended(session, 'cancelled');
      return;
    }
    if (reason === 'drain') {
      await store.updateStatus(task.sessionId, 'queued', fence);
      await queue.release(task.id, epoch);
      return;
    }
    if (result !== undefined) {
      await store.appendEvent(
        task.sessionId,
        { type: SESSION_END_EVENT, data: { status: result.status } },
        fence,
      );
      await store.updateStatus(task.sessionId, result.status, {
        ...fence,
        result: result.result,
        ...(result.usage === undefined ? {} : { usage: result.usage }),
      });
      await queue.complete(task.id, epoch);
      metrics?.sessionsFinished.inc({ tenant: task.tenantId, outcome: result.status });
      this.#ended(session, result.status);
      return;
    }
    const message = failure instanceof Error ? failure.message : String(failure);
    this.#log.warn({ task: task.id, err: failure }, 'worker: run failed; retrying');
    await store.updateStatus(task.sessionId, 'queued', fence);
    const outcome = await queue.fail(task.id, epoch, message, { retryable: true });
    metrics?.retries.inc({ kind: 'task' });
    if (outcome.status !== 'waiting') {
      await store.appendEvent(task.sessionId, {
        type: SESSION_END_EVENT,
        data: { status: 'failed', error: message },
      });
      await store.updateStatus(task.sessionId, 'failed', { result: { error: message } });
      metrics?.sessionsFinished.inc({ tenant: task.tenantId, outcome: 'failed' });
      this.#ended(session, 'failed');
    }
  }

  #ended(session: SessionRecord, status: 'succeeded' | 'failed' | 'cancelled'): void {
    try {
      this.#o.onSessionEnd?.(session, status);
    } catch (err) {
      this.#log.warn({ err, session: session.id }, 'worker: onSessionEnd failed');
    }
  }

  async #resumeState(session: SessionRecord, lease: Lease): Promise<ResumeState> {
    const store = this.#o.store;
    const ref = await store.latestSnapshot(session.id);
    const events: SessionEvent[] = [];
    for (;;) {
      const page = await store.events(session.id, {
        afterSeq: events.at(-1)?.seq ?? 0,
        limit: 5000,
      });
      events.push(...page);
      if (page.length < 5000) break;
    }
    return {
      snapshot: ref === undefined ? undefined : await store.readSnapshot(ref),
      snapshotTurn: ref?.turn,
      events,
      lastCompletedTurn: session.lastCompletedTurn,
      recovered: lease.task.leaseCount > 1,
    };
  }
}

// The SessionRunner of the service: runs one task of a session through the real agent loop in a
// fresh sandbox (with the tier's egress), resuming from the last durable turn after a crash.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentEvent, ResultEvent } from '../agent/agent-events.js';
import { roleByName } from '../agent/roles.js';
import { runAgent } from '../agent/run-agent.js';
import { DEFAULT_MAX_TURNS } from '../agent/run-options.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { DecisionEvent } from '../egress/events.js';
import { EgressDeniedError, RingfenceError } from '../errors.js';
import { policySchema, type Policy, type PermissionMode } from '../policy/policy-schema.js';
import { provisionSessionSandbox } from '../sandbox/provision.js';
import type {
  SessionRecord,
  SessionStatus,
  SessionStore,
  SessionUsage,
} from '../sessions/session-store.js';
import { tarWorkspace, untarWorkspace } from '../sessions/workspace-tar.js';
import type { TierRuntimeSource } from '../service/tier-runtimes.js';
import { silentLogger, type StorageLogger } from '../storage/storage-logger.js';
import type { SessionRunContext, SessionRunner, SessionRunResult } from './session-runner.js';
import { cloneGitWorkspace, isGitWorkspace } from './git-workspace.js';
import { rebuildHistory } from './transcript-history.js';
import { MODE_FROM_TIER } from '../server/request-schemas.js';

export interface AgentSessionRunnerOptions {
  /** The store the worker writes through (the agent appends its events with the lease epoch). */
  store: SessionStore;
  runtimes: TierRuntimeSource;
  /** Data directory (egress CA). */
  dataDir: string;
  audit?: AuditLog;
  /** Parent of per-run workspace directories. Default: the OS temp dir. */
  workRoot?: string;
  /** How long an approval waits for POST /approvals. Default: the agent's 5 minutes. */
  approvalTimeoutMs?: number;
  /** Sees every event of every run (metrics, SLO monitoring, tests). */
  onEvent?: (sessionId: string, event: AgentEvent, session: SessionRecord) => void;
  logger?: StorageLogger;
}

/** Session options the API stores (`options` of the session row). */
interface SessionOptions {
  allowedTools?: string[];
  disallowedTools?: string[];
  maxTurns?: number;
  maxBudgetUsd?: number;
  workspace?: unknown;
}

function sessionPolicy(base: Policy, opts: SessionOptions, mode: string): Policy {
  const raw = structuredClone(base);
  raw.tools.allow = [...raw.tools.allow, ...(opts.allowedTools ?? [])];
  raw.tools.deny = [...raw.tools.deny, ...(opts.disallowedTools ?? [])];
  if (mode !== MODE_FROM_TIER) raw.tools.mode = mode as PermissionMode;
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new RingfenceError(
      'invalid_request',
      `session options: ${first?.path.join('.') ?? ''}: ${first?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

function addUsage(base: SessionUsage, input: number, output: number, cost: number): SessionUsage {
  return {
    inputTokens: base.inputTokens + input,
    outputTokens: base.outputTokens + output,
    costUsd: base.costUsd + cost,
  };
}

export class AgentSessionRunner implements SessionRunner {
  readonly #o: AgentSessionRunnerOptions;
  readonly #log: StorageLogger;

  constructor(options: AgentSessionRunnerOptions) {
    this.#o = Object.freeze({ ...options });
    this.#log = options.logger ?? silentLogger;
  }

  async run(ctx: SessionRunContext): Promise<SessionRunResult> {
    const { session } = ctx;
    const opts = session.options as SessionOptions;
    const history = rebuildHistory(session.prompt, ctx.resume.events, ctx.resume.lastCompletedTurn);
    // The final answer is durable and nothing was asked since: the crash hit after it.
    if (history.finalText !== undefined) {
      return {
        status: 'succeeded',
        result: { subtype: 'success', result: history.finalText, stop_reason: 'recovered' },
        usage: session.usage,
      };
    }
    let policy: Policy;
    let role;
    try {
      policy = sessionPolicy(
        (await this.#o.runtimes.get(session.tier)).tier.policy,
        opts,
        session.mode,
      );
      role = session.role === 'default' ? undefined : roleByName(session.role, policy);
    } catch (err) {
      // A session that can never run (unknown tier/role, bad options) fails without retries.
      return {
        status: 'failed',
        result: { error: err instanceof Error ? err.message : String(err) },
      };
    }
    const rt = await this.#o.runtimes.get(session.tier);
    const root = await mkdtemp(join(this.#o.workRoot ?? tmpdir(), 'rf-svc-'));
    const workspace = join(root, 'workspace');
    try {
      if (ctx.resume.snapshot !== undefined) await untarWorkspace(ctx.resume.snapshot, workspace);
      else await mkdir(workspace, { mode: 0o755 });
      return await this.#runInSandbox(ctx, rt, policy, role, workspace, history);
    } finally {
      await rm(root, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  async #runInSandbox(
    ctx: SessionRunContext,
    rt: Awaited<ReturnType<TierRuntimeSource['get']>>,
    policy: Policy,
    role: ReturnType<typeof roleByName> | undefined,
    workspace: string,
    history: ReturnType<typeof rebuildHistory>,
  ): Promise<SessionRunResult> {
    const { session } = ctx;
    const opts = session.options as SessionOptions;
    const audit = this.#o.audit;
    const denials: DecisionEvent[] = [];
    const { sandbox, egress } = await provisionSessionSandbox(rt.driver, {
      workspace,
      policy,
      sessionId: session.id,
      signal: ctx.signal,
      dataDir: this.#o.dataDir,
      audit,
      onDecision: (ev) => {
        if (!ev.allowed) denials.push(ev);
      },
    });
    const base = session.usage;
    // maxTurns bounds one task: turns of this task done before a crash count against it.
    const maxTurns = opts.maxTurns ?? DEFAULT_MAX_TURNS;
    const doneInTask = Math.max(0, history.turns - history.turnsBeforeTask);
    let result: ResultEvent | undefined;
    try {
      // A git workspace is cloned inside the sandbox before the first turn (later tasks and
      // resumed runs restore the snapshot instead).
      if (ctx.resume.snapshot === undefined && isGitWorkspace(opts.workspace)) {
        const failed = await this.#cloneWorkspace(ctx, sandbox, opts.workspace, egress, denials);
        if (failed !== undefined) return failed;
        await ctx.completeTurn(0, await tarWorkspace(workspace));
      }
      const run = runAgent({
        prompt: ctx.prompt,
        sandbox,
        gateway: rt.gateway,
        policy,
        model: rt.routes[0]?.model ?? 'unknown',
        sessionId: session.id,
        tenantId: session.tenantId,
        tier: session.tier,
        store: this.#o.store,
        callerOwnsSession: true,
        storeEpoch: ctx.epoch,
        history: history.messages,
        turnOffset: history.turns,
        maxTurns: Math.max(0, maxTurns - doneInTask),
        signal: ctx.signal,
        mock: policy.tools.mock || rt.tier.features['mockTools'] === true,
        ...(audit === undefined ? {} : { audit }),
        ...(role === undefined ? {} : { role }),
        ...(opts.maxBudgetUsd === undefined ? {} : { maxBudgetUsd: opts.maxBudgetUsd }),
        ...(this.#o.approvalTimeoutMs === undefined
          ? {}
          : { approvalTimeoutMs: this.#o.approvalTimeoutMs }),
        onTurnComplete: async (turn, usage, costUsd) => {
          const tgz = await tarWorkspace(workspace);
          await ctx.completeTurn(
            turn,
            tgz,
            addUsage(base, usage.input_tokens, usage.output_tokens, costUsd),
          );
        },
      });
      const off = ctx.register({
        respond: (requestId, answer) => run.respond(requestId, answer),
        abort: () => run.abort(),
      });
      // The session is waiting_approval while any approval request of this run is open.
      const open = new Set<string>();
      try {
        for await (const e of run) {
          this.#o.onEvent?.(session.id, e, session);
          if (e.type === 'approval_request') {
            open.add(e.request_id);
            if (open.size === 1) await this.#setStatus(ctx, 'waiting_approval');
          } else if (e.type === 'approval_resolved' && open.delete(e.request_id)) {
            if (open.size === 0) await this.#setStatus(ctx, 'running');
          }
          if (e.type === 'result') result = e;
        }
      } finally {
        off();
        if (open.size > 0) await this.#setStatus(ctx, 'running');
      }
    } finally {
      await sandbox.destroy().catch((err: unknown) => {
        this.#log.warn({ err, session: session.id }, 'runner: sandbox destroy failed');
      });
      await egress?.close();
    }
    if (result === undefined) throw new Error('agent ended without a result');
    // The agent stopped itself because a fenced write was refused (lease moved): not a result.
    if (result.stop_reason === 'aborted' && !ctx.signal.aborted) {
      throw new Error('session aborted: a transcript write was refused (lease lost)');
    }
    return {
      status: result.subtype === 'success' ? 'succeeded' : 'failed',
      result: {
        subtype: result.subtype,
        result: result.result,
        stop_reason: result.stop_reason,
        num_turns: result.num_turns,
      },
      usage: addUsage(
        base,
        result.usage.input_tokens,
        result.usage.output_tokens,
        result.total_cost_usd,
      ),
    };
  }

  /** Fenced status change of the running session; a refused change is logged, not fatal. */
  async #setStatus(ctx: SessionRunContext, status: SessionStatus): Promise<void> {
    try {
      await this.#o.store.updateStatus(ctx.session.id, status, { epoch: ctx.epoch });
    } catch (err) {
      this.#log.warn({ err, session: ctx.session.id, status }, 'runner: status change refused');
    }
  }

  /** Clones the git workspace; a failure is the session's result (retrying will not help). */
  async #cloneWorkspace(
    ctx: SessionRunContext,
    sandbox: Parameters<typeof cloneGitWorkspace>[0],
    ws: Parameters<typeof cloneGitWorkspace>[1],
    egress: unknown,
    denials: readonly DecisionEvent[],
  ): Promise<SessionRunResult | undefined> {
    try {
      if (egress === undefined) {
        throw new EgressDeniedError(
          'no_egress',
          `workspace: git clone of ${ws.url} impossible: the tier's network policy allows no host`,
        );
      }
      const { commit } = await cloneGitWorkspace(sandbox, ws, {
        signal: ctx.signal,
        denials: () => denials,
      });
      await ctx.emit({
        type: 'workspace',
        data: { event: 'git_clone', url: ws.url, ref: ws.ref ?? null, commit },
      });
      return undefined;
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const message = err instanceof Error ? err.message : String(err);
      const code = err instanceof RingfenceError ? err.code : 'internal';
      await ctx.emit({ type: 'workspace', data: { event: 'git_clone_failed', error: message } });
      return { status: 'failed', result: { error: message, code } };
    }
  }
}

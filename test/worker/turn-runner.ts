// A test SessionRunner that is deliberately NOT an agent: it runs N numbered "turns", each one
// a side effect recorded in an external log plus a file in its workspace, so the worker's lease,
// fencing, snapshot and resume plumbing can be checked without the agent runtime.
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  SessionRunContext,
  SessionRunner,
  SessionRunResult,
} from '../../src/worker/session-runner.js';
import { tarWorkspace, untarWorkspace } from '../../src/sessions/workspace-tar.js';

export interface TurnRunnerOptions {
  turns: number;
  /** Effects performed, as `<sessionId>:<turn>`: a repeat means a turn ran twice. */
  effects: string[];
  /** Hang (until aborted) before this turn; used to simulate a stuck/dead worker. */
  hangBefore?: number;
  /** Throw this many times before doing anything. */
  failFirst?: number;
  /** Seen on each run: files restored into the workspace before the first new turn. */
  restored?: string[][];
}

export class TurnRunner implements SessionRunner {
  readonly #o: TurnRunnerOptions;
  #failures = 0;
  /** Resolves when the runner hangs. */
  hanging: Promise<void>;
  #hung!: () => void;
  /** The emit function of the hung run, to prove fencing after takeover. */
  hungCtx: SessionRunContext | undefined;

  constructor(options: TurnRunnerOptions) {
    this.#o = options;
    this.hanging = new Promise((r) => (this.#hung = r));
  }

  async run(ctx: SessionRunContext): Promise<SessionRunResult> {
    if (this.#failures < (this.#o.failFirst ?? 0)) {
      this.#failures += 1;
      throw new Error('transient failure');
    }
    const ws = mkdtempSync(join(tmpdir(), 'rf-turn-ws-'));
    const dir = join(ws, 'w');
    if (ctx.resume.snapshot !== undefined) await untarWorkspace(ctx.resume.snapshot, dir);
    else mkdirSync(dir);
    this.#o.restored?.push(readdirSync(dir).sort());
    for (let turn = ctx.resume.lastCompletedTurn + 1; turn <= this.#o.turns; turn++) {
      if (turn < 1) continue;
      if (this.#o.hangBefore === turn) {
        this.hungCtx = ctx;
        this.#hung();
        await new Promise<void>((resolve) =>
          ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
        );
        throw new Error(`aborted: ${String(ctx.signal.reason)}`);
      }
      await ctx.emit({ type: 'tool_use', data: { turn } });
      this.#o.effects.push(`${ctx.session.id}:${turn}`);
      writeFileSync(join(dir, `turn-${turn}.txt`), `turn ${turn}`);
      await ctx.emit({ type: 'tool_result', data: { turn } });
      await ctx.completeTurn(turn, await tarWorkspace(dir), {
        inputTokens: turn,
        outputTokens: 1,
        costUsd: 0,
      });
    }
    return { status: 'succeeded', result: { text: `did ${this.#o.turns} turns` } };
  }
}

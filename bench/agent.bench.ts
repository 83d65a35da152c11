// npm run bench:agent — agent loop overhead per tool turn (session − model − tool time; scripted
// model over HTTP, and in-process as a cross-check), 3-tool-call sessions/s vs bare sandbox execs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAgent } from '../src/agent/run-agent.js';
import { openAuditLog } from '../src/audit/open-audit.js';
import { RoutingGateway } from '../src/models/gateway/routing-gateway.js';
import type { GatewayResult, ModelGateway } from '../src/models/model-gateway.js';
import { parseScript } from '../src/models/scripted/script-schema.js';
import { ScriptedServer } from '../src/models/scripted/scripted-server.js';
import { policySchema } from '../src/policy/policy-schema.js';
import { BubblewrapDriver } from '../src/sandbox/bubblewrap/bubblewrap-driver.js';
import { createSessionStore } from '../src/sessions/create-session-store.js';
import { measure, percentile, printTable, writeResults, type Sample } from './bench-stats.js';

const N = Number(process.env.BENCH_N ?? 20);
const TOOL_TURNS = 3;

const root = mkdtempSync(join(tmpdir(), 'rf-agent-bench-'));
const policy = policySchema.parse({ tools: { mode: 'acceptEdits', allow: ['Bash(true)'] } });
const driver = new BubblewrapDriver();
const sandbox = await driver.create({ workspace: join(root, 'ws'), policy });
const turns = [
  ...Array.from({ length: TOOL_TURNS }, () => ({
    content: [{ type: 'tool_use', name: 'Bash', input: { command: 'true' } }],
  })),
  { content: [{ type: 'text', text: 'done' }] },
];
const server = new ScriptedServer({ script: parseScript({ turns, chunkChars: 4096 }) });
const url = await server.start();
const inner = new RoutingGateway({
  routes: { provider: 'anthropic', model: 'claude-bench', baseUrl: url },
  credentials: { anthropic: { apiKey: 'placeholder' } },
});
let modelMs = 0;
const gateway: ModelGateway = {
  createMessage: (p, c) => inner.createMessage(p, c),
  async streamMessage(p, c) {
    const t = performance.now();
    try {
      return await inner.streamMessage(p, c);
    } finally {
      modelMs += performance.now() - t;
    }
  },
  subscribe: (l) => inner.subscribe(l),
  close: () => inner.close(),
};
/**
 * Same script, answered in-process: a resolved promise, no SDK, no socket. Only tool time is
 * subtracted, so agent work run inside model callbacks cannot hide as model time, and the
 * in-process HTTP server's own work cannot count as loop overhead.
 */
let inProcessCall = 0;
const inProcess: ModelGateway = {
  createMessage: () => Promise.reject(new Error('bench: streaming only')),
  async streamMessage(): Promise<GatewayResult> {
    const i = inProcessCall++ % turns.length;
    const tool = i < TOOL_TURNS;
    const usage = { input_tokens: 10, output_tokens: 5 };
    const content = tool
      ? [
          {
            type: 'tool_use',
            id: `toolu_${inProcessCall}`,
            name: 'Bash',
            input: { command: 'true' },
          },
        ]
      : [{ type: 'text', text: 'done', citations: null }];
    return {
      message: {
        id: `msg_${inProcessCall}`,
        type: 'message',
        role: 'assistant',
        model: 'claude-bench',
        content,
        stop_reason: tool ? 'tool_use' : 'end_turn',
        stop_sequence: null,
        usage,
      } as unknown as GatewayResult['message'],
      route: 'inprocess:claude-bench',
      usage: { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 },
      costUsd: 0,
      attempts: 1,
    };
  },
  subscribe: () => () => {},
  close: async () => {},
};
const { log: audit } = openAuditLog({ dataDir: join(root, 'data') });
const store = await createSessionStore({ backend: 'sqlite', dataDir: join(root, 'data') });

const overheads: number[] = [];
const modelTimes: number[] = [];
const toolTimes: number[] = [];
async function session(gw: ModelGateway = gateway): Promise<void> {
  modelMs = 0;
  let toolMs = 0;
  const t = performance.now();
  const run = runAgent({
    prompt: 'bench',
    sandbox,
    gateway: gw,
    model: 'claude-bench',
    policy,
    audit,
    store,
    unattended: true,
  });
  for await (const e of run) {
    if (e.type === 'tool_result') toolMs += e.duration_ms;
    if (e.type === 'result' && e.subtype !== 'success')
      throw new Error(`bench session failed: ${e.result}`);
  }
  overheads.push((performance.now() - t - modelMs - toolMs) / TOOL_TURNS);
  modelTimes.push(modelMs);
  toolTimes.push(toolMs);
}
const median = (xs: number[]): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

const rows: Sample[] = [];
const sessions = await measure(`session, ${TOOL_TURNS} tool calls (audit + transcript)`, N, () =>
  session(),
);
// measure() ran 3 untimed warm-up sessions first: drop their samples.
const perTurn = [...overheads.slice(3)].sort((a, b) => a - b);
const modelMedian = median(modelTimes.slice(3));
const toolMedian = median(toolTimes.slice(3));
rows.push({
  name: 'loop overhead per tool turn',
  n: perTurn.length,
  medianMs: percentile(perTurn, 50),
  p90Ms: percentile(perTurn, 90),
  note: 'session − model − tool time, / turns; target p50 < 5 ms',
});
rows.push({
  ...sessions,
  note: `${(1000 / sessions.medianMs).toFixed(1)} sessions/s; median model ${modelMedian.toFixed(1)} ms, tools ${toolMedian.toFixed(1)} ms per session`,
});
overheads.length = 0;
const inProc = await measure(`session, ${TOOL_TURNS} tool calls, in-process model`, N, () =>
  session(inProcess),
);
const perTurnInProc = [...overheads.slice(3)].sort((a, b) => a - b);
rows.push({
  name: 'loop overhead per tool turn, in-process model',
  n: perTurnInProc.length,
  medianMs: percentile(perTurnInProc, 50),
  p90Ms: percentile(perTurnInProc, 90),
  note: 'session − tool time, / turns (no model time to subtract)',
});
rows.push({ ...inProc, note: `${(1000 / inProc.medianMs).toFixed(1)} sessions/s` });
const bare = await measure(`bare sandbox exec x${TOOL_TURNS} (baseline)`, N, async () => {
  for (let i = 0; i < TOOL_TURNS; i++) await sandbox.exec(['true']);
});
rows.push({ ...bare, note: `${(1000 / bare.medianMs).toFixed(1)} /s` });
printTable('agent loop (scripted model over loopback HTTP, bubblewrap)', rows);
const file = writeResults('agent.json', { toolTurns: TOOL_TURNS, rows });
process.stdout.write(`\nwrote ${file}\n`);

await sandbox.destroy();
await driver.close();
await gateway.close();
await server.close();
await audit.close();
await store.close();
rmSync(root, { recursive: true, force: true });

// Model gateway figures: per-call overhead of the gateway (in-process and over HTTP) versus the
// Anthropic client calling the scripted server directly, and streamed throughput at 100 sessions.
// Run: node --import tsx bench/models.bench.ts   (writes bench/results/models.json)
import Anthropic from '@anthropic-ai/sdk';
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { GatewayServer } from '../src/models/gateway-server.js';
import { RoutingGateway } from '../src/models/gateway/routing-gateway.js';
import { parseScript } from '../src/models/scripted/script-schema.js';
import { ScriptedServer } from '../src/models/scripted/scripted-server.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 400);
const WARMUP = 50;
const SESSIONS = 100;
const params = {
  model: 'bench',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'hi' }],
};

function stats(ms: number[]): { p50: number; p90: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { p50: at(0.5), p90: at(0.9), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function time(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i += 1) await fn();
  const out: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

const upstream = new ScriptedServer({
  script: parseScript({
    turns: [{ content: [{ type: 'text', text: 'benchmark reply '.repeat(8) }] }],
  }),
});
const upstreamUrl = await upstream.start();
const direct = new Anthropic({ baseURL: upstreamUrl, apiKey: 'bench', maxRetries: 0 });
const gateway = new RoutingGateway({
  routes: { provider: 'anthropic', model: 'bench', baseUrl: upstreamUrl },
  credentials: { anthropic: { apiKey: 'bench' } },
});
const httpGateway = new GatewayServer({ gateway });
const gatewayUrl = await httpGateway.start();
const viaHttp = new Anthropic({
  baseURL: gatewayUrl,
  apiKey: httpGateway.issueSessionKey({ sessionId: 'bench-http' }),
  maxRetries: 0,
});

// Interleave rounds so drift affects every path equally.
const runs: Record<string, number[]> = { direct: [], gatewayInProcess: [], gatewayHttp: [] };
for (let round = 0; round < 4; round += 1) {
  runs.direct!.push(...(await time(CALLS / 4, () => direct.messages.create(params))));
  runs.gatewayInProcess!.push(
    ...(await time(CALLS / 4, () => gateway.createMessage(params, { sessionId: 'bench' }))),
  );
  runs.gatewayHttp!.push(...(await time(CALLS / 4, () => viaHttp.messages.create(params))));
}
const perCall = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, stats(v)]));

const t0 = performance.now();
let events = 0;
await Promise.all(
  Array.from({ length: SESSIONS }, (_, i) =>
    gateway.streamMessage(params, { sessionId: `s${i}`, onStreamEvent: () => (events += 1) }),
  ),
);
const streamMs = performance.now() - t0;

const result = {
  node: process.version,
  calls: CALLS,
  perCallMs: perCall,
  addedP50Ms: {
    inProcess: (perCall.gatewayInProcess?.p50 ?? NaN) - (perCall.direct?.p50 ?? NaN),
    http: (perCall.gatewayHttp?.p50 ?? NaN) - (perCall.direct?.p50 ?? NaN),
  },
  streamed: {
    sessions: SESSIONS,
    wallMs: streamMs,
    callsPerSec: (SESSIONS / streamMs) * 1000,
    events,
  },
};
process.stdout.write('path               p50 ms   p90 ms\n');
for (const [k, v] of Object.entries(perCall)) {
  process.stdout.write(
    `${k.padEnd(18)} ${v.p50.toFixed(3).padStart(7)}  ${v.p90.toFixed(3).padStart(7)}\n`,
  );
}
process.stdout.write(
  `added p50: in-process ${result.addedP50Ms.inProcess.toFixed(3)} ms, http ${result.addedP50Ms.http.toFixed(3)} ms\n`,
);
process.stdout.write(
  `${SESSIONS} concurrent streamed calls: ${streamMs.toFixed(1)} ms (${result.streamed.callsPerSec.toFixed(0)} calls/s)\n`,
);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('./results/models.json', import.meta.url),
  `${JSON.stringify(result, null, 2)}\n`,
);
await httpGateway.close();
await gateway.close();
await upstream.close();

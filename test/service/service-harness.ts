// End-to-end fixtures of the service: a config whose dev tier uses a scripted model script written
// per test, an HTTP client with bearer keys, and waiting helpers. Real bubblewrap, SQLite, HTTP.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig, resolveTier } from '../../src/config/load-config.js';
import {
  RingfenceService,
  type RingfenceServiceOptions,
} from '../../src/service/ringfence-service.js';

export interface ScriptTurn {
  content: Record<string, unknown>[];
  delayMs?: number;
  /** The scripted model answers this turn with an HTTP error (see script-schema.ts). */
  error?: { status: number; type?: string; message?: string };
}

/** Three tool calls (Write, Bash, Read) then a final answer; `delayOnTurn` slows one reply. */
export function threeToolScript(delayOnTurn?: { turn: number; ms: number }): ScriptTurn[] {
  const turns: ScriptTurn[] = [
    {
      content: [
        { type: 'text', text: 'Writing a file.' },
        { type: 'tool_use', name: 'Write', input: { file_path: 'a.txt', content: 'one\n' } },
      ],
    },
    {
      content: [
        { type: 'text', text: 'Appending with the shell.' },
        {
          type: 'tool_use',
          name: 'Bash',
          input: { command: 'echo two >> a.txt && cat a.txt', description: 'append' },
        },
      ],
    },
    {
      content: [
        { type: 'text', text: 'Reading it back.' },
        { type: 'tool_use', name: 'Read', input: { file_path: 'a.txt' } },
      ],
    },
    { content: [{ type: 'text', text: 'Done: a.txt holds one and two.' }] },
  ];
  if (delayOnTurn !== undefined) turns[delayOnTurn.turn - 1]!.delayMs = delayOnTurn.ms;
  return turns;
}

/** Writes ringfence.yaml (dev tier, scripted model with `turns`) into a fresh dir; returns paths. */
export function writeServiceConfig(
  turns: ScriptTurn[],
  options: {
    allow?: string[];
    /** The policy's `network` section. Default: no egress. */
    network?: Record<string, unknown>;
    /** Extra fields of the dev tier (monitoring, gateway). */
    tier?: Record<string, unknown>;
  } = {},
): { dir: string; configPath: string; dataDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rf-svc-e2e-'));
  const scriptPath = join(dir, 'script.yaml');
  writeFileSync(scriptPath, stringify({ model: 'scripted-e2e', turns }));
  const dataDir = join(dir, 'data');
  const config = {
    version: 1,
    dataDir,
    policies: {
      default: {
        network: options.network ?? { allow: [] },
        limits: { memoryMb: 512, pids: 128, execTimeoutSec: 30, sessionTimeoutSec: 120 },
        tools: { mode: 'default', allow: options.allow ?? ['Read', 'Write', 'Edit', 'Bash'] },
      },
    },
    tiers: {
      dev: {
        model: { provider: 'scripted', model: 'scripted-e2e', script: scriptPath },
        logLevel: 'warn',
        sandbox: { driver: 'bubblewrap' },
        policy: 'default',
        features: { mockTools: false, monitoring: false },
        ...options.tier,
      },
    },
  };
  const configPath = join(dir, 'ringfence.yaml');
  writeFileSync(configPath, stringify(config));
  return { dir, configPath, dataDir };
}

export interface HttpReply {
  status: number;
  body: unknown;
  headers: Headers;
}

export function client(baseUrl: string, key: string) {
  const call = async (method: string, path: string, body?: unknown): Promise<HttpReply> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (SSE)
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  return {
    get: (path: string) => call('GET', path),
    post: (path: string, body: unknown = {}) => call('POST', path, body),
  };
}

export type Client = ReturnType<typeof client>;

export async function until<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface SessionBody {
  status: string;
  result: unknown;
  lastCompletedTurn: number;
}

/** Waits until the session is succeeded/failed/cancelled and returns its body. */
export function finished(c: Client, id: string, timeoutMs = 90_000): Promise<SessionBody> {
  return until(
    async () => {
      const r = await c.get(`/v1/sessions/${id}`);
      const b = r.body as SessionBody;
      return ['succeeded', 'failed', 'cancelled'].includes(b.status) ? b : undefined;
    },
    `session ${id} to finish`,
    timeoutMs,
  );
}

export interface StoredEvent {
  seq: number;
  type: string;
  data: Record<string, unknown>;
}

export async function allEvents(c: Client, id: string): Promise<StoredEvent[]> {
  const r = await c.get(`/v1/sessions/${id}/events?format=json&limit=5000`);
  const body = r.body as { events?: StoredEvent[] } | StoredEvent[];
  return Array.isArray(body) ? body : (body.events ?? []);
}

/** tool_use ids of every executed tool call (tool_result events), in order. */
export function executedToolUseIds(events: readonly StoredEvent[]): string[] {
  return events.filter((e) => e.type === 'tool_result').map((e) => String(e.data['tool_use_id']));
}

/**
 * Starts an in-process service on a config written by writeServiceConfig: the dev tier, the API
 * on a free port, no reaper, fast polling; `overrides` adds or replaces options.
 */
export async function startTestService(
  cfg: { configPath: string; dataDir: string },
  overrides: Partial<RingfenceServiceOptions> = {},
): Promise<RingfenceService> {
  const { config, path } = loadConfig(cfg.configPath);
  const service = new RingfenceService({
    dataDir: cfg.dataDir,
    resolveTier: (name) => resolveTier(config, name, path),
    defaultTier: 'dev',
    tiers: ['dev'],
    port: 0,
    workers: 2,
    reaper: false,
    pollIntervalMs: 50,
    ...overrides,
  });
  await service.start();
  return service;
}

// Test harness for the agent runtime: a real bubblewrap sandbox on a temp workspace, a scripted
// Messages-API server on loopback (every request captured), and audit + transcript in a temp dir.
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentEvent, ResultEvent } from '../../src/agent/agent-events.js';
import type { RunAgentOptions, AgentRun } from '../../src/agent/run-options.js';
import { runAgent } from '../../src/agent/run-agent.js';
import { openAuditLog } from '../../src/audit/open-audit.js';
import type { AuditLog } from '../../src/audit/audit-log.js';
import type { AuditStore } from '../../src/audit/audit-store.js';
import { RoutingGateway } from '../../src/models/gateway/routing-gateway.js';
import type { GatewayConfigInput } from '../../src/models/gateway-config.js';
import { parseScript } from '../../src/models/scripted/script-schema.js';
import {
  ScriptedServer,
  type ScriptedRequestInfo,
} from '../../src/models/scripted/scripted-server.js';
import { policySchema, type PolicyInput } from '../../src/policy/policy-schema.js';
import { openSessionEgress, type SessionEgress } from '../../src/egress/session-egress.js';
import { createDriver } from '../../src/sandbox/create-driver.js';
import { provisionSandbox } from '../../src/sandbox/provision.js';
import type { Sandbox, SandboxDriver } from '../../src/sandbox/driver.js';
import { createSessionStore } from '../../src/sessions/create-session-store.js';
import type { SessionStore } from '../../src/sessions/session-store.js';

export const SAMPLE = new URL('../../examples/sample-workspace', import.meta.url).pathname;

/** A scripted turn: tool calls (each `[name, input]`) and/or text. */
export function turn(...tools: [string, Record<string, unknown>][]): unknown {
  return { content: tools.map(([name, input]) => ({ type: 'tool_use', name, input })) };
}
export function say(text: string): unknown {
  return { content: [{ type: 'text', text }] };
}

export interface Harness {
  /** The session id `run` uses when the harness provisions egress (egress records carry it). */
  sessionId: string;
  workspace: string;
  dataDir: string;
  sandbox: Sandbox;
  audit: AuditLog;
  auditStore: AuditStore;
  publicKeyPem: string;
  store: SessionStore;
  gateway: RoutingGateway;
  requests: ScriptedRequestInfo[];
  /** Runs a session to the end and returns all events and the result. */
  run(
    prompt: string,
    extra?: Partial<RunAgentOptions>,
    onEvent?: (e: AgentEvent, run: AgentRun) => void,
  ): Promise<{ events: AgentEvent[]; result: ResultEvent; run: AgentRun }>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  turns: unknown[];
  policy?: PolicyInput;
  /** Copy the sample project into the workspace. Default true. */
  sample?: boolean;
  gatewayConfig?: GatewayConfigInput;
  /** Use the JSONL audit sink (easy to tamper with). */
  jsonlAudit?: boolean;
  model?: string;
  /**
   * Provision the sandbox with the session's own egress proxy exactly as `ringfence run` does
   * (openSessionEgress + provisionSandbox, decisions appended to the session's audit log as
   * 'egress'). Needs root; the harness then runs one session, with `sessionId`.
   */
  egress?: boolean;
  /** Configure a canary arm (same scripted server, another model name) persisting state here. */
  canaryStateDir?: string;
}

let driver: SandboxDriver | undefined;

export async function startHarness(opts: HarnessOptions): Promise<Harness> {
  const root = mkdtempSync(join(tmpdir(), 'rf-agent-test-'));
  const workspace = join(root, 'ws');
  const dataDir = join(root, 'data');
  if (opts.sample !== false) cpSync(SAMPLE, workspace, { recursive: true });
  const policy = policySchema.parse(opts.policy ?? {});
  driver ??= await createDriver('bubblewrap');
  const sessionId = randomUUID();
  const {
    log: audit,
    store: auditStore,
    publicKeyPem,
  } = openAuditLog({
    dataDir,
    ...(opts.jsonlAudit === true ? { jsonlDir: join(dataDir, 'audit') } : {}),
  });
  let egress: SessionEgress | undefined;
  if (opts.egress === true) {
    egress = await openSessionEgress(policy, dataDir, (ev) => {
      void audit
        .append(sessionId, 'egress', JSON.parse(JSON.stringify(ev)) as Record<string, never>)
        .catch(() => undefined);
    });
  }
  const sandbox = await provisionSandbox(driver, {
    workspace,
    policy,
    ...(egress ? { sessionId, egress: egress.wiring } : {}),
  });
  const requests: ScriptedRequestInfo[] = [];
  const server = new ScriptedServer({
    script: parseScript({ turns: opts.turns }),
    onRequest: (i) => requests.push(i),
  });
  const url = await server.start();
  const model = opts.model ?? 'claude-test';
  const gateway = new RoutingGateway({
    routes: { provider: 'anthropic', model, baseUrl: url },
    credentials: { anthropic: { apiKey: 'placeholder-not-a-secret' } },
    config: {
      retry: { maxAttempts: 1 },
      ...(opts.canaryStateDir
        ? {
            canary: {
              route: { provider: 'anthropic' as const, model: `${model}-canary`, baseUrl: url },
              minSample: 1_000,
              stateDir: opts.canaryStateDir,
            },
          }
        : {}),
      ...(opts.gatewayConfig ?? {}),
    },
  });
  const store = await createSessionStore({ backend: 'sqlite', dataDir });
  return {
    sessionId,
    workspace,
    dataDir,
    sandbox,
    audit,
    auditStore,
    publicKeyPem,
    store,
    gateway,
    requests,
    async run(prompt, extra = {}, onEvent) {
      const run = runAgent({
        prompt,
        sandbox,
        gateway,
        model,
        policy,
        audit,
        store,
        unattended: true,
        ...(egress ? { sessionId } : {}),
        ...extra,
      });
      const events: AgentEvent[] = [];
      for await (const e of run) {
        events.push(e);
        onEvent?.(e, run);
      }
      const result = events.at(-1);
      if (result?.type !== 'result') throw new Error('session ended without a result event');
      return { events, result, run };
    },
    async close() {
      await sandbox.destroy();
      await egress?.close();
      await gateway.close();
      await server.close();
      await audit.close();
      await store.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export async function closeDriver(): Promise<void> {
  await driver?.close();
  driver = undefined;
}

/** Tool results the model saw, by tool_use id order. */
export function toolResults(events: AgentEvent[]): { content: string; isError: boolean }[] {
  return events.flatMap((e) =>
    e.type === 'user'
      ? e.message.content.map((c) => ({
          content: typeof c.content === 'string' ? c.content : JSON.stringify(c.content),
          isError: c.is_error === true,
        }))
      : [],
  );
}

export function decisions(events: AgentEvent[]): Extract<AgentEvent, { type: 'tool_decision' }>[] {
  return events.filter(
    (e): e is Extract<AgentEvent, { type: 'tool_decision' }> => e.type === 'tool_decision',
  );
}

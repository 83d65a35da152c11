// Audit durability per tool turn: the intent is a synchronous (fsync'ed) append made before the
// tool runs; results, model calls and session.start are deferred to the next synchronous write.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runAgent } from '../../src/agent/run-agent.js';
import { createSigner, loadOrCreateAuditKeys } from '../../src/audit/audit-keys.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import type { AuditRecord } from '../../src/audit/audit-record.js';
import type { AppendDurability, AuditStore } from '../../src/audit/audit-store.js';
import { JsonlAuditStore } from '../../src/audit/jsonl/jsonl-audit-store.js';
import { SqliteAuditStore } from '../../src/audit/sqlite/sqlite-audit-store.js';
import { verify } from '../../src/audit/verify-audit.js';
import type { GatewayResult, ModelGateway } from '../../src/models/model-gateway.js';
import { policySchema } from '../../src/policy/policy-schema.js';
import type { ExecResult, Sandbox } from '../../src/sandbox/driver.js';
import { createSessionStore } from '../../src/sessions/create-session-store.js';

const TOOL_TURNS = 3;
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'rf-durability-'));
  roots.push(root);
  return root;
}

/** Every store write and every sandbox exec, in the order they happened. */
type Step =
  { kind: 'record'; type: string; sync: boolean } | { kind: 'checkpoint' } | { kind: 'exec' };

function spyStore(inner: AuditStore, steps: Step[]): AuditStore {
  return {
    kind: inner.kind,
    appendRecord(record: AuditRecord, durability?: AppendDurability) {
      steps.push({ kind: 'record', type: record.type, sync: durability?.sync !== false });
      return inner.appendRecord(record, durability);
    },
    appendCheckpoint(cp, record) {
      steps.push({ kind: 'checkpoint' });
      return inner.appendCheckpoint(cp, record);
    },
    head: (id) => inner.head(id),
    readRecords: (id) => inner.readRecords(id),
    readCheckpoints: (id) => inner.readCheckpoints(id),
    listLogs: () => inner.listLogs(),
    close: () => inner.close(),
  };
}

function fakeSandbox(steps: Step[]): Sandbox {
  const ok: ExecResult = {
    exitCode: 0,
    signal: undefined,
    stdout: '',
    stderr: '',
    stdoutTruncatedBytes: 0,
    stderrTruncatedBytes: 0,
    limit: undefined,
    durationMs: 0,
  };
  const unused = (): never => {
    throw new Error('not used by this test');
  };
  return {
    id: 'fake',
    driver: 'bubblewrap',
    workspace: '/nonexistent',
    async exec() {
      steps.push({ kind: 'exec' });
      return ok;
    },
    readFile: unused,
    writeFile: unused,
    list: unused,
    stats: unused,
    destroy: async () => {},
  };
}

/** TOOL_TURNS turns of one Bash call each, then a final text answer; no HTTP. */
function scriptedGateway(): ModelGateway {
  let call = 0;
  return {
    createMessage: () => Promise.reject(new Error('streaming only')),
    async streamMessage(): Promise<GatewayResult> {
      call += 1;
      const tool = call <= TOOL_TURNS;
      const content = tool
        ? [{ type: 'tool_use', id: `toolu_${call}`, name: 'Bash', input: { command: 'true' } }]
        : [{ type: 'text', text: 'done', citations: null }];
      return {
        message: {
          id: `msg_${call}`,
          type: 'message',
          role: 'assistant',
          model: 'claude-test',
          content,
          stop_reason: tool ? 'tool_use' : 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: 1, output_tokens: 1 },
        } as unknown as GatewayResult['message'],
        route: 'test:claude-test',
        usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 },
        costUsd: 0,
        attempts: 1,
      };
    },
    subscribe: () => () => {},
    close: async () => {},
  };
}

async function runSession(backend: 'sqlite' | 'jsonl'): Promise<{
  steps: Step[];
  inner: AuditStore;
  publicKeyPem: string;
  sessionId: string;
  dataDir: string;
}> {
  const dataDir = join(tempRoot(), 'data');
  const keys = loadOrCreateAuditKeys(dataDir);
  const steps: Step[] = [];
  const inner: AuditStore =
    backend === 'sqlite'
      ? new SqliteAuditStore({ dataDir })
      : new JsonlAuditStore({ dir: join(dataDir, 'audit') });
  const audit = new AuditLog({
    store: spyStore(inner, steps),
    signer: createSigner(keys.privateKey),
  });
  const store = await createSessionStore({ backend: 'sqlite', dataDir });
  let sessionId = '';
  for await (const e of runAgent({
    prompt: 'durability',
    sandbox: fakeSandbox(steps),
    gateway: scriptedGateway(),
    model: 'claude-test',
    policy: policySchema.parse({ tools: { mode: 'acceptEdits', allow: ['Bash(true)'] } }),
    audit,
    store,
    unattended: true,
  })) {
    if (e.type === 'result') {
      expect(e.subtype).toBe('success');
      sessionId = e.session_id;
    }
  }
  await store.close();
  await audit.close();
  return { steps, inner, publicKeyPem: keys.publicKeyPem, sessionId, dataDir };
}

describe('audit durability per tool turn', () => {
  it.each(['sqlite', 'jsonl'] as const)(
    '%s: each tool runs only after its intent was appended synchronously',
    async (backend) => {
      const { steps } = await runSession(backend);
      const execs = steps.flatMap((s, i) => (s.kind === 'exec' ? [i] : []));
      expect(execs).toHaveLength(TOOL_TURNS);
      for (const at of execs) {
        // The store write right before the tool is its intent, written with fsync.
        expect(steps[at - 1]).toEqual({ kind: 'record', type: 'tool.intent', sync: true });
      }
      const byType = (type: string): boolean[] =>
        steps.flatMap((s) => (s.kind === 'record' && s.type === type ? [s.sync] : []));
      expect(byType('tool.intent')).toEqual(Array(TOOL_TURNS).fill(true));
      // Gate nothing: deferred to the next synchronous write.
      expect(byType('tool.result')).toEqual(Array(TOOL_TURNS).fill(false));
      expect(byType('model.call')).toEqual(Array(TOOL_TURNS + 1).fill(false));
      expect(byType('session.start')).toEqual([false]);
      expect(byType('session.end')).toEqual([false]);
      // ...and the session is sealed by a (synchronous) checkpoint right after session.end.
      expect(steps.at(-2)).toEqual({ kind: 'record', type: 'session.end', sync: false });
      expect(steps.at(-1)).toEqual({ kind: 'checkpoint' });
    },
  );

  it.each(['sqlite', 'jsonl'] as const)(
    '%s: deferred records are stored, chained and signed like the others',
    async (backend) => {
      const { publicKeyPem, sessionId, dataDir } = await runSession(backend);
      const reopened: AuditStore =
        backend === 'sqlite'
          ? new SqliteAuditStore({ dataDir, readonly: true })
          : new JsonlAuditStore({ dir: join(dataDir, 'audit'), readonly: true });
      try {
        const r = await verify(reopened, { logId: sessionId, publicKey: publicKeyPem });
        expect(r.firstBad).toBeUndefined();
        expect(r.ok).toBe(true);
        expect(r.logs[0]?.sealed).toBe(true);
        const types = (await reopened.readRecords(sessionId)).map(
          (e) => (JSON.parse(e.text) as AuditRecord).type,
        );
        expect(types.filter((t) => t === 'tool.result')).toHaveLength(TOOL_TURNS);
        expect(types.filter((t) => t === 'model.call')).toHaveLength(TOOL_TURNS + 1);
        expect(types.at(-2)).toBe('session.end');
      } finally {
        await reopened.close();
      }
    },
  );

  it('jsonl: a deferred record is in the file as soon as its append resolves', async () => {
    const dir = join(tempRoot(), 'audit');
    const keys = loadOrCreateAuditKeys(join(dir, '..'));
    const log = new AuditLog({
      store: new JsonlAuditStore({ dir }),
      signer: createSigner(keys.privateKey),
    });
    await log.append('sess-d', 'tool.result', { n: 1 }, { sync: false });
    const text = readFileSync(join(dir, 'records', 'sess-d.jsonl'), 'utf8');
    expect(text.split('\n').filter(Boolean)).toHaveLength(1);
    expect(text).toContain('"tool.result"');
    await log.close();
  });
});

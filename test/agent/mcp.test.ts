// MCP over stdio INSIDE the sandbox: the policy's tools.mcp starts examples/mcp/notes-server.mjs
// (bound read-only) in the bubblewrap sandbox; its tools reach the model as mcp__notes__*.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { PolicyInput } from '../../src/policy/policy-schema.js';
import { missingBubblewrap, reportSkip } from '../helpers/capabilities.js';
import { closeDriver, decisions, say, startHarness, toolResults, turn } from './harness.js';

const skip = reportSkip('agent MCP over stdio', missingBubblewrap());
const SERVER = fileURLToPath(new URL('../../examples/mcp/notes-server.mjs', import.meta.url));
const SERVER_DIR = fileURLToPath(new URL('../../examples/mcp', import.meta.url));

function mcpPolicy(tools: NonNullable<PolicyInput['tools']>): PolicyInput {
  return {
    filesystem: { readOnly: [SERVER_DIR] },
    tools: { ...tools, mcp: { notes: { command: ['node', SERVER] } } },
  };
}

async function auditTypes(
  h: Awaited<ReturnType<typeof startHarness>>,
  sessionId: string,
): Promise<{ type: string; data: Record<string, unknown> }[]> {
  const records = await h.auditStore.readRecords(sessionId);
  return records.map((r) => JSON.parse(r.text) as { type: string; data: Record<string, unknown> });
}

describe.skipIf(skip || !existsSync('/usr/bin/node'))('agent MCP over stdio', () => {
  afterAll(closeDriver);

  it('default mode: the annotated tool runs by rule, the unannotated one needs approval; results and audit', async () => {
    const h = await startHarness({
      policy: mcpPolicy({ mode: 'default', allow: ['mcp__notes__echo'] }),
      turns: [
        turn(['mcp__notes__echo', { text: 'hello' }]),
        turn(['mcp__notes__append_note', { line: 'first note' }]),
        say('done'),
      ],
    });
    try {
      const asked: string[] = [];
      const { events, result, run } = await h.run('use the notes server', {
        unattended: false,
        canUseTool: async (req) => {
          asked.push(req.tool);
          return { behavior: 'allow' };
        },
      });
      expect(result.subtype).toBe('success');
      const init = events[0];
      expect(init).toMatchObject({
        type: 'system',
        mcp_servers: [{ name: 'notes', status: 'connected' }],
      });
      expect(init?.type === 'system' ? init.tools : []).toEqual(
        expect.arrayContaining(['mcp__notes__echo', 'mcp__notes__append_note']),
      );
      // The model was offered both tools with the server's schemas.
      const offered = (h.requests[0]?.body as { tools?: { name: string }[] }).tools ?? [];
      expect(offered.map((t) => t.name)).toEqual(
        expect.arrayContaining(['mcp__notes__echo', 'mcp__notes__append_note']),
      );
      const d = decisions(events);
      expect(d[0]).toMatchObject({
        tool: 'mcp__notes__echo',
        behavior: 'allow',
        decided_by: 'allow-rule',
      });
      expect(d[1]).toMatchObject({
        tool: 'mcp__notes__append_note',
        behavior: 'allow',
        decided_by: 'approval',
      });
      expect(asked).toEqual(['mcp__notes__append_note']);
      const outs = toolResults(events);
      // The server ran inside the sandbox: its cwd is /workspace and its file lands in the workspace.
      expect(outs[0]?.isError).toBe(false);
      expect(outs[0]?.content).toMatch(/^echo: hello \(cwd=\/workspace uid=\d+\)$/);
      expect(outs[1]?.content).toContain('appended to /workspace/notes.txt');
      expect(readFileSync(join(h.workspace, 'notes.txt'), 'utf8')).toBe('first note\n');
      // The model saw the results in its next requests.
      expect(JSON.stringify(h.requests[1]?.body)).toContain('echo: hello');
      const audit = await auditTypes(h, run.sessionId);
      const intents = audit.filter((r) => r.type === 'tool.intent').map((r) => r.data);
      expect(intents).toMatchObject([
        { tool: 'mcp__notes__echo', decision: 'allow', decidedBy: 'allow-rule' },
        { tool: 'mcp__notes__append_note', decision: 'allow', decidedBy: 'approval' },
      ]);
      const results = audit.filter((r) => r.type === 'tool.result').map((r) => r.data);
      expect(results).toMatchObject([
        { tool: 'mcp__notes__echo', isError: false, mocked: false },
        { tool: 'mcp__notes__append_note', isError: false, mocked: false },
      ]);
    } finally {
      await h.close();
    }
  });

  it('plan mode: the read-only tool runs, the unannotated tool is denied as destructive', async () => {
    const h = await startHarness({
      policy: mcpPolicy({ mode: 'plan', allow: ['mcp__notes__*'] }),
      turns: [
        turn(['mcp__notes__echo', { text: 'plan' }], ['mcp__notes__append_note', { line: 'x' }]),
        say('planned'),
      ],
    });
    try {
      const { events, result, run } = await h.run('plan with the notes server');
      expect(result.subtype).toBe('success');
      const d = decisions(events);
      expect(d[0]).toMatchObject({ tool: 'mcp__notes__echo', behavior: 'allow' });
      expect(d[1]).toMatchObject({
        tool: 'mcp__notes__append_note',
        behavior: 'deny',
        decided_by: 'mode',
      });
      expect(d[1]?.message).toMatch(/plan mode allows read-only tools only/);
      const outs = toolResults(events);
      expect(outs[0]?.content).toContain('echo: plan');
      expect(outs[1]?.isError).toBe(true);
      expect(outs[1]?.content).toMatch(/^Permission denied: plan mode/);
      expect(existsSync(join(h.workspace, 'notes.txt'))).toBe(false);
      expect(result.permission_denials.map((p) => p.tool_name)).toEqual([
        'mcp__notes__append_note',
      ]);
      const audit = await auditTypes(h, run.sessionId);
      expect(
        audit
          .filter((r) => r.type === 'tool.intent')
          .map((r) => [r.data['tool'], r.data['decision']]),
      ).toEqual([
        ['mcp__notes__echo', 'allow'],
        ['mcp__notes__append_note', 'deny'],
      ]);
    } finally {
      await h.close();
    }
  });

  it('a server that cannot start is reported failed and contributes no tools', async () => {
    const h = await startHarness({
      sample: false,
      policy: {
        tools: { mcp: { broken: { command: ['node', '/workspace/no-such-server.mjs'] } } },
      },
      turns: [turn(['mcp__broken__anything', {}]), say('ok')],
    });
    try {
      const { events, result } = await h.run('use the broken server');
      expect(result.subtype).toBe('success');
      const init = events[0];
      expect(init).toMatchObject({
        type: 'system',
        mcp_servers: [{ name: 'broken', status: 'failed' }],
      });
      expect(
        init?.type === 'system' ? init.tools.filter((t) => t.startsWith('mcp__')) : [],
      ).toEqual([]);
      expect(toolResults(events)[0]?.isError).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('default mode, unattended: the unannotated tool is denied (no one can approve)', async () => {
    const h = await startHarness({
      policy: mcpPolicy({ mode: 'default' }),
      turns: [turn(['mcp__notes__append_note', { line: 'y' }]), say('ok')],
    });
    try {
      const { events } = await h.run('try to write a note');
      expect(decisions(events)[0]).toMatchObject({
        tool: 'mcp__notes__append_note',
        behavior: 'deny',
        decided_by: 'unattended',
      });
      expect(existsSync(join(h.workspace, 'notes.txt'))).toBe(false);
    } finally {
      await h.close();
    }
  });
});

// Permission modes, rule forms and approvals end to end: the scripted model asks for tools, the
// engine decides, the sandbox runs only what was allowed, and every decision is in the audit log.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PolicyInput } from '../../src/policy/policy-schema.js';
import { roleByName } from '../../src/agent/roles.js';
import { missingBubblewrap, reportSkip } from '../helpers/capabilities.js';
import { closeDriver, decisions, say, startHarness, toolResults, turn } from './harness.js';

const skip = reportSkip('agent permissions', missingBubblewrap());

const touchA = turn(['Bash', { command: 'touch a.txt' }]);
const writeB = turn(['Write', { file_path: 'b.txt', content: 'b' }]);
const readPkg = turn(['Read', { file_path: 'package.json' }]);

async function session(policy: PolicyInput, turns: unknown[], extra = {}) {
  const h = await startHarness({ policy, turns: [...turns, say('end')] });
  try {
    const out = await h.run('task', extra);
    const present = new Set(
      ['a.txt', 'b.txt', 'c.txt'].filter((f) => existsSync(join(h.workspace, f))),
    );
    return {
      ...out,
      exists: (f: string) => present.has(f),
      records: (await h.auditStore.readRecords(out.run.sessionId)).map(
        (r) => JSON.parse(r.text) as { type: string; data: Record<string, unknown> },
      ),
    };
  } finally {
    await h.close();
  }
}

describe.skipIf(skip)('permission modes end to end', () => {
  afterAll(closeDriver);

  it('default: unapproved Bash is denied when unattended; reads in the workspace run', async () => {
    const r = await session({ tools: { mode: 'default' } }, [touchA, readPkg]);
    const d = decisions(r.events);
    expect(d[0]).toMatchObject({ tool: 'Bash', behavior: 'deny' });
    expect(d[1]).toMatchObject({ tool: 'Read', behavior: 'allow', decided_by: 'mode' });
    expect(r.exists('a.txt')).toBe(false);
    expect(r.result.permission_denials).toHaveLength(1);
    const intents = r.records.filter((x) => x.type === 'tool.intent');
    expect(intents.map((x) => x.data['decision'])).toEqual(['deny', 'allow']);
  });

  it('acceptEdits: Write and touch inside the workspace run without approval', async () => {
    const r = await session({ tools: { mode: 'acceptEdits' } }, [touchA, writeB]);
    expect(decisions(r.events).map((d) => d.behavior)).toEqual(['allow', 'allow']);
    expect(r.exists('a.txt') && r.exists('b.txt')).toBe(true);
  });

  it('plan: only read-only tools run, even with an allow rule', async () => {
    const r = await session({ tools: { mode: 'plan', allow: ['Write'] } }, [writeB, readPkg]);
    expect(decisions(r.events).map((d) => d.behavior)).toEqual(['deny', 'allow']);
    expect(r.exists('b.txt')).toBe(false);
  });

  it('dontAsk: anything not pre-approved is denied; Bash(prefix:*) rules allow', async () => {
    const r = await session({ tools: { mode: 'dontAsk', allow: ['Bash(touch:*)'] } }, [
      touchA,
      writeB,
      turn(['Bash', { command: 'touch c.txt && rm a.txt' }]),
    ]);
    expect(decisions(r.events).map((d) => d.behavior)).toEqual(['allow', 'deny', 'deny']);
    expect(r.exists('a.txt')).toBe(true);
    expect(r.exists('b.txt') || r.exists('c.txt')).toBe(false);
  });

  it('bypassPermissions: everything but deny rules; a deny rule still wins', async () => {
    const r = await session({ tools: { mode: 'bypassPermissions', deny: ['Write'] } }, [
      touchA,
      writeB,
    ]);
    expect(decisions(r.events).map((d) => [d.behavior, d.decided_by])).toEqual([
      ['allow', 'mode'],
      ['deny', 'deny-rule'],
    ]);
  });

  it('Read(./secrets/**) deny rule refuses the read and hides the file from Grep and Glob', async () => {
    const r = await session({ tools: { mode: 'acceptEdits', deny: ['Read(./secrets/**)'] } }, [
      turn(['Write', { file_path: 'secrets/k.txt', content: 'needle' }]),
      turn(['Read', { file_path: 'secrets/k.txt' }]),
      turn(['Grep', { pattern: 'needle' }]),
      turn(['Glob', { pattern: '**/*.txt' }]),
    ]);
    const d = decisions(r.events);
    expect(d[1]).toMatchObject({ behavior: 'deny', decided_by: 'deny-rule' });
    const outs = toolResults(r.events);
    expect(outs[2]?.content).toBe('No matches found');
    expect(outs[3]?.content).toBe('No files found');
  });

  it('a role limits the tools (reviewer: Read, Glob, Grep in plan mode)', async () => {
    const r = await session({ tools: { mode: 'bypassPermissions' } }, [touchA, readPkg], {
      role: roleByName('reviewer'),
    });
    expect(decisions(r.events).map((d) => d.behavior)).toEqual(['deny', 'allow']);
    expect(r.events[0]).toMatchObject({ permissionMode: 'plan' });
  });
});

describe.skipIf(skip)('approvals', () => {
  afterAll(closeDriver);

  async function withResponder(answer: 'allow' | 'deny' | 'none', approvalTimeoutMs = 60_000) {
    const h = await startHarness({
      policy: { tools: { mode: 'default' } },
      turns: [touchA, say('end')],
    });
    try {
      const out = await h.run('task', { unattended: false, approvalTimeoutMs }, (e, run) => {
        if (e.type !== 'approval_request' || answer === 'none') return;
        expect(e).toMatchObject({ tool: 'Bash', input: { command: 'touch a.txt' } });
        run.respond(
          e.request_id,
          answer === 'allow' ? { behavior: 'allow' } : { behavior: 'deny', message: 'no thanks' },
        );
      });
      const records = (await h.auditStore.readRecords(out.run.sessionId)).map(
        (x) => JSON.parse(x.text) as { type: string; data: Record<string, unknown> },
      );
      return {
        ...out,
        created: existsSync(join(h.workspace, 'a.txt')),
        approvals: records.filter((x) => x.type === 'approval'),
      };
    } finally {
      await h.close();
    }
  }

  it('granted: the approval event carries tool, input and request id; the tool runs', async () => {
    const r = await withResponder('allow');
    expect(r.events.some((e) => e.type === 'approval_request')).toBe(true);
    expect(decisions(r.events)[0]).toMatchObject({ behavior: 'allow', decided_by: 'approval' });
    expect(r.created).toBe(true);
    expect(r.approvals[0]?.data).toMatchObject({ behavior: 'allow', outcome: 'answered' });
  });

  it('denied: the tool does not run and the model sees the denial', async () => {
    const r = await withResponder('deny');
    expect(decisions(r.events)[0]).toMatchObject({ behavior: 'deny' });
    expect(r.created).toBe(false);
    expect(toolResults(r.events)[0]?.isError).toBe(true);
  });

  it('unanswered: times out as denied', async () => {
    const r = await withResponder('none', 300);
    expect(r.events.find((e) => e.type === 'approval_resolved')).toMatchObject({
      behavior: 'deny',
      outcome: 'timeout',
    });
    expect(r.created).toBe(false);
    expect(r.approvals[0]?.data).toMatchObject({ outcome: 'timeout' });
  });
});

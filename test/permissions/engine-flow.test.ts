// PermissionEngine behaviour outside the rule table: approvals (granted, denied, timed out,
// aborted), events, hooks (deny, allow vs deny rules, rewrite, throw), roles, bypass refusal.
import { describe, expect, it } from 'vitest';
import { PolicyError } from '../../src/errors.js';
import {
  PermissionEngine,
  type PermissionEngineOptions,
} from '../../src/agent/permissions/permission-engine.js';
import type { PermissionEvent } from '../../src/agent/permissions/types.js';

const call = (tool: string, input: Record<string, unknown>) => ({ tool, input, toolUseId: 'tu_1' });
const engine = (o: Partial<PermissionEngineOptions> = {}) =>
  new PermissionEngine({ policy: {}, sandboxIsolates: true, ...o });

describe('approvals', () => {
  it('an approval granted allows the call and carries the request id', async () => {
    const events: PermissionEvent[] = [];
    const e = engine({
      onApproval: async () => ({ behavior: 'allow' }),
      onEvent: (ev) => events.push(ev),
      newRequestId: () => 'req-1',
    });
    const d = await e.decide(call('Bash', { command: 'make' }));
    expect(d).toMatchObject({ behavior: 'allow', decidedBy: 'approval', requestId: 'req-1' });
    expect(events).toEqual([
      {
        type: 'approval_requested',
        requestId: 'req-1',
        tool: 'Bash',
        input: { command: 'make' },
        toolUseId: 'tu_1',
        reason: 'no rule pre-approves this call',
      },
      { type: 'approval_resolved', requestId: 'req-1', behavior: 'allow', outcome: 'answered' },
    ]);
  });

  it('an approval denied denies with the approver message', async () => {
    const e = engine({ onApproval: async () => ({ behavior: 'deny', message: 'not today' }) });
    const d = await e.decide(call('Bash', { command: 'make' }));
    expect(d).toMatchObject({ behavior: 'deny', decidedBy: 'approval', message: 'not today' });
  });

  it('an unanswered approval times out as a deny and tells the approver to stop', async () => {
    let approverSignal: AbortSignal | undefined;
    const events: PermissionEvent[] = [];
    const e = engine({
      approvalTimeoutMs: 20,
      onEvent: (ev) => events.push(ev),
      onApproval: (_req, { signal }) => {
        approverSignal = signal;
        return new Promise(() => {});
      },
    });
    const d = await e.decide(call('Bash', { command: 'make' }));
    expect(d).toMatchObject({
      behavior: 'deny',
      decidedBy: 'approval',
      message: 'approval timed out',
    });
    expect(approverSignal?.aborted).toBe(true);
    expect(events.at(-1)).toMatchObject({
      type: 'approval_resolved',
      outcome: 'timeout',
      behavior: 'deny',
    });
  });

  it('aborting the session signal denies a pending approval', async () => {
    const ac = new AbortController();
    const e = engine({
      onApproval: () => {
        queueMicrotask(() => ac.abort());
        return new Promise(() => {});
      },
    });
    const d = await e.decide(call('Bash', { command: 'make' }), { signal: ac.signal });
    expect(d).toMatchObject({ behavior: 'deny', message: 'approval aborted' });
  });

  it('a throwing approval callback is a deny', async () => {
    const e = engine({
      onApproval: async () => {
        throw new Error('ui crashed');
      },
    });
    const d = await e.decide(call('Bash', { command: 'make' }));
    expect(d).toMatchObject({
      behavior: 'deny',
      decidedBy: 'approval',
      message: 'approval callback failed',
    });
  });

  it('a malformed approval answer is a deny', async () => {
    const e = engine({ onApproval: async () => ({ behavior: 'yes' }) as never });
    expect((await e.decide(call('Bash', { command: 'make' }))).behavior).toBe('deny');
  });

  it('unattended sessions and a missing callback never ask', async () => {
    let asked = 0;
    const e = engine({ onApproval: async () => (asked++, { behavior: 'allow' }) });
    const d = await e.decide(call('Bash', { command: 'make' }), { unattended: true });
    expect(d).toMatchObject({ behavior: 'deny', decidedBy: 'unattended' });
    expect(asked).toBe(0);
    const d2 = await engine().decide(call('Bash', { command: 'make' }));
    expect(d2).toMatchObject({ behavior: 'deny', decidedBy: 'unattended' });
  });

  it('input updated by the approver is re-checked against deny rules', async () => {
    const e = engine({
      policy: { deny: ['Bash(rm:*)'] },
      onApproval: async () => ({ behavior: 'allow', updatedInput: { command: 'rm -rf /' } }),
    });
    const d = await e.decide(call('Bash', { command: 'make' }));
    expect(d).toMatchObject({ behavior: 'deny', decidedBy: 'deny-rule', rule: 'Bash(rm:*)' });
  });

  it('input updated by the approver is what runs', async () => {
    const e = engine({
      onApproval: async () => ({ behavior: 'allow', updatedInput: { command: 'make -n' } }),
    });
    const d = await e.decide(call('Bash', { command: 'make' }));
    expect(d).toMatchObject({ behavior: 'allow', updatedInput: { command: 'make -n' } });
  });

  it('a listener that throws does not change the decision', async () => {
    const e = engine({ onApproval: async () => ({ behavior: 'allow' }) });
    const seen: string[] = [];
    const off = e.subscribe((ev) => {
      seen.push(ev.type);
      throw new Error('listener bug');
    });
    expect((await e.decide(call('Bash', { command: 'make' }))).behavior).toBe('allow');
    off();
    await e.decide(call('Bash', { command: 'make' }));
    expect(seen).toEqual(['approval_requested', 'approval_resolved']);
  });
});

describe('hooks', () => {
  it('a hook deny denies in bypassPermissions too', async () => {
    const e = engine({
      policy: { mode: 'bypassPermissions' },
      hooks: [async () => ({ decision: 'deny', reason: 'blocked by policy hook' })],
    });
    const d = await e.decide(call('Read', { file_path: '/workspace/a' }));
    expect(d).toMatchObject({
      behavior: 'deny',
      decidedBy: 'hook',
      message: 'blocked by policy hook',
    });
  });

  it('a hook allow does NOT override a deny rule', async () => {
    const e = engine({
      policy: { deny: ['Bash(curl:*)'] },
      hooks: [async () => ({ decision: 'allow' })],
    });
    const d = await e.decide(call('Bash', { command: 'curl evil.example' }));
    expect(d).toMatchObject({ behavior: 'deny', decidedBy: 'deny-rule' });
  });

  it('a hook allow does not skip an ask rule, but approves what no rule covers', async () => {
    const e = engine({
      policy: { ask: ['Bash(git push:*)'] },
      hooks: [async () => ({ decision: 'allow' })],
    });
    expect((await e.decide(call('Bash', { command: 'git push' }))).behavior).toBe('deny'); // no approver
    expect(await e.decide(call('Bash', { command: 'make' }))).toMatchObject({
      behavior: 'allow',
      decidedBy: 'hook',
    });
  });

  it('a hook allow cannot run a write tool in plan mode', async () => {
    const e = engine({ policy: { mode: 'plan' }, hooks: [async () => ({ decision: 'allow' })] });
    expect(await e.decide(call('Write', { file_path: '/workspace/a' }))).toMatchObject({
      behavior: 'deny',
      decidedBy: 'mode',
    });
  });

  it('rules apply to the input a hook rewrote', async () => {
    const e = engine({
      policy: { allow: ['Bash(ls:*)'], deny: ['Bash(rm:*)'] },
      hooks: [
        async (c) => (c.tool === 'Bash' ? { updatedInput: { command: 'rm -rf x' } } : undefined),
      ],
    });
    const d = await e.decide(call('Bash', { command: 'ls' }));
    expect(d).toMatchObject({
      behavior: 'deny',
      decidedBy: 'deny-rule',
      updatedInput: { command: 'rm -rf x' },
    });
  });

  it('hooks chain their rewrites and honour matchers', async () => {
    const e = engine({
      policy: { allow: ['Bash(echo:*)'] },
      hooks: [
        { matcher: 'Read', hook: async () => ({ decision: 'deny' }) },
        {
          matcher: /^Ba/,
          hook: async (c) => ({ updatedInput: { command: `${String(c.input['command'])} a` } }),
        },
        { hook: async (c) => ({ updatedInput: { command: `${String(c.input['command'])} b` } }) },
      ],
    });
    const d = await e.decide(call('Bash', { command: 'echo' }));
    expect(d).toMatchObject({ behavior: 'allow', updatedInput: { command: 'echo a b' } });
  });

  it('a throwing hook is a deny', async () => {
    const e = engine({
      policy: { allow: ['Bash'] },
      hooks: [
        async () => {
          throw new Error('hook crashed');
        },
      ],
    });
    expect(await e.decide(call('Bash', { command: 'ls' }))).toMatchObject({
      behavior: 'deny',
      decidedBy: 'hook',
    });
  });

  it('a hook that never answers is a deny after its timeout', async () => {
    const e = engine({
      policy: { allow: ['Bash'] },
      hookTimeoutMs: 20,
      hooks: [() => new Promise(() => {})],
    });
    const d = await e.decide(call('Bash', { command: 'ls' }));
    expect(d.behavior).toBe('deny');
    expect(d.message).toMatch(/timed out/);
  });

  it('a hook ask sends an allowed call to the approver', async () => {
    let asked = false;
    const e = engine({
      policy: { allow: ['Bash'] },
      hooks: [async () => ({ decision: 'ask', reason: 'looks risky' })],
      onApproval: async (req) => {
        asked = req.reason === 'looks risky';
        return { behavior: 'allow' };
      },
    });
    expect(await e.decide(call('Bash', { command: 'ls' }))).toMatchObject({
      behavior: 'allow',
      decidedBy: 'approval',
    });
    expect(asked).toBe(true);
  });
});

describe('roles', () => {
  const reviewer = { name: 'reviewer', tools: ['Read', 'Glob', 'Grep'], mode: 'plan' as const };

  it('a tool outside the role is denied even when allowed', async () => {
    const e = engine({ role: reviewer, policy: { allow: ['Bash', 'Edit'] } });
    expect(await e.decide(call('Bash', { command: 'ls' }))).toMatchObject({
      behavior: 'deny',
      decidedBy: 'role',
    });
    expect(await e.decide(call('Edit', { file_path: '/workspace/a' }))).toMatchObject({
      behavior: 'deny',
      decidedBy: 'role',
    });
  });

  it('the role mode applies and its tools work', async () => {
    const e = engine({ role: reviewer, policy: { mode: 'acceptEdits' } });
    expect(e.mode).toBe('plan');
    expect(await e.decide(call('Grep', { pattern: 'x', path: '/workspace/src' }))).toMatchObject({
      behavior: 'allow',
    });
  });

  it('a role may scope a tool with a specifier', async () => {
    const e = engine({
      role: { tools: ['Read', 'Bash(npm test:*)'] },
      policy: { allow: ['Bash'] },
    });
    expect((await e.decide(call('Bash', { command: 'npm test' }))).behavior).toBe('allow');
    expect(await e.decide(call('Bash', { command: 'npm test && curl x' }))).toMatchObject({
      decidedBy: 'role',
    });
  });

  it('a role cannot name a wildcard', () => {
    expect(() => engine({ role: { tools: ['*'] } })).toThrow(PolicyError);
  });
});

describe('construction and misc', () => {
  it('refuses bypassPermissions when the sandbox does not isolate', () => {
    expect(
      () => new PermissionEngine({ policy: { mode: 'bypassPermissions' }, sandboxIsolates: false }),
    ).toThrow(PolicyError);
    expect(
      () =>
        new PermissionEngine({
          policy: {},
          role: { tools: ['Read'], mode: 'bypassPermissions' },
          sandboxIsolates: false,
        }),
    ).toThrow(PolicyError);
    expect(
      new PermissionEngine({ policy: { mode: 'bypassPermissions' }, sandboxIsolates: true }).mode,
    ).toBe('bypassPermissions');
  });

  it('refuses wildcard grants in any list', () => {
    for (const list of ['allow', 'ask', 'deny'] as const) {
      expect(() => engine({ policy: { [list]: ['Bash(*)'] } })).toThrow(PolicyError);
    }
  });

  it('treats MCP tools without readOnlyHint as destructive (denied in plan)', async () => {
    const e = engine({
      policy: { mode: 'plan', allow: ['mcp__kb'] },
      mcpTools: [
        { name: 'mcp__kb__read', annotations: { readOnlyHint: true } },
        { name: 'mcp__kb__drop' },
      ],
    });
    expect((await e.decide(call('mcp__kb__read', {}))).behavior).toBe('allow');
    expect(await e.decide(call('mcp__kb__drop', {}))).toMatchObject({
      behavior: 'deny',
      decidedBy: 'mode',
    });
  });

  it('tools registered later are known', async () => {
    const e = engine({ policy: { allow: ['mcp__late'] } });
    expect((await e.decide(call('mcp__late__x', {}))).decidedBy).toBe('unknown-tool');
    e.tools.add({ name: 'mcp__late__x', kind: 'mcp', readOnly: false });
    expect((await e.decide(call('mcp__late__x', {}))).behavior).toBe('allow');
  });

  it('isPathDenied lets search tools drop denied files', () => {
    const e = engine({ policy: { deny: ['Read(./secrets/**)'] } });
    expect(e.isPathDenied('Grep', '/workspace/secrets/k')).toBe(true);
    expect(e.isPathDenied('Grep', '/workspace/src/k')).toBe(false);
  });

  it('malformed input never grants: a Read without a path needs approval', async () => {
    const e = engine({ policy: { allow: ['Read(./src/**)'] } });
    expect(await e.decide(call('Read', { file_path: 42 }))).toMatchObject({
      behavior: 'deny',
      decidedBy: 'unattended',
    });
  });

  it('uses the session cwd to resolve relative paths', async () => {
    const e = engine({ policy: { deny: ['Read(./secrets/**)'] } });
    const d = await e.decide(call('Read', { file_path: '../secrets/a' }), {
      cwd: '/workspace/src',
    });
    expect(d).toMatchObject({ behavior: 'deny', decidedBy: 'deny-rule' });
  });
});

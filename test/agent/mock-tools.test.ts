// Mock tools (policy.tools.mock, or the tier feature mockTools passed as `mock: true`): every call
// is permission-checked and audited, then answered from examples/fixtures/mock-tools.yaml; no
// tool touches the sandbox (a spy sandbox counts exec and file ops).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MockFixtures } from '../../src/agent/tools/mock-fixtures.js';
import type { Sandbox } from '../../src/sandbox/driver.js';
import { missingBubblewrap, reportSkip } from '../helpers/capabilities.js';
import { closeDriver, decisions, say, startHarness, toolResults, turn } from './harness.js';

const skip = reportSkip('agent mock tools', missingBubblewrap());

/** The same sandbox, recording every exec / file operation made through it. */
function spy(sandbox: Sandbox): { sandbox: Sandbox; ops: string[] } {
  const ops: string[] = [];
  const watched = new Set(['exec', 'readFile', 'writeFile', 'list']);
  const proxied = new Proxy(sandbox, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop);
      if (typeof value !== 'function') return value;
      const fn = (value as (...a: unknown[]) => unknown).bind(target);
      if (typeof prop !== 'string' || !watched.has(prop)) return fn;
      return (...args: unknown[]) => {
        ops.push(`${prop} ${JSON.stringify(args[0])}`);
        return fn(...args);
      };
    },
  });
  return { sandbox: proxied, ops };
}

describe.skipIf(skip)('agent mock tools', () => {
  afterAll(closeDriver);

  it('policy tools.mock: permission-checked, audited, answered from the shipped fixtures, nothing runs', async () => {
    const h = await startHarness({
      policy: {
        tools: {
          mode: 'default',
          mock: true,
          allow: ['Bash(ls:*)', 'Bash(touch:*)', 'Write'],
          deny: ['Bash(rm:*)'],
        },
      },
      turns: [
        turn(['Bash', { command: 'ls -la' }], ['Read', { file_path: 'src/greet.js' }]),
        turn(
          ['Write', { file_path: 'new.txt', content: 'x' }],
          ['Bash', { command: 'rm -rf src' }],
          ['Bash', { command: 'touch made-by-bash' }],
          ['Edit', { file_path: 'src/greet.js', old_string: 'Helo', new_string: 'Hello' }],
        ),
        say('done'),
      ],
    });
    try {
      const { sandbox, ops } = spy(h.sandbox);
      const before = readFileSync(join(h.workspace, 'src/greet.js'), 'utf8');
      const { events, result, run } = await h.run('look around', { sandbox });
      expect(result.subtype).toBe('success');
      const d = decisions(events).map((e) => [e.tool, e.behavior, e.decided_by]);
      expect(d).toEqual([
        ['Bash', 'allow', 'allow-rule'],
        ['Read', 'allow', 'mode'],
        ['Write', 'allow', 'allow-rule'],
        ['Bash', 'deny', 'deny-rule'],
        ['Bash', 'allow', 'allow-rule'],
        ['Edit', 'deny', 'unattended'],
      ]);
      const outs = toolResults(events);
      expect(outs[0]?.isError).toBe(false);
      expect(outs[0]?.content).toContain('-rw-r--r-- 1 agent agent  120 package.json');
      expect(outs[1]?.content).toContain('return `Helo, ${name}!`;');
      expect(outs[2]).toEqual({ content: 'Wrote (mock)', isError: false });
      expect(outs[3]).toEqual({
        content: 'Permission denied: denied by rule Bash(rm:*)',
        isError: true,
      });
      // No fixture answers `touch`: an error result, and nothing was created.
      expect(outs[4]).toEqual({
        content: '[mock] no fixture answers Bash with this input',
        isError: true,
      });
      expect(outs[5]?.isError).toBe(true);
      // Nothing ran in the sandbox and nothing changed in the workspace.
      expect(ops).toEqual([]);
      expect(existsSync(join(h.workspace, 'new.txt'))).toBe(false);
      expect(existsSync(join(h.workspace, 'made-by-bash'))).toBe(false);
      expect(existsSync(join(h.workspace, 'src'))).toBe(true);
      expect(readFileSync(join(h.workspace, 'src/greet.js'), 'utf8')).toBe(before);
      // Events and audit mark the calls as mocked.
      expect(
        events
          .filter((e) => e.type === 'tool_result')
          .every((e) => e.type === 'tool_result' && e.mocked),
      ).toBe(true);
      expect(events[0]).toMatchObject({ type: 'system', subtype: 'init' });
      const audit = (await h.auditStore.readRecords(run.sessionId)).map(
        (r) => JSON.parse(r.text) as { type: string; data: Record<string, unknown> },
      );
      expect(audit.find((r) => r.type === 'session.start')?.data['mocked']).toBe(true);
      expect(
        audit
          .filter((r) => r.type === 'tool.intent')
          .map((r) => [r.data['tool'], r.data['decision']]),
      ).toEqual([
        ['Bash', 'allow'],
        ['Read', 'allow'],
        ['Write', 'allow'],
        ['Bash', 'deny'],
        ['Bash', 'allow'],
        ['Edit', 'deny'],
      ]);
      const results = audit.filter((r) => r.type === 'tool.result').map((r) => r.data);
      expect(results).toHaveLength(4);
      expect(results.every((r) => r['mocked'] === true)).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('the mockTools feature (mock: true) and custom fixtures answer without the sandbox', async () => {
    const h = await startHarness({
      policy: { tools: { mode: 'bypassPermissions' } },
      turns: [turn(['Bash', { command: 'npm test' }]), say('ok')],
    });
    try {
      const { sandbox, ops } = spy(h.sandbox);
      const shipped = await h.run('test', { sandbox, mock: true });
      expect(toolResults(shipped.events)[0]).toEqual({
        content: 'ok 1 - greet says Hello\n1 passing',
        isError: false,
      });
      expect(ops).toEqual([]);
    } finally {
      await h.close();
    }
    const h2 = await startHarness({
      policy: { tools: { mode: 'bypassPermissions' } },
      turns: [turn(['Bash', { command: 'whoami' }]), say('ok')],
    });
    try {
      const { sandbox, ops } = spy(h2.sandbox);
      const custom = new MockFixtures([
        { tool: 'Bash', match: { command: '^whoami$' }, result: 'mock-user', isError: false },
      ]);
      const { events } = await h2.run('who', { sandbox, mock: custom });
      expect(toolResults(events)[0]).toEqual({ content: 'mock-user', isError: false });
      expect(ops).toEqual([]);
    } finally {
      await h2.close();
    }
  });
});

// Stop conditions and failure paths of the loop: budget, max turns, abort, session deadline, and
// an audit log that cannot be written (the tool call is refused, nothing runs).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { missingBubblewrap, reportSkip } from '../helpers/capabilities.js';
import { closeDriver, decisions, say, startHarness, toolResults, turn } from './harness.js';

const skip = reportSkip('agent stops', missingBubblewrap());
const touch = (f: string) => turn(['Bash', { command: `touch ${f}` }]);
const allowBash = { tools: { mode: 'acceptEdits' as const, allow: ['Bash'] } };

describe.skipIf(skip)('agent loop stop conditions', () => {
  afterAll(closeDriver);

  it('stops with error_max_budget_usd once the spend reaches the budget', async () => {
    const h = await startHarness({
      policy: allowBash,
      turns: [touch('a'), touch('b'), say('end')],
      gatewayConfig: { prices: { 'claude-test': { inputPerMTok: 1_000_000, outputPerMTok: 0 } } },
    });
    try {
      const { result } = await h.run('go', { maxBudgetUsd: 1 });
      expect(result).toMatchObject({
        subtype: 'error_max_budget_usd',
        is_error: true,
        num_turns: 1,
      });
      expect(result.total_cost_usd).toBeGreaterThanOrEqual(1);
      expect(existsSync(join(h.workspace, 'b'))).toBe(false);
    } finally {
      await h.close();
    }
  });

  it('stops with error_max_turns when the model still wants tools', async () => {
    const h = await startHarness({
      policy: allowBash,
      turns: [touch('a'), touch('b'), touch('c'), say('end')],
    });
    try {
      const { result } = await h.run('go', { maxTurns: 2 });
      expect(result).toMatchObject({
        subtype: 'error_max_turns',
        num_turns: 2,
        stop_reason: 'max turns (2) reached',
      });
      expect(existsSync(join(h.workspace, 'b'))).toBe(true);
      expect(existsSync(join(h.workspace, 'c'))).toBe(false);
    } finally {
      await h.close();
    }
  });

  it('abort() during a long tool call ends the session as aborted and kills the command', async () => {
    const h = await startHarness({
      policy: allowBash,
      turns: [turn(['Bash', { command: 'sleep 30; touch late' }]), say('end')],
    });
    try {
      const { result, run } = await h.run('go', {}, (e, r) => {
        if (e.type === 'tool_decision') setTimeout(() => r.abort(), 100);
      });
      expect(result).toMatchObject({ subtype: 'error_during_execution', stop_reason: 'aborted' });
      expect(existsSync(join(h.workspace, 'late'))).toBe(false);
      expect((await h.store.get(run.sessionId))?.status).toBe('cancelled');
    } finally {
      await h.close();
    }
  });

  it('the session deadline ends the session with error_timeout', async () => {
    const h = await startHarness({
      policy: allowBash,
      turns: [turn(['Bash', { command: 'sleep 30' }]), say('end')],
    });
    try {
      const { result } = await h.run('go', { sessionTimeoutMs: 500 });
      expect(result).toMatchObject({
        subtype: 'error_timeout',
        stop_reason: 'session deadline reached',
      });
    } finally {
      await h.close();
    }
  });

  it('an audit log that cannot be written refuses the tool call', async () => {
    const h = await startHarness({ policy: allowBash, turns: [touch('a'), say('end')] });
    try {
      await h.audit.close(); // every append now fails
      const { events, result } = await h.run('go');
      expect(decisions(events)[0]).toMatchObject({
        behavior: 'deny',
        decided_by: 'audit',
        message: 'audit unavailable',
      });
      expect(toolResults(events)[0]).toMatchObject({
        isError: true,
        content: 'audit unavailable: the tool call was refused',
      });
      expect(existsSync(join(h.workspace, 'a'))).toBe(false);
      expect(result.permission_denials).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});

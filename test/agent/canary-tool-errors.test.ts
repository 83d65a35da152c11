// The agent loop reports every tool outcome to the gateway, so the canary's per-route
// tool-error rate reflects real sessions (issue 4: per-route metrics include tool errors).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { missingBubblewrap, reportSkip } from '../helpers/capabilities.js';
import { closeDriver, say, startHarness, turn } from './harness.js';

const skip = reportSkip('canary tool errors', missingBubblewrap());

describe.skipIf(skip)('tool outcomes reach the canary metrics', () => {
  afterAll(closeDriver);

  it('counts tool results and tool errors on the arm the session is routed to', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'rf-canary-agent-'));
    const h = await startHarness({
      policy: { tools: { mode: 'acceptEdits', allow: ['Bash'] } },
      turns: [
        turn(['Bash', { command: 'true' }]),
        turn(['Bash', { command: 'exit 3' }]),
        turn(['Read', { file_path: 'does-not-exist.txt' }]),
        say('done'),
      ],
      canaryStateDir: stateDir,
    });
    try {
      const { result } = await h.run('go');
      expect(result.subtype).toBe('success');
      const canary = h.gateway.canary;
      expect(canary).toBeDefined();
      const arm = canary!.armFor(result.session_id);
      const metrics = canary!.state.metrics[arm];
      expect(metrics.toolResults).toBe(3);
      expect(metrics.toolErrors).toBe(2);
      const other = canary!.state.metrics[arm === 'canary' ? 'baseline' : 'canary'];
      expect(other.toolResults).toBe(0);
    } finally {
      await h.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

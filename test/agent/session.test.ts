// End to end: a session reads, edits and tests the sample project in a real bubblewrap sandbox
// with the scripted model over HTTP; transcript stored, audit verifies, tampering is detected.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verify } from '../../src/audit/verify-audit.js';
import { missingBubblewrap, reportSkip } from '../helpers/capabilities.js';
import { closeDriver, decisions, say, startHarness, toolResults, turn } from './harness.js';

const skip = reportSkip('agent session', missingBubblewrap());

describe.skipIf(skip)('agent session', () => {
  afterAll(closeDriver);

  it('reads, edits and tests a small project; transcript and audit record it all', async () => {
    const h = await startHarness({
      policy: { tools: { mode: 'acceptEdits', allow: ['Bash(ls:*)', 'Bash(npm test)'] } },
      turns: [
        turn(['Bash', { command: 'ls' }]),
        turn(['Read', { file_path: 'src/greet.js' }]),
        turn(['Edit', { file_path: 'src/greet.js', old_string: 'Helo', new_string: 'Hello' }]),
        turn(['Bash', { command: 'npm test' }]),
        say('fixed'),
      ],
    });
    try {
      const { events, result, run } = await h.run('fix the failing test');
      expect(result).toMatchObject({
        subtype: 'success',
        num_turns: 5,
        is_error: false,
        result: 'fixed',
      });
      expect(result.usage.input_tokens).toBeGreaterThan(0);
      const init = events[0];
      expect(init).toMatchObject({
        type: 'system',
        subtype: 'init',
        permissionMode: 'acceptEdits',
        cwd: '/workspace',
      });
      const outs = toolResults(events);
      expect(outs[0]?.content).toContain('package.json');
      expect(outs[1]?.content).toMatch(/^\s+3\t {2}return `Helo, \$\{name\}!`;$/m);
      expect(outs[3]?.content).toContain('PASS: 1 passing');
      expect(readFileSync(join(h.workspace, 'src/greet.js'), 'utf8')).toContain('Hello, ${name}');
      // Transcript: every non-streaming event in the SQLite session store, in order.
      const stored = await h.store.events(run.sessionId);
      expect(stored.map((e) => e.type)).toEqual(
        events.filter((e) => e.type !== 'text_delta').map((e) => e.type),
      );
      expect((await h.store.get(run.sessionId))?.status).toBe('succeeded');
      // Audit: intent before result for each tool, model calls, sealed and valid.
      const records = await h.auditStore.readRecords(run.sessionId);
      const types = records.map((r) => (JSON.parse(r.text) as { type: string }).type);
      expect(types.filter((t) => t === 'tool.intent')).toHaveLength(4);
      expect(types.filter((t) => t === 'tool.result')).toHaveLength(4);
      expect(types.filter((t) => t === 'model.call')).toHaveLength(5);
      expect(types.indexOf('tool.intent')).toBeLessThan(types.indexOf('tool.result'));
      const v = await verify(h.auditStore, { publicKey: h.publicKeyPem, logId: run.sessionId });
      expect(v.ok).toBe(true);
      expect(v.logs[0]?.sealed).toBe(true);
      expect(decisions(events).every((d) => d.behavior === 'allow')).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('detects tampering with the audit log of a real session (modified and deleted records)', async () => {
    const h = await startHarness({
      jsonlAudit: true,
      policy: { tools: { mode: 'default', deny: ['Bash(rm:*)'] } },
      turns: [
        turn(['Bash', { command: 'rm -rf src' }]),
        turn(['Read', { file_path: 'package.json' }]),
        say('done'),
      ],
    });
    try {
      const { result, run } = await h.run('go');
      expect(result.subtype).toBe('success');
      const file = join(h.dataDir, 'audit', 'records', `${run.sessionId}.jsonl`);
      const pristine = readFileSync(file, 'utf8');
      const ok = await verify(h.auditStore, { publicKey: h.publicKeyPem, logId: run.sessionId });
      expect(ok.ok).toBe(true);
      // Rewrite the recorded denial into an allow.
      const lines = pristine.split('\n');
      const denied = lines.findIndex((l) => l.includes('"decision":"deny"'));
      expect(denied).toBeGreaterThanOrEqual(0);
      lines[denied] = lines[denied]!.replace('"decision":"deny"', '"decision":"allow"');
      writeFileSync(file, lines.join('\n'));
      const modified = await verify(h.auditStore, {
        publicKey: h.publicKeyPem,
        logId: run.sessionId,
      });
      expect(modified.ok).toBe(false);
      expect(modified.firstBad?.seq).toBe(denied + 1);
      // Delete the same record instead.
      const cut = pristine.split('\n');
      cut.splice(denied, 1);
      writeFileSync(file, cut.join('\n'));
      const deleted = await verify(h.auditStore, {
        publicKey: h.publicKeyPem,
        logId: run.sessionId,
      });
      expect(deleted.ok).toBe(false);
    } finally {
      await h.close();
    }
  });
});

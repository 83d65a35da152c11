// The CLI as a whole process: exit codes, streamed output, config errors as path: message.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingBubblewrap, reportSkip } from './helpers/capabilities.js';

const cli = (args: string[], input?: string) =>
  spawnSync(process.execPath, ['bin/ringfence.js', ...args], {
    encoding: 'utf8',
    input,
    env: { ...process.env, RINGFENCE_FROM_SOURCE: '1' },
  });

describe('ringfence config check', () => {
  it('prints the resolved tier', () => {
    const r = cli(['config', 'check', '--config', 'examples/ringfence.yaml', '--env', 'staging']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'staging', policyName: 'registry-access' });
  });
  it('exits 2 and prints path: message for every error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rf-cfg-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'tiers: { dev: { model: { provider: scripted, model: m }, logLevel: loud, policy: { network: { allow: ["*"] } } } }',
    );
    const r = cli(['config', 'check', '--config', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('tiers.dev.logLevel: ');
    expect(r.stderr).toContain('tiers.dev.policy.network.allow.0: "*" would allow every host');
  });
});

describe.skipIf(reportSkip('sandbox exec CLI', missingBubblewrap()))(
  'ringfence sandbox exec',
  () => {
    it('streams output and exits with the command exit code', () => {
      const r = cli(['sandbox', 'exec', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
      expect(r.status).toBe(7);
      expect(r.stdout).toBe('out\n');
      expect(r.stderr).toContain('err');
    });
    it('passes stdin and mounts a workspace', () => {
      const ws = mkdtempSync(join(tmpdir(), 'rf-cli-ws-'));
      writeFileSync(join(ws, 'f.txt'), 'in workspace');
      const r = cli(
        ['sandbox', 'exec', '--workspace', ws, '--', 'sh', '-c', 'cat f.txt; cat -'],
        'from stdin',
      );
      expect(r.status).toBe(0);
      expect(r.stdout).toBe('in workspacefrom stdin');
    });
    it('reports a limit that fires', () => {
      const r = cli(['sandbox', 'exec', '--timeout', '1', '--', 'sleep', '30']);
      expect(r.status).toBe(137);
      expect(r.stderr).toContain('ringfence: timeout');
    });
  },
);

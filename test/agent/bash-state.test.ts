// The Bash tool's shell state between calls in a real sandbox: cwd and exported variables carry
// over, shell bookkeeping variables do not, exit codes survive the save trap, torn state is ignored.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BashTool } from '../../src/agent/tools/bash-tool.js';
import type { ToolContext } from '../../src/agent/tools/agent-tool.js';
import { policySchema } from '../../src/policy/policy-schema.js';
import { createDriver } from '../../src/sandbox/create-driver.js';
import type { Sandbox, SandboxDriver } from '../../src/sandbox/driver.js';

let root: string;
let driver: SandboxDriver;
let sandbox: Sandbox;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'rf-bash-state-'));
  driver = await createDriver('bubblewrap');
  sandbox = await driver.create({ workspace: join(root, 'ws'), policy: policySchema.parse({}) });
});

afterAll(async () => {
  await sandbox?.destroy();
  await driver?.close();
  rmSync(root, { recursive: true, force: true });
});

function ctx(): ToolContext {
  return {
    sandbox,
    execTimeoutMs: 20_000,
    isPathDenied: () => false,
    signal: new AbortController().signal,
  };
}

describe('Bash tool shell state', () => {
  it('carries cwd and exported variables (also multi-line) to the next call', async () => {
    const tool = new BashTool();
    const first = await tool.run(
      { command: 'mkdir -p "a dir/b" && cd "a dir/b" && export FOO=$\'x y\\nz\' BAR=1; echo ok' },
      ctx(),
    );
    expect(first).toMatchObject({ content: 'ok', isError: false, cwd: '/workspace/a dir/b' });
    const second = await tool.run({ command: 'pwd; printf "[%s]" "$FOO" "$BAR"' }, ctx());
    expect(second.content).toBe('/workspace/a dir/b\n[x y\nz][1]');
    expect(second.cwd).toBe('/workspace/a dir/b');
  });

  it('keeps the exit code of the command and still saves state after `exit`', async () => {
    const tool = new BashTool();
    const r = await tool.run({ command: 'cd /workspace; unset BAR; export Q=7; exit 3' }, ctx());
    expect(r).toMatchObject({ isError: true, exitCode: 3, cwd: '/workspace' });
    expect(r.content).toBe('Exit code 3');
    const next = await tool.run({ command: 'echo "$Q ${BAR-unset} $(pwd)"' }, ctx());
    expect(next.content).toBe('7 unset /workspace');
  });

  it('does not carry shell bookkeeping (SHLVL, OLDPWD, the exec id) between calls', async () => {
    const tool = new BashTool();
    await tool.run({ command: 'cd /workspace && cd /tmp && cd /workspace' }, ctx());
    const r = await tool.run({ command: 'echo "${SHLVL}|${OLDPWD-none}|${__RF_MARK}"' }, ctx());
    // A fresh bash -c: SHLVL 1, OLDPWD from the preamble's own cd (not the stored /tmp), and
    // the mark is this call's own, not a stored one.
    const [shlvl, oldpwd, mark] = r.content.split('|');
    expect(shlvl).toBe('1');
    expect(oldpwd).not.toBe('/tmp');
    expect(mark).toMatch(/^__RF_CWD_[0-9a-f]{16}__:$/);
  });

  it('works with noclobber set by the command and ignores a torn env file', async () => {
    const tool = new BashTool();
    await tool.run({ command: 'set -o noclobber; export K=1' }, ctx());
    expect((await tool.run({ command: 'echo "K=$K"' }, ctx())).content).toBe('K=1');
    // Simulate a write cut short: no end line. The next call must not apply it.
    await tool.run(
      {
        command:
          'export K=2; trap - EXIT; printf "declare -x K=\\"3\\"\\n" > /tmp/.ringfence-shell/env',
      },
      ctx(),
    );
    expect((await tool.run({ command: 'echo "K=${K-unset}"' }, ctx())).content).toBe('K=unset');
  });
});

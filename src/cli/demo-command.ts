// `ringfence demo`: the main job of a fresh checkout. Runs a few commands in a real sandbox over
// a sample workspace and prints what was allowed and what was denied, and why.
import type { Command } from 'commander';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { policySchema } from '../policy/policy-schema.js';
import { createDriver } from '../sandbox/create-driver.js';
import type { ExecResult } from '../sandbox/driver.js';

interface Step {
  title: string;
  script: string;
  /** Decides from the result whether the sandbox allowed the action. */
  allowed: (r: ExecResult) => boolean;
}

const STEPS: Step[] = [
  { title: 'list the workspace', script: 'ls /workspace', allowed: (r) => r.exitCode === 0 },
  { title: 'run the project tests', script: 'node test.js', allowed: (r) => r.exitCode === 0 },
  {
    title: 'write inside the workspace',
    script: 'echo ok > notes.txt && cat notes.txt',
    allowed: (r) => r.exitCode === 0,
  },
  { title: 'read /etc/shadow', script: 'cat /etc/shadow', allowed: (r) => r.exitCode === 0 },
  { title: 'read the host home', script: 'ls /root', allowed: (r) => r.exitCode === 0 },
  {
    title: 'write to the system image',
    script: 'touch /usr/bin/evil',
    allowed: (r) => r.exitCode === 0,
  },
  {
    title: 'reach the network',
    script:
      'curl -sS -m 3 http://198.51.100.1/ 2>&1 | sed "s/^curl: ([0-9]*) /no route out: /" >&2; exit 7',
    allowed: (r) => r.exitCode === 0,
  },
  {
    title: 'become root',
    script:
      'python3 -c "import os; os.setuid(0)" 2>&1 | tail -1 | sed "s/^.*Error: /setuid(0) refused: /" >&2; exit 1',
    allowed: (r) => r.exitCode === 0,
  },
  {
    title: 'allocate 2 GiB',
    script: 'python3 -c "x = bytearray(2 << 30)"',
    allowed: (r) => r.exitCode === 0,
  },
  {
    title: 'fork bomb',
    script: 'b() { b | b & }; b; sleep 2',
    allowed: (r) => r.exitCode === 0 && !r.limit,
  },
];

const SAMPLE_TEST = `const assert = require('node:assert');\nconst { add } = require('./math.js');\nassert.strictEqual(add(2, 3), 5);\nconsole.log('tests passed');\n`;

function reasonOf(r: ExecResult): string {
  if (r.limit) return r.limit;
  const line = r.stderr.trim().split('\n').pop() ?? '';
  return line.replace(/^(cat|ls|touch): /, '').slice(0, 70) || `exit ${r.exitCode}`;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a few commands in a sandbox and show what is allowed and denied')
    .action(async () => {
      const driver = await createDriver('bubblewrap', { expect: 'one' });
      const dir = await mkdtemp(join(tmpdir(), 'ringfence-demo-'));
      await writeFile(join(dir, 'math.js'), 'exports.add = (a, b) => a + b;\n');
      await writeFile(join(dir, 'test.js'), SAMPLE_TEST);
      const policy = policySchema.parse({
        limits: { memoryMb: 256, pids: 64, execTimeoutSec: 10 },
      });
      const sandbox = await driver.create({ workspace: dir, policy });
      process.stdout.write(
        `ringfence demo: sandbox ${sandbox.id} over a sample workspace (no network, 256 MiB, 64 pids)\n\n`,
      );
      let denied = 0;
      try {
        for (const step of STEPS) {
          const r = await sandbox.exec(['/bin/bash', '-c', step.script]);
          const ok = step.allowed(r);
          if (!ok) denied++;
          const detail = ok ? (r.stdout.trim().split('\n')[0]?.slice(0, 60) ?? '') : reasonOf(r);
          process.stdout.write(
            `${ok ? 'ALLOWED' : 'DENIED '}  ${step.title.padEnd(28)} ${detail}\n`,
          );
        }
      } finally {
        await sandbox.destroy();
        await driver.close();
        await rm(dir, { recursive: true, force: true });
      }
      process.stdout.write(
        `\n${STEPS.length - denied} allowed, ${denied} denied. Sandbox destroyed; nothing left running.\n`,
      );
    });
}

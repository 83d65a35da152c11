// Nothing survives a sandbox when the ringfence process itself is SIGKILLed.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { missingBubblewrap, reportSkip } from '../helpers/capabilities.js';
import { hostProcessesMatching } from './driver-suite.js';

const skip = reportSkip('sigkill survival', missingBubblewrap());

const CHILD = `
import { BubblewrapDriver } from './src/sandbox/bubblewrap/bubblewrap-driver.ts';
import { defaultPolicy } from './src/policy/policy-schema.ts';
import { mkdtempSync } from 'node:fs';
const d = new BubblewrapDriver();
const sb = await d.create({ workspace: mkdtempSync('/tmp/rf-kill-'), policy: defaultPolicy() });
await sb.exec(['/bin/sh', '-c', '(setsid sh -c "sleep 8881 >/dev/null 2>&1 &" &); sleep 8882 >/dev/null 2>&1 &']);
process.stdout.write(JSON.stringify({ init: sb.initPid }) + '\\n');
setInterval(() => {}, 1000);
`;

describe.skipIf(skip)('sandbox lifetime', () => {
  it('a SIGKILLed ringfence process leaves no sandbox process behind', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(buf.trim());
      });
      child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    const { init } = JSON.parse(line) as { init: number };
    expect(existsSync(`/proc/${init}`)).toBe(true);
    // The double-forked sleeper is started in the background: wait (bounded) until it exists.
    for (let i = 0; i < 100 && (await hostProcessesMatching('sleep 8881')).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await hostProcessesMatching('sleep 8881')).length).toBe(1);
    expect((await hostProcessesMatching('sleep 8882')).length).toBe(1);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    // The kernel tears the pid namespace down asynchronously; wait for it, bounded.
    for (
      let i = 0;
      i < 100 &&
      (existsSync(`/proc/${init}`) || (await hostProcessesMatching('sleep 8881')).length);
      i++
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(existsSync(`/proc/${init}`)).toBe(false);
    expect(await hostProcessesMatching('sleep 8881')).toEqual([]);
    expect(await hostProcessesMatching('sleep 8882')).toEqual([]);
  });
});

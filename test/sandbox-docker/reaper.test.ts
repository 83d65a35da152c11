import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EngineClient } from '../../src/sandbox/docker/engine-client.js';
import { defaultImageRef } from '../../src/sandbox/image/image-spec.js';
import { Reaper } from '../../src/sandbox/reaper.js';
import { dockerUnavailable, selected } from './availability.js';

const noDocker = selected('docker') ? await dockerUnavailable() : 'not selected by DRIVERS';
if (noDocker) process.stderr.write(`SKIP reaper: ${noDocker}\n`);

describe.skipIf(Boolean(noDocker))('reaper', () => {
  it('removes containers of a dead ringfence or past expiry, keeps live ones', async () => {
    const engine = new EngineClient();
    const run = randomBytes(6).toString('hex');
    const deadPid = spawnSync('true').pid ?? 999_999;
    const make = async (creator: number, expires: number): Promise<string> => {
      const r = await engine.ok<{ Id: string }>('POST', '/containers/create', {
        Image: defaultImageRef(),
        Cmd: ['true'],
        Labels: {
          'ringfence.owner': 'ringfence',
          'ringfence.pid': String(creator),
          'ringfence.expires': String(expires),
          'ringfence.test-run': run,
        },
        HostConfig: { NetworkMode: 'none' },
      });
      return r.Id;
    };
    const orphan = await make(deadPid, Date.now() + 3_600_000);
    const expired = await make(process.pid, Date.now() - 1);
    const live = await make(process.pid, Date.now() + 3_600_000);
    const reaper = new Reaper({
      labelFilter: { 'ringfence.test-run': run },
      isLiveBwrap: () => true,
    });
    const result = await reaper.start();
    reaper.stop();
    expect(result.containers.sort()).toEqual([orphan, expired].sort());
    expect((await engine.call('GET', `/containers/${live}/json`)).status).toBe(200);
    expect((await engine.call('GET', `/containers/${orphan}/json`)).status).toBe(404);
    await engine.call('DELETE', `/containers/${live}?force=true`);
  });
});

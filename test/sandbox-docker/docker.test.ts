import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerDriver } from '../../src/sandbox/docker/docker-driver.js';
import { defaultPolicy } from '../../src/policy/policy-schema.js';
import { runDriverSuite } from '../sandbox/driver-suite.js';
import { dockerUnavailable, selected } from './availability.js';

const unavailable = selected('docker') ? await dockerUnavailable() : 'not selected by DRIVERS';
const C_SUPERVISOR = join(import.meta.dirname, '..', '..', 'build', 'rf-supervisor');

const skip = [
  {
    reason:
      'a container has its own image root: /var and /run are the image directories and /etc/hostname is Docker-generated, none from the host (host secrets are checked by "container shows none of the host" below)',
    tests: ['host secrets are invisible'],
  },
];

// The default supervisor (the C one when built), then the Python fallback used when it is not.
runDriverSuite({
  name: 'docker',
  createDriver: async () => new DockerDriver(),
  skip,
  ...(unavailable ? { unavailable } : {}),
});
runDriverSuite({
  name: 'docker (python supervisor)',
  createDriver: async () => new DockerDriver({ supervisor: 'python' }),
  skip,
  ...(unavailable ? { unavailable } : {}),
});

describe.skipIf(Boolean(unavailable))('docker container specifics', () => {
  it('container shows none of the host: no shadow, no host dirs, labels and initPid set', async () => {
    const driver = new DockerDriver();
    const ws = await mkdtemp(join(tmpdir(), 'rf-docker-'));
    try {
      const sb = await driver.create({
        workspace: ws,
        policy: defaultPolicy(),
        sessionId: 'sess-1',
        tenantId: 'tenant-a',
      });
      const r = await sb.exec([
        '/bin/sh',
        '-c',
        `for f in /etc/shadow /etc/gshadow /root /home /etc/ssl/private /etc/machine-id /var/run/docker.sock /run/docker.sock ${tmpdir()}/rf-docker-*; do [ -e "$f" ] && echo "VISIBLE $f"; done; echo done`,
      ]);
      expect(r.stdout).toBe('done\n');
      const { containerId, initPid } = sb as unknown as { containerId: string; initPid: number };
      expect(initPid).toBeGreaterThan(1);
      const inspect = await driver.engine.ok<{
        Config: { Labels: Record<string, string>; Cmd: string[] };
        HostConfig: Record<string, unknown>;
      }>('GET', `/containers/${containerId}/json`);
      // The static C supervisor runs when it is built and current, else supervisor.py.
      expect(inspect.Config.Cmd).toEqual(
        driver.supervisorKind === 'c'
          ? ['/.ringfence/supervisor']
          : ['python3', '-I', '-S', '-B', '/.ringfence/launch.py', '/.ringfence/supervisor.py'],
      );
      if (existsSync(C_SUPERVISOR) && process.env.RINGFENCE_SUPERVISOR !== 'python')
        expect(driver.supervisorKind, 'build/rf-supervisor older than supervisor.c?').toBe('c');
      expect(inspect.Config.Labels['ringfence.session']).toBe('sess-1');
      expect(inspect.Config.Labels['ringfence.tenant']).toBe('tenant-a');
      expect(Number(inspect.Config.Labels['ringfence.expires'])).toBeGreaterThan(Date.now());
      expect(inspect.HostConfig).toMatchObject({
        NetworkMode: 'none',
        CapDrop: ['ALL'],
        ReadonlyRootfs: true,
        PidsLimit: 256,
      });
      await sb.destroy();
      const gone = await driver.engine.call('GET', `/containers/${containerId}/json`);
      expect(gone.status).toBe(404);
    } finally {
      await driver.close();
      await rm(ws, { recursive: true, force: true });
    }
  });
});

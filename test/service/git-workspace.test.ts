// Workspace `{type: 'git', url, ref?}`: cloned INSIDE the session's bubblewrap sandbox through
// its egress proxy from a git smart-HTTP server in a network namespace; a host the tier's
// policy does not allow fails the session with a clear error.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RingfenceService } from '../../src/service/ringfence-service.js';
import { missingBubblewrap, missingRoot, reportSkip } from '../helpers/capabilities.js';
import { netnsSkipReason } from '../helpers/netns.js';
import { startGitServer, SUBNET_GIT, type GitServer } from './git-server.js';
import {
  allEvents,
  client,
  finished,
  writeServiceConfig,
  type Client,
  startTestService,
} from './service-harness.js';

const skip = reportSkip(
  'git workspaces',
  missingBubblewrap() ?? missingRoot() ?? (await netnsSkipReason()),
);

describe.skipIf(skip)('git workspaces cloned inside the sandbox through the egress proxy', () => {
  let server: GitServer;
  let service: RingfenceService;
  let dir: string;
  let c: Client;

  beforeAll(async () => {
    server = await startGitServer({
      v1: `canary-v1-${randomBytes(8).toString('hex')}`,
      main: `canary-main-${randomBytes(8).toString('hex')}`,
    });
    const cfg = writeServiceConfig(
      [
        {
          content: [
            {
              type: 'tool_use',
              name: 'Bash',
              input: { command: 'cat README.md', description: 'r' },
            },
          ],
        },
        { content: [{ type: 'text', text: 'Read the README.' }] },
      ],
      {
        network: {
          allow: ['git.example.test:80'],
          // Both names map into the namespace, so no lookup ever leaves the machine.
          resolve: {
            'git.example.test': SUBNET_GIT.upstreamIp,
            'denied.example.test': SUBNET_GIT.upstreamIp,
          },
        },
      },
    );
    dir = cfg.dir;
    service = await startTestService(cfg);
    c = client(service.url!, (await service.stores.keys.createKey('t-git', 'submit')).key);
  }, 60_000);

  afterAll(async () => {
    await service?.close(1_000);
    await server?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('clones the allowed host at the requested ref; the agent works on the clone', async () => {
    const r = await c.post('/v1/sessions', {
      prompt: 'read the readme',
      workspace: { type: 'git', url: 'http://git.example.test/repo.git', ref: 'v1' },
    });
    expect(r.status).toBe(202);
    const id = (r.body as { id: string }).id;
    const done = await finished(c, id);
    expect(done.status, JSON.stringify(done.result)).toBe('succeeded');
    const events = await allEvents(c, id);
    const clone = events.find((e) => e.type === 'workspace');
    expect(clone?.data).toMatchObject({ event: 'git_clone', ref: 'v1', commit: server.commits.v1 });
    const bash = JSON.stringify(events.filter((e) => e.type === 'user').map((e) => e.data));
    expect(bash).toContain(server.canaries.v1);
    expect(bash).not.toContain(server.canaries.main);
    // The default branch when no ref is given.
    const id2 = (
      (
        await c.post('/v1/sessions', {
          prompt: 'read the readme',
          workspace: { type: 'git', url: 'http://git.example.test/repo.git' },
        })
      ).body as { id: string }
    ).id;
    expect((await finished(c, id2)).status).toBe('succeeded');
    const events2 = await allEvents(c, id2);
    expect(events2.find((e) => e.type === 'workspace')?.data).toMatchObject({
      commit: server.commits.main,
    });
    expect(JSON.stringify(events2)).toContain(server.canaries.main);
  }, 120_000);

  it('a host the tier policy does not allow fails the session with a clear egress error', async () => {
    const r = await c.post('/v1/sessions', {
      prompt: 'read the readme',
      workspace: { type: 'git', url: 'http://denied.example.test/repo.git' },
    });
    const id = (r.body as { id: string }).id;
    const done = await finished(c, id);
    expect(done.status).toBe('failed');
    expect(done.result).toMatchObject({ code: 'egress_denied' });
    const error = String((done.result as { error: string }).error);
    expect(error).toContain('denied.example.test');
    expect(error).toContain('refused by the egress policy');
    // The model was never called: no assistant turn in the transcript.
    const types = (await allEvents(c, id)).map((e) => e.type);
    expect(types).not.toContain('assistant');
  }, 120_000);
});

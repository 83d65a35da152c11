// Remote (Streamable HTTP) MCP servers go through the session's egress policy: the bridge runs
// inside the sandbox and reaches the server only through the proxy. An allowed server's tools
// work and keep their annotations; a server whose host is not allowed never connects.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingBubblewrap, missingRoot, reportSkip } from '../helpers/capabilities.js';
import { createNetns, netnsSkipReason, waitForLine, type TestNetns } from '../helpers/netns.js';
import { SUBNET_MCP } from '../egress/egress-fixture.js';
import { closeDriver, decisions, say, startHarness, toolResults, turn } from './harness.js';

const skip = reportSkip(
  'remote MCP through egress',
  missingBubblewrap() ?? missingRoot() ?? (await netnsSkipReason()),
);
const SERVER = fileURLToPath(new URL('./fixtures/mcp-http-server.mjs', import.meta.url));

describe.skipIf(skip)('remote MCP servers through the egress policy', () => {
  let netns: TestNetns;

  beforeAll(async () => {
    netns = await createNetns({
      hostIp: SUBNET_MCP.hostIp,
      nsIps: [SUBNET_MCP.upstreamIp],
      prefix: SUBNET_MCP.prefix ?? 28,
    });
    const child = netns.spawn(process.execPath, [SERVER], { LISTEN_IP: SUBNET_MCP.upstreamIp });
    await waitForLine(child, 'mcp ready');
  }, 30_000);

  afterAll(async () => {
    await closeDriver();
    await netns?.destroy();
  });

  const policy = (allow: string[]) => ({
    network: {
      allow,
      resolve: {
        'mcp.example.test': SUBNET_MCP.upstreamIp,
        'other.example.test': SUBNET_MCP.upstreamIp,
      },
    },
    tools: {
      mode: 'default' as const,
      allow: ['mcp__remote__lookup'],
      mcp: { remote: { url: 'http://mcp.example.test/mcp' } },
    },
  });

  it('an allowed remote server: tools listed with annotations, calls answered, traffic audited', async () => {
    const h = await startHarness({
      policy: policy(['mcp.example.test:80']),
      egress: true,
      turns: [
        turn(['mcp__remote__lookup', { word: 'fence' }]),
        turn(['mcp__remote__store', { value: 'x' }]),
        say('done'),
      ],
    });
    try {
      const { events, result } = await h.run('use the remote server');
      expect(result.subtype).toBe('success');
      expect(events[0]).toMatchObject({
        type: 'system',
        mcp_servers: [{ name: 'remote', status: 'connected' }],
      });
      const results = toolResults(events);
      expect(JSON.stringify(results[0])).toContain('remote lookup: {\\"word\\":\\"fence\\"}');
      // The unannotated tool is destructive: unattended and not pre-approved, it is denied.
      const d = decisions(events);
      expect(d.find((x) => x.tool === 'mcp__remote__lookup')?.behavior).toBe('allow');
      expect(d.find((x) => x.tool === 'mcp__remote__store')?.behavior).toBe('deny');
      const egress = (await h.auditStore.readRecords(h.sessionId))
        .map(
          (r) => JSON.parse(r.text) as { type: string; data: { host?: string; allowed?: boolean } },
        )
        .filter((r) => r.type === 'egress');
      expect(egress.some((r) => r.data.host === 'mcp.example.test' && r.data.allowed)).toBe(true);
    } finally {
      await h.close();
    }
  }, 60_000);

  it('a remote server whose host the policy does not allow never connects', async () => {
    const h = await startHarness({
      policy: {
        ...policy(['other.example.test:80']),
        tools: {
          mode: 'default' as const,
          mcp: { remote: { url: 'http://mcp.example.test/mcp' } },
        },
      },
      egress: true,
      turns: [say('done')],
    });
    try {
      const { events } = await h.run('try the remote server');
      expect(events[0]).toMatchObject({
        type: 'system',
        mcp_servers: [{ name: 'remote', status: 'failed' }],
      });
      expect(JSON.stringify(events[0])).not.toContain('mcp__remote__lookup');
    } finally {
      await h.close();
    }
  }, 60_000);
});

// WebFetch through the session's own egress proxy, wired as `ringfence run` wires it
// (openSessionEgress + provisionSandbox): an allowed host in a network namespace returns its HTML
// reduced to text, a host outside the allowlist is a tool error with the proxy's reason, and the
// proxy's decisions land in the session's audit log.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify } from '../../src/audit/verify-audit.js';
import { missingBubblewrap, missingRoot, reportSkip } from '../helpers/capabilities.js';
import { netnsSkipReason, waitForLine } from '../helpers/netns.js';
import { createWorld, SUBNET_AGENT, type EgressWorld } from '../egress/egress-fixture.js';
import { closeDriver, decisions, say, startHarness, toolResults, turn } from './harness.js';

const skip = reportSkip(
  'agent WebFetch through egress',
  missingBubblewrap() ?? missingRoot() ?? (await netnsSkipReason()),
);
const IP = SUBNET_AGENT.upstreamIp;
const HTML_SERVER = fileURLToPath(new URL('./fixtures/html-server.mjs', import.meta.url));
const PORT = 8081;

interface AuditRow {
  type: string;
  data: Record<string, unknown>;
}

describe.skipIf(skip)('agent WebFetch through the session egress proxy', () => {
  let world: EgressWorld;

  beforeAll(async () => {
    world = await createWorld(SUBNET_AGENT);
    const html = world.netns.spawn(process.execPath, [HTML_SERVER], {
      LISTEN_IP: IP,
      PORT: String(PORT),
    });
    await waitForLine(html, 'html ready');
  }, 60_000);

  afterAll(async () => {
    await closeDriver();
    await world?.destroy();
  });

  it('an allowed host returns reduced text; a denied host is a tool error with the reason; audited', async () => {
    const h = await startHarness({
      sample: false,
      egress: true,
      policy: {
        network: {
          allow: [`docs.example.test:${PORT}`],
          resolve: { 'docs.example.test': IP, 'other.example.test': IP },
        },
        tools: { mode: 'default', allow: ['WebFetch'] },
      },
      turns: [
        turn(['WebFetch', { url: `http://docs.example.test:${PORT}/page`, prompt: 'the heading' }]),
        turn(['WebFetch', { url: `http://other.example.test:${PORT}/page` }]),
        turn(['WebFetch', { url: 'https://other.example.test/x' }]),
        say('fetched'),
      ],
    });
    try {
      const { events, result, run } = await h.run('read the docs');
      expect(run.sessionId).toBe(h.sessionId);
      expect(result.subtype).toBe('success');
      expect(decisions(events).map((d) => [d.tool, d.behavior])).toEqual([
        ['WebFetch', 'allow'],
        ['WebFetch', 'allow'],
        ['WebFetch', 'allow'],
      ]);
      const [page, blocked, blockedTls] = toolResults(events);
      expect(page?.isError).toBe(false);
      expect(page?.content).toContain(`URL: http://docs.example.test:${PORT}/page`);
      expect(page?.content).toContain('Status: 200');
      expect(page?.content).toContain('Prompt: the heading');
      expect(page?.content).toContain('Content-Type: text/html; charset=utf-8\n');
      expect(page?.content).toMatch(
        /\n\nFetch fixture\n\nRingfence docs\n\nThe egress proxy & its policy\.\n\nfirst item\n\nsecond item$/,
      );
      expect(page?.content).not.toMatch(/<h1>|<p>|script-text|color: red/);
      expect(blocked?.isError).toBe(true);
      expect(blocked?.content).toContain('Status: 403');
      expect(blocked?.content).toContain(
        'blocked by ringfence egress policy: host not in allowlist',
      );
      // HTTPS: the proxy refuses the CONNECT; its reason (X-Proxy-Error) reaches the model.
      expect(blockedTls).toEqual({
        content:
          'Fetch failed (curl exit 56): curl: (56) CONNECT tunnel failed, response 403 (blocked by ringfence egress policy: host not in allowlist [host_not_allowed])',
        isError: true,
      });
      // The proxy's decisions are in this session's audit log (allowed ones when the connection
      // ends, so they may land just after the session is sealed).
      let egress: AuditRow[] = [];
      for (let i = 0; i < 100 && egress.length < 3; i += 1) {
        const rows = (await h.auditStore.readRecords(h.sessionId)).map(
          (r) => JSON.parse(r.text) as AuditRow,
        );
        egress = rows.filter((r) => r.type === 'egress');
        if (egress.length < 3) await new Promise((r) => setTimeout(r, 50));
      }
      expect(egress.map((e) => [e.data['host'], e.data['allowed']]).sort()).toEqual([
        ['docs.example.test', true],
        ['other.example.test', false],
        ['other.example.test', false],
      ]);
      const denied = egress.filter((e) => e.data['allowed'] === false);
      expect(denied.map((e) => [e.data['port'], e.data['reason']])).toEqual([
        [PORT, 'host_not_allowed'],
        [443, 'host_not_allowed'],
      ]);
      const v = await verify(h.auditStore, { publicKey: h.publicKeyPem, logId: h.sessionId });
      expect(v.ok).toBe(true);
    } finally {
      await h.close();
    }
  });
});

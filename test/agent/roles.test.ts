// Roles defined in config (policy tools.roles): a tier's policy from a ringfence.yaml defines a
// role, roleByName finds it (what `--role` does) and the session is held to its tools and mode.
import { describe, expect, it, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseConfig, resolveTier } from '../../src/config/load-config.js';
import { BUILTIN_ROLES, policyRoles, roleByName } from '../../src/agent/roles.js';
import { PolicyError } from '../../src/errors.js';
import { policySchema } from '../../src/policy/policy-schema.js';
import { missingBubblewrap, reportSkip } from '../helpers/capabilities.js';
import { closeDriver, decisions, say, startHarness, toolResults, turn } from './harness.js';

const skip = reportSkip('agent roles from config (session)', missingBubblewrap());

const CONFIG = `version: 1
policies:
  default:
    tools:
      mode: default
      allow: [Read, Grep, 'Bash(ls:*)', 'Bash(cat:*)']
      roles:
        lister:
          tools: [Read, 'Bash(ls:*)']
          mode: dontAsk
        reviewer:
          tools: [Grep]
tiers:
  dev:
    model: { provider: scripted, model: scripted-demo }
    policy: default
`;

describe('roles from config', () => {
  it('the policy schema accepts tools.roles and rejects bad ones', () => {
    const tier = resolveTier(parseConfig(CONFIG), 'dev');
    expect(tier.policy.tools.roles).toEqual({
      lister: { tools: ['Read', 'Bash(ls:*)'], mode: 'dontAsk' },
      reviewer: { tools: ['Grep'] },
    });
    expect(policySchema.parse({}).tools.roles).toBeUndefined();
    for (const bad of [
      { 'bad name': { tools: ['Read'] } },
      { empty: { tools: [] } },
      { star: { tools: ['*'] } },
      { mode: { tools: ['Read'], mode: 'yolo' } },
      { extra: { tools: ['Read'], other: 1 } },
    ]) {
      expect(policySchema.safeParse({ tools: { roles: bad } }).success, JSON.stringify(bad)).toBe(
        false,
      );
    }
    // The shipped example defines one.
    const example = resolveTier(
      parseConfig(readFileSync(new URL('../../examples/ringfence.yaml', import.meta.url), 'utf8')),
      'dev',
    );
    expect(roleByName('auditor', example.policy)).toEqual({
      name: 'auditor',
      tools: ['Read', 'Grep', 'Bash(git log:*)'],
      mode: 'plan',
    });
  });

  it('roleByName: config roles, then built-ins; a config role replaces a built-in; unknown names list all', () => {
    const policy = resolveTier(parseConfig(CONFIG), 'dev').policy;
    expect(roleByName('lister', policy)).toEqual({
      name: 'lister',
      tools: ['Read', 'Bash(ls:*)'],
      mode: 'dontAsk',
    });
    expect(roleByName('reviewer', policy)).toEqual({ name: 'reviewer', tools: ['Grep'] });
    expect(roleByName('reviewer')).toBe(BUILTIN_ROLES['reviewer']);
    expect(roleByName('tester', policy)).toBe(BUILTIN_ROLES['tester']);
    expect(Object.keys(policyRoles(policy))).toEqual(['lister', 'reviewer']);
    expect(() => roleByName('nobody', policy)).toThrow(PolicyError);
    expect(() => roleByName('nobody', policy)).toThrow(
      /known: lister, reviewer, developer, tester/,
    );
    expect(() => roleByName('constructor', policy)).toThrow(PolicyError);
    expect(() => roleByName('lister')).toThrow(/unknown role "lister"/);
  });

  describe.skipIf(skip)('a session run with a config-defined role', () => {
    afterAll(closeDriver);

    it('allows only the role tools, in the role mode, and records the role', async () => {
      const policy = resolveTier(parseConfig(CONFIG), 'dev').policy;
      const h = await startHarness({
        policy,
        turns: [
          turn(
            ['Bash', { command: 'ls' }],
            ['Read', { file_path: 'package.json' }],
            ['Grep', { pattern: 'greet' }],
            ['Bash', { command: 'cat package.json' }],
          ),
          say('listed'),
        ],
      });
      try {
        const role = roleByName('lister', policy);
        const { events, result, run } = await h.run('list the project', { role });
        expect(result.subtype).toBe('success');
        expect(events[0]).toMatchObject({ type: 'system', permissionMode: 'dontAsk' });
        expect(decisions(events).map((d) => [d.tool, d.behavior, d.decided_by])).toEqual([
          ['Bash', 'allow', 'allow-rule'],
          ['Read', 'allow', 'allow-rule'],
          // Grep and `cat` are allowed by the policy but not by the role.
          ['Grep', 'deny', 'role'],
          ['Bash', 'deny', 'role'],
        ]);
        const outs = toolResults(events);
        expect(outs[0]?.content).toContain('package.json');
        expect(outs[2]?.content).toBe('Permission denied: Grep is not available to role lister');
        expect(result.permission_denials.map((d) => d.tool_name)).toEqual(['Grep', 'Bash']);
        const session = await h.store.get(run.sessionId);
        expect(session).toMatchObject({ role: 'lister', mode: 'dontAsk' });
      } finally {
        await h.close();
      }
    });
  });
});

// Roles: named sets of allowed tools, optionally with their own permission mode — the built-ins
// and those the policy defines (tools.roles). `--role NAME` picks one; other calls are denied.
import { PolicyError } from '../errors.js';
import type { Policy } from '../policy/policy-schema.js';
import type { Role } from './permissions/index.js';

export const BUILTIN_ROLES: Readonly<Record<string, Role>> = Object.freeze({
  reviewer: { name: 'reviewer', tools: ['Read', 'Glob', 'Grep'], mode: 'plan' },
  developer: {
    name: 'developer',
    tools: ['Read', 'Glob', 'Grep', 'Edit', 'Write', 'Bash', 'WebFetch'],
  },
  tester: { name: 'tester', tools: ['Read', 'Glob', 'Grep', 'Bash(npm test:*)', 'Bash(node:*)'] },
});

/** The roles a policy defines (tools.roles), each named after its key. */
export function policyRoles(policy: Pick<Policy, 'tools'> | undefined): Record<string, Role> {
  const roles: Record<string, Role> = {};
  for (const [name, r] of Object.entries(policy?.tools.roles ?? {})) {
    roles[name] = { name, tools: [...r.tools], ...(r.mode === undefined ? {} : { mode: r.mode }) };
  }
  return roles;
}

/**
 * The role called `name`: from `extra` first, then the policy's tools.roles, then the built-ins.
 * @example roleByName('auditor', tier.policy) // a role defined in the config's policy
 */
export function roleByName(
  name: string,
  policy?: Pick<Policy, 'tools'>,
  extra: Readonly<Record<string, Role>> = {},
): Role {
  const fromPolicy = policyRoles(policy);
  // Own keys only: "constructor" or "__proto__" are not roles.
  const own = (set: Readonly<Record<string, Role>>): Role | undefined =>
    Object.hasOwn(set, name) ? set[name] : undefined;
  const role = own(extra) ?? own(fromPolicy) ?? own(BUILTIN_ROLES);
  if (!role) {
    const known = [
      ...new Set([
        ...Object.keys(extra),
        ...Object.keys(fromPolicy),
        ...Object.keys(BUILTIN_ROLES),
      ]),
    ].join(', ');
    throw new PolicyError(`unknown role "${name}" (known: ${known})`);
  }
  return role;
}

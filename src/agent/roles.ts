// Built-in roles: named sets of allowed tools, optionally with their own permission mode.
// `--role NAME` picks one; a call outside the role's tools is denied by the permission engine.
import { PolicyError } from '../errors.js';
import type { Role } from './permissions/index.js';

export const BUILTIN_ROLES: Readonly<Record<string, Role>> = Object.freeze({
  reviewer: { name: 'reviewer', tools: ['Read', 'Glob', 'Grep'], mode: 'plan' },
  developer: {
    name: 'developer',
    tools: ['Read', 'Glob', 'Grep', 'Edit', 'Write', 'Bash', 'WebFetch'],
  },
  tester: { name: 'tester', tools: ['Read', 'Glob', 'Grep', 'Bash(npm test:*)', 'Bash(node:*)'] },
});

/** The role called `name`, from `extra` first, then the built-ins. */
export function roleByName(name: string, extra: Readonly<Record<string, Role>> = {}): Role {
  const role = extra[name] ?? BUILTIN_ROLES[name];
  if (!role) {
    const known = [...Object.keys(extra), ...Object.keys(BUILTIN_ROLES)].join(', ');
    throw new PolicyError(`unknown role "${name}" (known: ${known})`);
  }
  return role;
}

// Reads a standalone policy file (YAML or JSON) and validates policies like the config does.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as YamlModule from 'yaml';
import { ConfigError } from '../errors.js';
import { policySchema, type Policy } from './policy-schema.js';

export function loadPolicyFile(path: string): Policy {
  let raw: unknown;
  try {
    const { parse } = createRequire(import.meta.url)('yaml') as typeof YamlModule;
    raw = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(
      `cannot read policy ${path}`,
      [{ path: '', message: (err as Error).message }],
      { cause: err },
    );
  }
  return validatePolicy(raw ?? {}, `${path}: invalid policy`);
}

/**
 * Validates a policy object (a file's, or one with command-line or request overrides applied);
 * every problem becomes a `path: message` issue of one ConfigError.
 */
export function validatePolicy(raw: unknown, message = 'invalid policy'): Policy {
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      message,
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  return parsed.data;
}

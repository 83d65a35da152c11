// Reads a standalone policy file (YAML or JSON) and validates it like the config does.
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
  const parsed = policySchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new ConfigError(
      `${path}: invalid policy`,
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  return parsed.data;
}

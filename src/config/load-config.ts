// Finds, parses and validates ringfence.yaml (or JSON) and resolves one tier with its policy.
// Errors are ConfigError with every problem as `path: message`.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as YamlModule from 'yaml';
import type { ZodError } from 'zod';
import { ConfigError, type Issue } from '../errors.js';
import { defaultPolicy } from '../policy/policy-schema.js';
import { configSchema, type RingfenceConfig } from './config-schema.js';
import { BUILTIN_CONFIG } from './builtin-config.js';
import {
  findConfigPath,
  prevalidatedBuiltinConfig,
  resolveTier,
  type PrevalidatedBuiltin,
  type ResolvedTier,
} from './resolve-tier.js';

export { findConfigPath, resolveTier, type ResolvedTier };

export function zodIssues(error: ZodError, prefix: (string | number)[] = []): Issue[] {
  return error.issues.map((i) => ({ path: [...prefix, ...i.path].join('.'), message: i.message }));
}

/** Parses and validates a config text; YAML is a superset of JSON so both are accepted. */
export function parseConfig(text: string, source = 'config'): RingfenceConfig {
  let raw: unknown;
  try {
    // Loaded on first use: commands run without a config file never pay for the YAML parser.
    const { parse } = createRequire(import.meta.url)('yaml') as typeof YamlModule;
    raw = parse(text);
  } catch (err) {
    throw new ConfigError(
      `${source}: not valid YAML/JSON`,
      [{ path: '', message: (err as Error).message }],
      { cause: err },
    );
  }
  return validateConfig(raw, source);
}

/** Validates an already-parsed config object. */
export function validateConfig(raw: unknown, source = 'config'): RingfenceConfig {
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(`${source}: invalid config`, zodIssues(parsed.error));
  const config = parsed.data;
  // A tier may name "default" without defining it: the policy with the schema's defaults. Filled
  // in here, so resolving a tier (on the CLI's start-up path) needs no schema.
  config.policies.default ??= defaultPolicy();
  return config;
}

export function loadConfig(explicitPath?: string): {
  config: RingfenceConfig;
  path: string | undefined;
} {
  const path = findConfigPath(explicitPath);
  if (!path) {
    // Validated at build time when built; else here (an object already: no YAML parser).
    const config = prevalidatedBuiltinConfig() ?? validateConfig(BUILTIN_CONFIG, 'built-in config');
    return { config, path: undefined };
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${path}`, [{ path: '', message: (err as Error).message }], {
      cause: err,
    });
  }
  return { config: parseConfig(text, path), path };
}

/** Loads the config file and resolves a tier in one call, as every command does. */
export function loadTier(options: { configPath?: string; env?: string } = {}): ResolvedTier {
  const { config, path } = loadConfig(options.configPath);
  return resolveTier(config, options.env, path);
}

/** The built-in config validated, as `npm run build` saves it next to resolve-tier.js. */
export function prevalidateBuiltinConfig(): PrevalidatedBuiltin {
  return { input: BUILTIN_CONFIG, config: validateConfig(BUILTIN_CONFIG, 'built-in config') };
}

// Finds, parses and validates ringfence.yaml (or JSON) and resolves one tier with its policy.
// Errors are ConfigError with every problem as `path: message`.
import { readFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type * as YamlModule from 'yaml';
import type { ZodError } from 'zod';
import { ConfigError, type Issue } from '../errors.js';
import { policySchema, type Policy } from '../policy/policy-schema.js';
import {
  configSchema,
  TIERS,
  type RingfenceConfig,
  type Tier,
  type TierName,
} from './config-schema.js';
import { BUILTIN_CONFIG } from './builtin-config.js';

export interface ResolvedTier extends Omit<Tier, 'policy'> {
  name: TierName;
  policyName: string;
  policy: Policy;
  dataDir: string;
  configPath: string | undefined;
}

export function zodIssues(error: ZodError, prefix: (string | number)[] = []): Issue[] {
  return error.issues.map((i) => ({ path: [...prefix, ...i.path].join('.'), message: i.message }));
}

/** Where the config comes from: --config, RINGFENCE_CONFIG, ./ringfence.yaml|.json, else built-in. */
export function findConfigPath(explicit?: string): string | undefined {
  const candidate = explicit ?? process.env.RINGFENCE_CONFIG;
  if (candidate) return resolve(candidate);
  for (const name of ['ringfence.yaml', 'ringfence.yml', 'ringfence.json']) {
    if (existsSync(name)) return resolve(name);
  }
  return undefined;
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
  return parsed.data;
}

export function loadConfig(explicitPath?: string): {
  config: RingfenceConfig;
  path: string | undefined;
} {
  const path = findConfigPath(explicitPath);
  if (!path)
    return {
      config: parseConfig(JSON.stringify(BUILTIN_CONFIG), 'built-in config'),
      path: undefined,
    };
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

/** Picks the tier: explicit name, else RINGFENCE_ENV, else dev. */
export function resolveTier(
  config: RingfenceConfig,
  tierName?: string,
  configPath?: string,
): ResolvedTier {
  const name = tierName ?? process.env.RINGFENCE_ENV ?? 'dev';
  if (!(TIERS as readonly string[]).includes(name)) {
    throw new ConfigError('unknown tier', [
      { path: 'env', message: `"${name}" is not one of ${TIERS.join(', ')}` },
    ]);
  }
  const tierKey = name as TierName;
  const tier = config.tiers[tierKey];
  if (!tier)
    throw new ConfigError('tier not configured', [
      { path: `tiers.${tierKey}`, message: 'not defined in the config' },
    ]);
  let policy: Policy;
  let policyName: string;
  if (typeof tier.policy === 'string') {
    policyName = tier.policy;
    policy = config.policies[tier.policy] ?? policySchema.parse({});
  } else {
    policyName = `tiers.${tierKey}.policy`;
    policy = tier.policy;
  }
  const envLevel = process.env.RINGFENCE_LOG_LEVEL as Tier['logLevel'] | undefined;
  const dataDir = resolve(
    config.dataDir ?? process.env.RINGFENCE_HOME ?? join(homedir(), '.ringfence'),
  );
  return {
    ...tier,
    logLevel: envLevel ?? tier.logLevel,
    name: tierKey,
    policyName,
    policy,
    dataDir,
    configPath,
  };
}

/** Loads the config file and resolves a tier in one call, as every command does. */
export function loadTier(options: { configPath?: string; env?: string } = {}): ResolvedTier {
  const { config, path } = loadConfig(options.configPath);
  return resolveTier(config, options.env, path);
}

// Resolves one tier of an already validated config (its policy, data directory, log level) and
// finds the config file. No schema is loaded here: a command run without a config file resolves
// the built-in tier from the copy validated at build time, without zod.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import type { Policy } from '../policy/policy-schema.js';
import type { RingfenceConfig, Tier } from './config-schema.js';
import { TIERS, type TierName } from './tier-names.js';
import { BUILTIN_CONFIG } from './builtin-config.js';

export interface ResolvedTier extends Omit<Tier, 'policy'> {
  name: TierName;
  policyName: string;
  policy: Policy;
  dataDir: string;
  configPath: string | undefined;
}

/** The built-in config as validated by `npm run build` (written by scripts/copy-assets.mjs). */
export const PREVALIDATED_BUILTIN_PATH = fileURLToPath(
  new URL('./builtin-config.json', import.meta.url),
);

/** What the build writes: the config validated, and the input it was validated from. */
export interface PrevalidatedBuiltin {
  input: unknown;
  config: RingfenceConfig;
}

/**
 * The built-in config validated at build time, when that copy exists and was made from the
 * current BUILTIN_CONFIG; otherwise undefined (running from source, or a stale build) and the
 * caller validates BUILTIN_CONFIG itself.
 */
export function prevalidatedBuiltinConfig(
  file = PREVALIDATED_BUILTIN_PATH,
): RingfenceConfig | undefined {
  let saved: PrevalidatedBuiltin;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as PrevalidatedBuiltin;
  } catch {
    return undefined;
  }
  return JSON.stringify(saved.input) === JSON.stringify(BUILTIN_CONFIG) ? saved.config : undefined;
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
    // validateConfig() checked every name and filled in "default" when it was absent.
    const named = config.policies[tier.policy];
    if (!named)
      throw new ConfigError('unknown policy', [
        { path: `tiers.${tierKey}.policy`, message: `unknown policy "${tier.policy}"` },
      ]);
    policy = named;
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

// Resolves the tier a command runs in, loading the config schema (zod, the YAML parser) only
// when there is a config file to validate: the one-shot `ringfence sandbox exec` start-up path.
import type { ResolvedTier } from './resolve-tier.js';
import { findConfigPath, prevalidatedBuiltinConfig, resolveTier } from './resolve-tier.js';

/**
 * The same tier as `loadTier()` (load-config.ts); without a config file it is resolved from the
 * built-in config validated at build time, when there is one.
 * @example const tier = await loadTierLazily({ env: 'prod' });
 */
export async function loadTierLazily(
  options: { configPath?: string; env?: string } = {},
): Promise<ResolvedTier> {
  const builtin = findConfigPath(options.configPath) ? undefined : prevalidatedBuiltinConfig();
  if (builtin) return resolveTier(builtin, options.env, undefined);
  const { loadTier } = await import('./load-config.js');
  return loadTier(options);
}

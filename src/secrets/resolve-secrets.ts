// Turns a policy's `secrets` map into resolved bindings the egress proxy and gateway can inject.
// A missing secret fails the whole resolution with an error naming it (fail closed).
import { SecretError } from '../errors.js';
import type { Policy, SecretBinding } from '../policy/policy-schema.js';
import { EnvSecretProvider } from './env/env-provider.js';
import { FileSecretProvider } from './file/file-provider.js';
import type { SecretProvider, SecretsLogger } from './secret-provider.js';

/** One secret ready for injection: the value plus where and how it may be sent. */
export interface ResolvedSecret {
  name: string;
  value: string;
  hosts: readonly string[];
  header: string;
  format: string;
}

export interface ResolveSecretsOptions {
  /** Providers by `SecretBinding.from`; defaults to env (process.env) and file. */
  providers?: Partial<Record<SecretBinding['from'], SecretProvider>>;
  logger?: SecretsLogger;
}

/**
 * Reads every secret of the policy from its provider.
 * @example const secrets = await resolveSecrets(policy.secrets);
 * @throws SecretError naming the first secret that cannot be read.
 */
export async function resolveSecrets(
  secrets: Policy['secrets'],
  options: ResolveSecretsOptions = {},
): Promise<ResolvedSecret[]> {
  const providers: Record<SecretBinding['from'], SecretProvider> = {
    env: options.providers?.env ?? new EnvSecretProvider(),
    file:
      options.providers?.file ??
      new FileSecretProvider(options.logger === undefined ? {} : { logger: options.logger }),
  };
  const resolved: ResolvedSecret[] = [];
  for (const [name, binding] of Object.entries(secrets)) {
    const provider = providers[binding.from];
    const value = await provider.get(binding.key, name);
    if (value.includes('\r') || value.includes('\n')) {
      throw new SecretError(name, `secret ${name}: value contains a line break`);
    }
    resolved.push({
      name,
      value,
      hosts: [...binding.hosts],
      header: binding.header,
      format: binding.format,
    });
  }
  return resolved;
}

/** Renders the header value for a resolved secret (`Bearer {value}` → `Bearer abc...`). */
export function headerValue(secret: ResolvedSecret): string {
  return secret.format.split('{value}').join(secret.value);
}

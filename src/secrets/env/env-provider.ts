// Secret provider reading process.env (or an injected env map) at the time of each get().
// An absent or empty variable is an error that names the secret and the variable.
import { SecretError } from '../../errors.js';
import type { SecretProvider } from '../secret-provider.js';

export interface EnvSecretProviderOptions {
  /** Environment to read; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

export class EnvSecretProvider implements SecretProvider {
  readonly kind = 'env';
  readonly #env: NodeJS.ProcessEnv;

  constructor(options: EnvSecretProviderOptions = {}) {
    this.#env = options.env ?? process.env;
  }

  async get(key: string, name: string = key): Promise<string> {
    const value = this.#env[key];
    if (value === undefined || value === '') {
      throw new SecretError(name, `secret ${name}: environment variable ${key} is not set`);
    }
    return value;
  }

  async close(): Promise<void> {}
}

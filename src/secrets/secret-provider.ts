// The SecretProvider contract: where credential values come from (env, file, later Vault).
// Providers run outside every sandbox; values go only to the model gateway and egress proxy.

/** Reads secret values by key. Errors name the key, never a value. */
export interface SecretProvider {
  /** `env` or `file`; matches `SecretBinding.from` in the policy. */
  readonly kind: string;
  /**
   * Returns the value stored under `key` (an env var name or a file path).
   * @param name the policy's secret name, used in error messages.
   * @throws SecretError when the value is missing or unreadable.
   */
  get(key: string, name?: string): Promise<string>;
  /** Releases resources; idempotent. */
  close(): Promise<void>;
}

/** The logger the secrets layer accepts (pino fits it); default silent. */
export interface SecretsLogger {
  warn(obj: object, msg?: string): void;
}

export const silentSecretsLogger: SecretsLogger = Object.freeze({ warn: () => undefined });

// Secret provider reading one file per secret; one trailing newline (LF or CRLF) is trimmed.
// A file readable by group or others is used but logged as a warning (warn only, by design).
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { SecretError } from '../../errors.js';
import {
  silentSecretsLogger,
  type SecretProvider,
  type SecretsLogger,
} from '../secret-provider.js';

export interface FileSecretProviderOptions {
  logger?: SecretsLogger;
}

export class FileSecretProvider implements SecretProvider {
  readonly kind = 'file';
  readonly #logger: SecretsLogger;

  constructor(options: FileSecretProviderOptions = {}) {
    this.#logger = options.logger ?? silentSecretsLogger;
  }

  async get(path: string, name: string = path): Promise<string> {
    if (!isAbsolute(path)) {
      throw new SecretError(name, `secret ${name}: file path must be absolute: ${path}`);
    }
    let text: string;
    try {
      const info = await stat(path);
      if (!info.isFile()) throw new Error('not a regular file');
      if ((info.mode & 0o077) !== 0) {
        this.#logger.warn(
          { secret: name, path, mode: (info.mode & 0o777).toString(8) },
          'secret file is readable by group or others; chmod 600 it',
        );
      }
      text = await readFile(path, 'utf8');
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message.split(',')[0] : 'unreadable';
      throw new SecretError(name, `secret ${name}: cannot read file ${path} (${reason})`);
    }
    const value = text.endsWith('\r\n')
      ? text.slice(0, -2)
      : text.endsWith('\n')
        ? text.slice(0, -1)
        : text;
    if (value === '') throw new SecretError(name, `secret ${name}: file ${path} is empty`);
    return value;
  }

  async close(): Promise<void> {}
}

// Secret providers (env, file) and the policy resolver: values read, one trailing newline
// trimmed, loose file modes warned about, and every error naming the secret but never a value.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SecretError } from '../../src/errors.js';
import { policySchema } from '../../src/policy/policy-schema.js';
import { EnvSecretProvider } from '../../src/secrets/env/env-provider.js';
import { FileSecretProvider } from '../../src/secrets/file/file-provider.js';
import { headerValue, resolveSecrets } from '../../src/secrets/resolve-secrets.js';

const canary = (): string => `canary-${randomBytes(12).toString('hex')}`;
const dir = (): string => mkdtempSync(join(tmpdir(), 'ringfence-secrets-'));

describe('EnvSecretProvider', () => {
  it('reads the variable and names the secret and variable when it is missing', async () => {
    const value = canary();
    const env = new EnvSecretProvider({ env: { TOKEN_VAR: value, EMPTY: '' } });
    expect(await env.get('TOKEN_VAR', 'GH_TOKEN')).toBe(value);
    await expect(env.get('NOPE', 'GH_TOKEN')).rejects.toThrow(
      'secret GH_TOKEN: environment variable NOPE is not set',
    );
    await expect(env.get('EMPTY', 'GH_TOKEN')).rejects.toBeInstanceOf(SecretError);
  });
});

describe('FileSecretProvider', () => {
  it('trims exactly one trailing newline (LF or CRLF)', async () => {
    const d = dir();
    const value = canary();
    const files = { lf: `${value}\n`, crlf: `${value}\r\n`, two: `${value}\n\n`, none: value };
    for (const [name, text] of Object.entries(files))
      writeFileSync(join(d, name), text, { mode: 0o600 });
    const p = new FileSecretProvider();
    expect(await p.get(join(d, 'lf'))).toBe(value);
    expect(await p.get(join(d, 'crlf'))).toBe(value);
    expect(await p.get(join(d, 'two'))).toBe(`${value}\n`);
    expect(await p.get(join(d, 'none'))).toBe(value);
  });

  it('warns (without the value) when the file is readable by others, and still reads it', async () => {
    const d = dir();
    const value = canary();
    writeFileSync(join(d, 'loose'), value, { mode: 0o644 });
    const warnings: string[] = [];
    const p = new FileSecretProvider({
      logger: { warn: (obj, msg) => warnings.push(`${JSON.stringify(obj)} ${msg}`) },
    });
    expect(await p.get(join(d, 'loose'), 'API_KEY')).toBe(value);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('API_KEY');
    expect(warnings[0]).not.toContain(value);
  });

  it('names the secret when the file is missing, empty or the path relative', async () => {
    const d = dir();
    writeFileSync(join(d, 'empty'), '\n', { mode: 0o600 });
    const p = new FileSecretProvider();
    await expect(p.get(join(d, 'missing'), 'API_KEY')).rejects.toThrow(
      /secret API_KEY: cannot read file/,
    );
    await expect(p.get(join(d, 'empty'), 'API_KEY')).rejects.toThrow(
      /secret API_KEY: file .* is empty/,
    );
    await expect(p.get('relative/path', 'API_KEY')).rejects.toBeInstanceOf(SecretError);
  });
});

describe('resolveSecrets', () => {
  it('returns name, value, hosts, header and format for every binding', async () => {
    const d = dir();
    const [a, b] = [canary(), canary()];
    writeFileSync(join(d, 'npm'), `${b}\n`, { mode: 0o600 });
    const policy = policySchema.parse({
      secrets: {
        GH_TOKEN: { from: 'env', key: 'GH', hosts: ['api.github.com'] },
        NPM_TOKEN: {
          from: 'file',
          key: join(d, 'npm'),
          hosts: ['registry.npmjs.org'],
          header: 'X-Token',
          format: 'token {value}',
        },
      },
    });
    const resolved = await resolveSecrets(policy.secrets, {
      providers: { env: new EnvSecretProvider({ env: { GH: a } }) },
    });
    expect(resolved).toEqual([
      {
        name: 'GH_TOKEN',
        value: a,
        hosts: ['api.github.com'],
        header: 'Authorization',
        format: 'Bearer {value}',
      },
      {
        name: 'NPM_TOKEN',
        value: b,
        hosts: ['registry.npmjs.org'],
        header: 'X-Token',
        format: 'token {value}',
      },
    ]);
    expect(headerValue(resolved[1]!)).toBe(`token ${b}`);
  });

  it('fails on a missing secret with an error naming it and leaking no other value', async () => {
    const present = canary();
    const policy = policySchema.parse({
      secrets: {
        OK_TOKEN: { from: 'env', key: 'OK', hosts: ['a.example'] },
        GONE_TOKEN: { from: 'env', key: 'GONE', hosts: ['b.example'] },
      },
    });
    const err: unknown = await resolveSecrets(policy.secrets, {
      providers: { env: new EnvSecretProvider({ env: { OK: present } }) },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretError);
    expect((err as SecretError).secret).toBe('GONE_TOKEN');
    expect(
      JSON.stringify({ m: (err as Error).message, d: (err as SecretError).details }),
    ).not.toContain(present);
  });
});

// `ringfence keys create` through commander: prints a key on stdout that authenticates with
// the chosen tenant and role; a bad role is refused.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerKeysCommand } from '../../src/cli/keys-command.js';
import { SqliteTenantKeys } from '../../src/server/sqlite/sqlite-tenant-keys.js';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('keys command', () => {
  it('creates a key that authenticates as tenant + role', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rf-keys-'));
    dirs.push(dataDir);
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const program = new Command().exitOverride();
    registerKeysCommand(program);
    await program.parseAsync([
      'node',
      'rf',
      'keys',
      'create',
      '--tenant',
      'acme',
      '--role',
      'submit',
      '--data-dir',
      dataDir,
    ]);
    const key = out.join('').trim();
    const store = new SqliteTenantKeys({ dataDir });
    expect(await store.authenticate(key)).toMatchObject({ tenantId: 'acme', role: 'submit' });
    await store.close();
    await expect(
      program.parseAsync([
        'node',
        'rf',
        'keys',
        'create',
        '--tenant',
        'acme',
        '--role',
        'root',
        '--data-dir',
        dataDir,
      ]),
    ).rejects.toThrow(/--role must be one of/);
  });
});

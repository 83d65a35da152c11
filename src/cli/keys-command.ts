// `ringfence keys create --tenant T --role R`: creates an API key (and the tenant if new) in the
// data directory's ringfence.db and prints the key once on stdout; `keys list --tenant T`.
import type { Command } from 'commander';
import { defaultDataDir } from '../audit/open-audit.js';
import { RingfenceError } from '../errors.js';
import { SqliteTenantKeys } from '../server/sqlite/sqlite-tenant-keys.js';
import { API_ROLES, type ApiRole } from '../server/tenant-keys.js';

interface KeyFlags {
  tenant: string;
  role?: string;
  dataDir?: string;
}

function parseRole(raw: string | undefined): ApiRole {
  const role = API_ROLES.find((r) => r === raw);
  if (role === undefined) {
    throw new RingfenceError('invalid_request', `--role must be one of ${API_ROLES.join(', ')}`);
  }
  return role;
}

export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('manage tenants and API keys');
  keys
    .command('create')
    .description('create an API key (printed once; only its sha256 is stored)')
    .requiredOption('--tenant <id>', 'tenant id (created if new)')
    .requiredOption('--role <role>', `one of ${API_ROLES.join(', ')}`)
    .option('--data-dir <dir>', 'data directory (default: RINGFENCE_HOME or ~/.ringfence)')
    .action(async (flags: KeyFlags) => {
      const role = parseRole(flags.role);
      const store = new SqliteTenantKeys({ dataDir: flags.dataDir ?? defaultDataDir() });
      try {
        const created = await store.createKey(flags.tenant, role);
        process.stderr.write(
          `created ${role} key ${created.info.id} for tenant ${flags.tenant}; it is shown once:\n`,
        );
        process.stdout.write(`${created.key}\n`);
      } finally {
        await store.close();
      }
    });
  keys
    .command('list')
    .description('list the key ids and roles of a tenant (never the keys)')
    .requiredOption('--tenant <id>', 'tenant id')
    .option('--data-dir <dir>', 'data directory')
    .action(async (flags: KeyFlags) => {
      const store = new SqliteTenantKeys({ dataDir: flags.dataDir ?? defaultDataDir() });
      try {
        for (const k of await store.listKeys(flags.tenant)) {
          const state = k.revokedAt === undefined ? 'active' : 'revoked';
          process.stdout.write(`${k.id}\t${k.role}\t${state}\n`);
        }
      } finally {
        await store.close();
      }
    });
}

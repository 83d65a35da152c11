// `ringfence audit verify | public-key`: checks the hash chains and signed checkpoints of the
// audit log, names the first bad record and exits 1 on any failure.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AuditError } from '../errors.js';
import { AUDIT_PUBLIC_KEY_FILE, readAuditPublicKey, toPublicKey } from '../audit/audit-keys.js';
import { DEFAULT_CHECKPOINT_EVERY } from '../audit/audit-log.js';
import { defaultDataDir, openAuditStore } from '../audit/open-audit.js';
import { verify } from '../audit/verify-audit.js';

interface VerifyFlags {
  session?: string;
  dataDir?: string;
  jsonl?: string;
  publicKey?: string;
  checkpointEvery?: string;
  json?: boolean;
}

export function registerAuditCommand(program: Command): void {
  const audit = program.command('audit').description('inspect and verify the audit log');

  audit
    .command('verify')
    .description('check hash chains, sequence, checkpoints and signatures; exit 1 on tampering')
    .option('--session <id>', 'verify one log (a session id or "global"); default: all logs')
    .option('--data-dir <dir>', 'data directory (default: RINGFENCE_HOME or ~/.ringfence)')
    .option('--jsonl <dir>', 'verify the JSONL sink in this directory instead of SQLite')
    .option(
      '--public-key <file>',
      `Ed25519 public key PEM (default: <data-dir>/${AUDIT_PUBLIC_KEY_FILE})`,
    )
    .option(
      '--checkpoint-every <n>',
      "the writer's checkpoint interval",
      String(DEFAULT_CHECKPOINT_EVERY),
    )
    .option('--json', 'print the full result as JSON')
    .action(async (flags: VerifyFlags) => {
      const dataDir = flags.dataDir ?? defaultDataDir();
      const every = Number(flags.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY);
      if (!Number.isInteger(every) || every < 1) {
        throw new AuditError(`--checkpoint-every must be a positive integer`);
      }
      const publicKey =
        flags.publicKey === undefined
          ? readAuditPublicKey(dataDir)
          : toPublicKey(readFileSync(flags.publicKey, 'utf8'));
      const store = openAuditStore({
        dataDir,
        readonly: true,
        ...(flags.jsonl === undefined ? {} : { jsonlDir: flags.jsonl }),
      });
      try {
        const result = await verify(store, {
          publicKey,
          checkpointEvery: every,
          ...(flags.session === undefined ? {} : { logId: flags.session }),
        });
        if (flags.json === true) {
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        } else {
          const where = flags.jsonl ?? join(dataDir, 'ringfence.db');
          const summary = `${result.logs.length} log(s), ${result.records} record(s), ${result.checkpoints} checkpoint(s) in ${where}`;
          if (result.firstBad === undefined) {
            const unsealed = result.logs.filter((l) => !l.sealed && l.records > 0).length;
            process.stdout.write(
              `audit OK: ${summary}${unsealed > 0 ? `; ${unsealed} log(s) with unsigned tail records (still open)` : ''}\n`,
            );
          } else {
            const bad = result.firstBad;
            process.stdout.write(
              `audit FAILED: log ${bad.logId}, record ${bad.seq}: ${bad.reason}\n${summary}\n`,
            );
          }
        }
        if (result.records === 0 && flags.session !== undefined) {
          process.stdout.write(`audit: no records for log ${flags.session}\n`);
          process.exitCode = 1;
          return;
        }
        process.exitCode = result.ok ? 0 : 1;
      } finally {
        await store.close();
      }
    });

  audit
    .command('public-key')
    .description('print the audit signing public key (PEM) to keep out of band')
    .option('--data-dir <dir>', 'data directory (default: RINGFENCE_HOME or ~/.ringfence)')
    .action((flags: { dataDir?: string }) => {
      const key = readAuditPublicKey(flags.dataDir ?? defaultDataDir());
      process.stdout.write(key.export({ type: 'spki', format: 'pem' }).toString());
    });
}

// Factory for the audit layer: picks the store (SQLite in <dataDir>/ringfence.db by default,
// JSONL when a directory is given), loads the signing key and builds the AuditLog.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { StorageLogger } from '../storage/storage-logger.js';
import { createSigner, loadOrCreateAuditKeys } from './audit-keys.js';
import { AuditLog } from './audit-log.js';
import type { AuditStore } from './audit-store.js';
import { JsonlAuditStore } from './jsonl/jsonl-audit-store.js';
import { SqliteAuditStore } from './sqlite/sqlite-audit-store.js';

/** RINGFENCE_HOME, else ~/.ringfence. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = env['RINGFENCE_HOME'];
  return home !== undefined && home !== '' ? home : join(homedir(), '.ringfence');
}

export interface OpenAuditStoreOptions {
  /** Data directory (ringfence.db and the signing key). Absent: `defaultDataDir()`. */
  dataDir?: string;
  /** Use the JSONL sink in this directory instead of SQLite. */
  jsonlDir?: string;
  /** Verification only: never create or migrate anything. */
  readonly?: boolean;
  busyTimeoutMs?: number;
  logger?: StorageLogger;
}

/** Opens the configured AuditStore. */
export function openAuditStore(options: OpenAuditStoreOptions = {}): AuditStore {
  const readonly = options.readonly === true;
  if (options.jsonlDir !== undefined)
    return new JsonlAuditStore({ dir: options.jsonlDir, readonly });
  return new SqliteAuditStore({
    dataDir: options.dataDir ?? defaultDataDir(),
    readonly,
    ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
}

export interface OpenAuditLogOptions extends Omit<OpenAuditStoreOptions, 'readonly'> {
  checkpointEvery?: number;
  redact?: (text: string) => string;
}

/**
 * Opens the writer side: store + signing key (generated on first use) + AuditLog.
 * @example const { log } = openAuditLog({ dataDir }); await log.append('global', 'egress', {...})
 */
export function openAuditLog(options: OpenAuditLogOptions = {}): {
  log: AuditLog;
  store: AuditStore;
  publicKeyPem: string;
} {
  const dataDir = options.dataDir ?? defaultDataDir();
  const keys = loadOrCreateAuditKeys(dataDir);
  const store = openAuditStore({ ...options, dataDir });
  const log = new AuditLog({
    store,
    signer: createSigner(keys.privateKey),
    ...(options.checkpointEvery === undefined ? {} : { checkpointEvery: options.checkpointEvery }),
    ...(options.redact === undefined ? {} : { redact: options.redact }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  return { log, store, publicKeyPem: keys.publicKeyPem };
}

// Test fixtures for the audit suite: a store factory per sink and an "attacker" that rewrites
// a log's stored entries directly (SQLite: drops the triggers first; JSONL: rewrites the files).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSigner, type AuditSigner } from '../../src/audit/audit-keys.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import type { AuditStore } from '../../src/audit/audit-store.js';
import { JsonlAuditStore } from '../../src/audit/jsonl/jsonl-audit-store.js';
import { SqliteAuditStore } from '../../src/audit/sqlite/sqlite-audit-store.js';

export interface Attacker {
  records(logId: string): string[];
  setRecords(logId: string, lines: string[]): void;
  checkpoints(logId: string): string[];
  setCheckpoints(logId: string, lines: string[]): void;
}

export interface Sink {
  name: 'sqlite' | 'jsonl';
  dir: string;
  open(options?: { readonly?: boolean }): AuditStore;
  attacker(): Attacker;
  cleanup(): void;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ringfence-${prefix}-`));
}

export function sqliteSink(): Sink {
  const dir = tempDir('audit-sqlite');
  const withDb = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(join(dir, 'ringfence.db'));
    try {
      for (const t of ['records', 'checkpoints']) {
        db.exec(
          `DROP TRIGGER IF EXISTS audit_${t}_no_update; DROP TRIGGER IF EXISTS audit_${t}_no_delete;`,
        );
      }
      return fn(db);
    } finally {
      db.close();
    }
  };
  return {
    name: 'sqlite',
    dir,
    open: (o = {}) => new SqliteAuditStore({ dataDir: dir, readonly: o.readonly ?? false }),
    attacker: () => ({
      records: (logId) =>
        withDb((db) =>
          db
            .prepare<[string], { record: string }>(
              'SELECT record FROM audit_records WHERE log_id = ? ORDER BY rowid',
            )
            .all(logId)
            .map((r) => r.record),
        ),
      setRecords: (logId, lines) =>
        withDb((db) => {
          db.prepare('DELETE FROM audit_records WHERE log_id = ?').run(logId);
          const ins = db.prepare(
            "INSERT INTO audit_records (log_id, seq, type, ts, hash, record) VALUES (?, ?, 'x', '', '', ?)",
          );
          lines.forEach((line, i) => ins.run(logId, i + 1, line));
        }),
      checkpoints: (logId) =>
        withDb((db) =>
          db
            .prepare<[string], { checkpoint: string }>(
              'SELECT checkpoint FROM audit_checkpoints WHERE log_id = ? ORDER BY rowid',
            )
            .all(logId)
            .map((r) => r.checkpoint),
        ),
      setCheckpoints: (logId, lines) =>
        withDb((db) => {
          db.prepare('DELETE FROM audit_checkpoints WHERE log_id = ?').run(logId);
          const ins = db.prepare(
            'INSERT INTO audit_checkpoints (log_id, idx, seq, checkpoint) VALUES (?, ?, 0, ?)',
          );
          lines.forEach((line, i) => ins.run(logId, i + 1, line));
        }),
    }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function jsonlSink(): Sink {
  const dir = tempDir('audit-jsonl');
  const file = (part: string, logId: string): string => join(dir, part, `${logId}.jsonl`);
  const read = (part: string, logId: string): string[] => {
    const path = file(part, logId);
    if (!existsSync(path)) return [];
    const lines = readFileSync(path, 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines;
  };
  const write = (part: string, logId: string, lines: string[]): void => {
    writeFileSync(file(part, logId), lines.map((l) => `${l}\n`).join(''));
  };
  return {
    name: 'jsonl',
    dir,
    open: (o = {}) => new JsonlAuditStore({ dir, readonly: o.readonly ?? false }),
    attacker: () => ({
      records: (logId) => read('records', logId),
      setRecords: (logId, lines) => write('records', logId, lines),
      checkpoints: (logId) => read('checkpoints', logId),
      setCheckpoints: (logId, lines) => write('checkpoints', logId, lines),
    }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TestKeys {
  signer: AuditSigner;
  publicKey: KeyObject;
}

export function testKeys(): TestKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { signer: createSigner(privateKey), publicKey };
}

/** Writes `count` tool records to `logId` through a real AuditLog, then closes it. */
export async function writeLog(
  store: AuditStore,
  signer: AuditSigner,
  logId: string,
  count: number,
  options: { checkpointEvery?: number; finish?: boolean } = {},
): Promise<void> {
  const log = new AuditLog({ store, signer, checkpointEvery: options.checkpointEvery ?? 3 });
  await log.append(logId, 'session.start', { prompt: 'fix the tests' });
  for (let i = 1; i < count; i += 1) {
    await log.append(logId, i % 2 === 1 ? 'tool.intent' : 'tool.result', { tool: 'Bash', i });
  }
  if (options.finish === true) await log.finishSession(logId, { outcome: 'success' });
  await log.close();
}

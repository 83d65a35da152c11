// Runs the SessionStore conformance suite on SQLite (store and queue on one database file),
// plus SQLite-specific checks: migrations are recorded once, blobs live on disk by hash.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createQueue } from '../../src/queue/create-queue.js';
import { createSessionStore } from '../../src/sessions/create-session-store.js';
import { SqliteSessionStore } from '../../src/sessions/sqlite/sqlite-session-store.js';
import { openSqliteDb, runMigrations } from '../../src/storage/sqlite-db.js';
import { runSessionStoreSuite } from './session-store-suite.js';

runSessionStoreSuite({
  name: 'sqlite',
  create: async (clock) => {
    const dir = mkdtempSync(join(tmpdir(), 'rf-sessions-'));
    // Separate connections on one file, as in production (API and worker).
    const store = await createSessionStore({ backend: 'sqlite', dataDir: dir, clock });
    const queue = await createQueue({ backend: 'sqlite', dataDir: dir, clock });
    return {
      store,
      queue,
      cleanup: async () => {
        await Promise.all([store.close(), queue.close()]);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

describe('SQLite storage', () => {
  it('opens in WAL mode and applies each migration once across openers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rf-db-'));
    try {
      const a = new SqliteSessionStore({ dataDir: dir });
      const b = new SqliteSessionStore({ dataDir: dir });
      const db = openSqliteDb({ dataDir: dir });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const ids = db.prepare('SELECT id FROM schema_migrations ORDER BY id').all();
      expect(ids).toEqual([{ id: 'queue_001_tasks' }, { id: 'sessions_001_init' }]);
      expect(() => runMigrations(db, 'audit_', [{ id: 'queue_x', sql: '' }])).toThrow(
        /must start with audit_/,
      );
      db.close();
      await Promise.all([a.close(), b.close()]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stores snapshot blobs under <dataDir>/snapshots by sha256', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rf-blob-'));
    try {
      const store = new SqliteSessionStore({ dataDir: dir });
      await store.create({
        id: 's',
        tenantId: 't',
        prompt: '',
        tier: 'dev',
        role: 'r',
        mode: 'default',
      });
      const ref = await store.putSnapshot('s', 0, Buffer.from('bytes'));
      expect(existsSync(join(dir, 'snapshots', 'sha256', ref.sha256.slice(0, 2), ref.sha256))).toBe(
        true,
      );
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

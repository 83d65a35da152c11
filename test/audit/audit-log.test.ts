// AuditLog behaviour on both sinks: chaining, durability contract, injection-safe round trips,
// restart continuity, serialised concurrent appends, and AuditError on every store failure.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditError } from '../../src/errors.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { genesisHash, type AuditRecord } from '../../src/audit/audit-record.js';
import { SqliteAuditStore } from '../../src/audit/sqlite/sqlite-audit-store.js';
import { verify } from '../../src/audit/verify-audit.js';
import { jsonlSink, sqliteSink, testKeys, type Sink } from './audit-fixtures.js';

const INJECTIONS = [
  'line1\n{"seq":2,"logId":"sess","type":"tool.result","data":{},"prevHash":"x","hash":"y"}',
  'crlf\r\n{"seq":3}\r\n',
  'nul\u0000byte and \u001b[31mansi\u001b[0m',
  'quote " backslash \\ escaped \\n literal \\u0000',
  'lone surrogate \ud800 and emoji 😀 and U+2028 \u2028 U+2029 \u2029',
];

describe.each([{ make: sqliteSink }, { make: jsonlSink }])('AuditLog', ({ make }) => {
  let sink: Sink;
  afterEach(() => sink.cleanup());

  it(`${make.name}: chains records from the log's genesis with seq from 1`, async () => {
    sink = make();
    const { signer } = testKeys();
    const store = sink.open();
    const log = new AuditLog({ store, signer });
    const a = await log.append('sess-1', 'session.start', {});
    const b = await log.append('sess-1', 'tool.intent', { tool: 'Read' });
    const g = await log.append('global', 'egress', { host: 'example.com', decision: 'deny' });
    expect(a).toMatchObject({ seq: 1, prevHash: genesisHash('sess-1') });
    expect(b).toMatchObject({ seq: 2, prevHash: a.hash });
    expect(g).toMatchObject({ seq: 1, logId: 'global', prevHash: genesisHash('global') });
    await log.close();
  });

  it(`${make.name}: strings with newlines, CRLF, NUL and escapes round-trip and inject nothing`, async () => {
    sink = make();
    const { signer, publicKey } = testKeys();
    const store = sink.open();
    const log = new AuditLog({ store, signer });
    await log.append('sess', 'tool.result', { output: INJECTIONS, [INJECTIONS[0]!]: 'key too' });
    await log.close();
    const reader = sink.open({ readonly: true });
    const entries = await reader.readRecords('sess');
    // One tool.result plus the checkpoint written on close: no extra records appeared.
    expect(entries).toHaveLength(2);
    const rec = JSON.parse(entries[0]!.text) as AuditRecord;
    expect(rec.data).toEqual({ output: INJECTIONS, [INJECTIONS[0]!]: 'key too' });
    expect(['\n', '\r', '\u0000'].some((c) => entries[0]!.text.includes(c))).toBe(false);
    expect(await verify(reader, { publicKey })).toMatchObject({ ok: true, records: 2 });
    await reader.close();
  });

  it(`${make.name}: a new AuditLog continues an existing log after a restart`, async () => {
    sink = make();
    const { signer, publicKey } = testKeys();
    let log = new AuditLog({ store: sink.open(), signer, checkpointEvery: 4 });
    await log.append('sess', 'session.start', {});
    await log.append('sess', 'tool.intent', { n: 1 });
    // Simulate a crash: the first AuditLog is abandoned without close() and its final checkpoint.
    log = new AuditLog({ store: sink.open(), signer, checkpointEvery: 4 });
    const next = await log.append('sess', 'tool.result', { n: 2 });
    expect(next.seq).toBe(3);
    await log.finishSession('sess', { outcome: 'success' });
    await log.close();
    const reader = sink.open({ readonly: true });
    const r = await verify(reader, { publicKey, checkpointEvery: 4 });
    // start, intent, result, session.end (4th: interval reached) + one checkpoint sealing them.
    expect(r).toMatchObject({ ok: true, records: 5, checkpoints: 1 });
    expect(r.logs[0]?.sealed).toBe(true);
    await reader.close();
  });

  it(`${make.name}: concurrent appends to one log get consecutive seqs in call order`, async () => {
    sink = make();
    const { signer, publicKey } = testKeys();
    const store = sink.open();
    const log = new AuditLog({ store, signer, checkpointEvery: 5 });
    const recs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => log.append('sess', 'tool.intent', { i })),
    );
    expect(recs.map((r) => r.data['i'])).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(new Set(recs.map((r) => r.seq)).size).toBe(20);
    await log.close();
    const reader = sink.open({ readonly: true });
    expect(await verify(reader, { publicKey, checkpointEvery: 5 })).toMatchObject({ ok: true });
    await reader.close();
  });

  it(`${make.name}: append after the store is closed throws AuditError`, async () => {
    sink = make();
    const { signer } = testKeys();
    const store = sink.open();
    const log = new AuditLog({ store, signer });
    await log.append('sess', 'session.start', {});
    await store.close();
    await expect(log.append('sess', 'tool.intent', { tool: 'Bash' })).rejects.toBeInstanceOf(
      AuditError,
    );
  });

  it(`${make.name}: invalid log ids, checkpoint type and non-JSON data are refused`, async () => {
    sink = make();
    const { signer } = testKeys();
    const log = new AuditLog({ store: sink.open(), signer });
    await expect(log.append('../etc', 'egress', {})).rejects.toBeInstanceOf(AuditError);
    await expect(log.append('sess', 'checkpoint' as 'egress', {})).rejects.toBeInstanceOf(
      AuditError,
    );
    await expect(log.append('sess', 'egress', { n: Number.NaN })).rejects.toBeInstanceOf(
      AuditError,
    );
    await log.close();
  });

  it(`${make.name}: the redact hook runs on every string before the record is hashed`, async () => {
    sink = make();
    const { signer } = testKeys();
    const log = new AuditLog({
      store: sink.open(),
      signer,
      redact: (s) => s.replaceAll('hunter2hunter2', '[REDACTED:PW]'),
    });
    const rec = await log.append('sess', 'tool.result', { out: ['pw=hunter2hunter2'] });
    expect(rec.data).toEqual({ out: ['pw=[REDACTED:PW]'] });
    await log.close();
  });
});

describe('store failures', () => {
  let sink: Sink;
  afterEach(() => sink.cleanup());

  it('sqlite: a write lock held by another connection makes append throw AuditError', async () => {
    sink = sqliteSink();
    const { signer, publicKey } = testKeys();
    const store = new SqliteAuditStore({ dataDir: sink.dir, busyTimeoutMs: 50 });
    const log = new AuditLog({ store, signer });
    await log.append('sess', 'session.start', {});
    const other = new Database(join(sink.dir, 'ringfence.db'));
    other.exec('BEGIN EXCLUSIVE');
    await expect(log.append('sess', 'tool.intent', { tool: 'Bash' })).rejects.toBeInstanceOf(
      AuditError,
    );
    other.exec('ROLLBACK');
    other.close();
    // The failed append consumed no seq: the next one continues the chain without a gap.
    expect((await log.append('sess', 'tool.intent', { tool: 'Bash' })).seq).toBe(2);
    await log.close();
    const reader = sink.open({ readonly: true });
    expect(await verify(reader, { publicKey })).toMatchObject({ ok: true });
    await reader.close();
  });

  it('sqlite: UPDATE and DELETE through SQL are refused by triggers', async () => {
    sink = sqliteSink();
    const { signer } = testKeys();
    const log = new AuditLog({ store: sink.open(), signer });
    await log.append('sess', 'session.start', {});
    await log.close();
    const db = new Database(join(sink.dir, 'ringfence.db'));
    expect(() => db.prepare("UPDATE audit_records SET record = '{}'").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_records').run()).toThrow(/append-only/);
    expect(() => db.prepare("UPDATE audit_checkpoints SET checkpoint = '{}'").run()).toThrow(
      /append-only/,
    );
    expect(() => db.prepare('DELETE FROM audit_checkpoints').run()).toThrow(/append-only/);
    expect(db.prepare('SELECT count(*) AS n FROM audit_records').get()).toEqual({ n: 2 });
    db.close();
  });

  it('jsonl: a vanished directory makes append throw AuditError, and the log stays refused', async () => {
    sink = jsonlSink();
    const { signer } = testKeys();
    const log = new AuditLog({ store: sink.open(), signer });
    await log.append('sess', 'session.start', {});
    rmSync(join(sink.dir, 'records'), { recursive: true });
    await expect(log.append('other', 'egress', {})).rejects.toBeInstanceOf(AuditError);
    await expect(log.append('other', 'egress', {})).rejects.toThrow(/refusing further appends/);
  });
});

// Every tamper kind from SECURITY.md "Audit", run against both sinks by rewriting the stored
// log directly as an attacker with file access would; verify must name the first bad record.
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createSigner } from '../../src/audit/audit-keys.js';
import {
  checkpointPayload,
  genesisHash,
  recordHash,
  type AuditCheckpoint,
  type AuditRecord,
} from '../../src/audit/audit-record.js';
import { canonicalize } from '../../src/audit/canonical-json.js';
import { verify, type VerifyResult } from '../../src/audit/verify-audit.js';
import { jsonlSink, sqliteSink, testKeys, writeLog, type Sink } from './audit-fixtures.js';

const LOG = 'sess-a';

/** Asserts verification failed first at `seq` of `logId` with a reason containing `text`. */
function expectBad(r: VerifyResult, seq: number, text: string, logId = LOG): void {
  expect(r.ok).toBe(false);
  expect(r.firstBad?.logId).toBe(logId);
  expect(r.firstBad?.seq).toBe(seq);
  expect(r.firstBad?.reason).toContain(text);
}
// 7 appends, checkpoint every 3, closed: r1 r2 r3 cp1(4) r5 r6 r7 cp2(8) r9 cp3(10).
const APPENDS = 7;

describe.each([{ make: sqliteSink }, { make: jsonlSink }])('audit tampering', ({ make }) => {
  let sink: Sink;
  afterEach(() => sink.cleanup());

  async function setup(): Promise<ReturnType<typeof testKeys>> {
    sink = make();
    const keys = testKeys();
    await writeLog(sink.open(), keys.signer, LOG, APPENDS);
    return keys;
  }

  async function check(publicKey: ReturnType<typeof testKeys>['publicKey'], logId?: string) {
    const store = sink.open({ readonly: true });
    try {
      return await verify(store, { publicKey, checkpointEvery: 3, ...(logId ? { logId } : {}) });
    } finally {
      await store.close();
    }
  }

  it(`${make.name}: an untouched log verifies with its records and checkpoints`, async () => {
    const { publicKey } = await setup();
    const r = await check(publicKey);
    expect(r).toMatchObject({ ok: true, records: 10, checkpoints: 3 });
    expect(r.logs[0]?.sealed).toBe(true);
  });

  it(`${make.name}: a modified record is named by its hash mismatch`, async () => {
    const { publicKey } = await setup();
    const a = sink.attacker();
    const lines = a.records(LOG);
    lines[5] = lines[5]!.replace('"i":4', '"i":40');
    a.setRecords(LOG, lines);
    const r = await check(publicKey);
    expect(r.ok).toBe(false);
    expectBad(r, 6, 'hash mismatch', LOG);
  });

  it(`${make.name}: a deleted record shows as a seq gap`, async () => {
    const { publicKey } = await setup();
    const a = sink.attacker();
    const lines = a.records(LOG);
    lines.splice(4, 1);
    a.setRecords(LOG, lines);
    const r = await check(publicKey);
    expectBad(r, 5, 'seq gap');
  });

  it(`${make.name}: reordered records are detected`, async () => {
    const { publicKey } = await setup();
    const a = sink.attacker();
    const lines = a.records(LOG);
    [lines[5], lines[6]] = [lines[6]!, lines[5]!];
    a.setRecords(LOG, lines);
    const r = await check(publicKey);
    expectBad(r, 6, 'seq gap');
  });

  it(`${make.name}: truncation below a checkpoint's seq is detected`, async () => {
    const { publicKey } = await setup();
    const a = sink.attacker();
    a.setRecords(LOG, a.records(LOG).slice(0, 6));
    const r = await check(publicKey);
    expectBad(r, 7, 'truncated');
  });

  it(`${make.name}: truncating only the last checkpoint record is detected`, async () => {
    const { publicKey } = await setup();
    const a = sink.attacker();
    a.setRecords(LOG, a.records(LOG).slice(0, 9));
    const r = await check(publicKey);
    expectBad(r, 10, 'no matching checkpoint record');
  });

  it(`${make.name}: a rolled-back (removed) checkpoint is detected`, async () => {
    const { publicKey } = await setup();
    const a = sink.attacker();
    a.setCheckpoints(LOG, a.checkpoints(LOG).slice(0, 2));
    const r = await check(publicKey);
    expect(r.firstBad?.reason).toContain('rolled back');
  });

  it(`${make.name}: a replayed older checkpoint is detected`, async () => {
    const { publicKey } = await setup();
    const a = sink.attacker();
    const cps = a.checkpoints(LOG);
    a.setCheckpoints(LOG, [cps[0]!, cps[1]!, cps[1]!]);
    const r = await check(publicKey);
    expect(r.firstBad?.reason).toMatch(/checkpoint index 2 where 3 expected/);
  });

  it(`${make.name}: a checkpoint forged with another key is refused`, async () => {
    const { publicKey } = await setup();
    const a = sink.attacker();
    const cps = a.checkpoints(LOG).map((t) => JSON.parse(t) as AuditCheckpoint);
    const forger = createSigner(generateKeyPairSync('ed25519').privateKey);
    const last = cps[2]!;
    const { signature: _s, ...rest } = { ...last, keyId: forger.keyId };
    cps[2] = { ...rest, signature: forger.sign(checkpointPayload(rest)) };
    a.setCheckpoints(
      LOG,
      cps.map((c) => canonicalize(c)),
    );
    const r = await check(publicKey);
    expectBad(r, 9, 'bad signature');
  });

  it(`${make.name}: a chain rewritten with recomputed hashes and re-signed by another key fails`, async () => {
    const { publicKey } = await setup();
    const a = sink.attacker();
    const forger = createSigner(generateKeyPairSync('ed25519').privateKey);
    const records = a.records(LOG).map((t) => JSON.parse(t) as AuditRecord);
    records[1]!.data = { tool: 'Bash', i: 999 };
    let prev = genesisHash(LOG);
    const cps: AuditCheckpoint[] = [];
    for (const rec of records) {
      rec.prevHash = prev;
      if (rec.type === 'checkpoint') {
        const { signature: _s, ...cp } = rec.data as unknown as AuditCheckpoint;
        const forged = { ...cp, headHash: prev, keyId: forger.keyId };
        const signed = { ...forged, signature: forger.sign(checkpointPayload(forged)) };
        rec.data = { ...signed };
        cps.push(signed);
      }
      rec.hash = recordHash(rec);
      prev = rec.hash;
    }
    a.setRecords(
      LOG,
      records.map((r) => canonicalize(r)),
    );
    a.setCheckpoints(
      LOG,
      cps.map((c) => canonicalize(c)),
    );
    const r = await check(publicKey);
    expectBad(r, 4, 'forged');
  });

  it(`${make.name}: a log copied into another session is detected, relabelled or not`, async () => {
    const { publicKey } = await setup();
    const a = sink.attacker();
    a.setRecords('sess-b', a.records(LOG));
    a.setCheckpoints('sess-b', a.checkpoints(LOG));
    let r = await check(publicKey, 'sess-b');
    expectBad(r, 1, 'copied', 'sess-b');

    // Relabelled: every logId rewritten and every hash recomputed; the genesis still binds.
    const relabelled = a.records(LOG).map((t) => {
      const rec = JSON.parse(t) as AuditRecord;
      rec.logId = 'sess-c';
      rec.hash = recordHash(rec);
      return canonicalize(rec);
    });
    a.setRecords('sess-c', relabelled);
    r = await check(publicKey, 'sess-c');
    expectBad(r, 1, 'genesis', 'sess-c');
  });

  it(`${make.name}: removing every checkpoint leaves an unsigned run that fails`, async () => {
    const { publicKey } = await setup();
    const a = sink.attacker();
    const kept = a
      .records(LOG)
      .map((t) => JSON.parse(t) as AuditRecord)
      .filter((rec) => rec.type !== 'checkpoint');
    let prev = genesisHash(LOG);
    kept.forEach((rec, i) => {
      rec.seq = i + 1;
      rec.prevHash = prev;
      rec.hash = recordHash(rec);
      prev = rec.hash;
    });
    a.setRecords(
      LOG,
      kept.map((rec) => canonicalize(rec)),
    );
    a.setCheckpoints(LOG, []);
    const r = await check(publicKey);
    expectBad(r, 4, 'without a checkpoint');
  });

  it(`${make.name}: a finished session without its final checkpoint fails`, async () => {
    sink = make();
    const keys = testKeys();
    await writeLog(sink.open(), keys.signer, LOG, 2, { finish: true });
    const a = sink.attacker();
    // r1 r2 session.end(3) cp1(4): drop the seal and its stored checkpoint.
    a.setRecords(LOG, a.records(LOG).slice(0, 3));
    a.setCheckpoints(LOG, []);
    const r = await check(keys.publicKey);
    expectBad(r, 3, 'not sealed');
  });

  it(`${make.name}: whitespace added to a stored record is detected`, async () => {
    const { publicKey } = await setup();
    const a = sink.attacker();
    const lines = a.records(LOG);
    lines[1] = lines[1]!.replace('{', '{ ');
    a.setRecords(LOG, lines);
    const r = await check(publicKey);
    expectBad(r, 2, 'canonical');
  });
});

// Key management (generated once, 0600, refused when loose), canonical JSON, and the
// `ringfence audit verify` command end to end on a real data dir: exit 0, then 1 after tampering.
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { registerAuditCommand } from '../../src/cli/audit-command.js';
import {
  AUDIT_PRIVATE_KEY_FILE,
  AUDIT_PUBLIC_KEY_FILE,
  loadOrCreateAuditKeys,
} from '../../src/audit/audit-keys.js';
import { canonicalize, hashInput } from '../../src/audit/canonical-json.js';
import { openAuditLog } from '../../src/audit/open-audit.js';
import { AuditError } from '../../src/errors.js';
import { sqliteSink, tempDir, type Sink } from './audit-fixtures.js';

describe('canonical JSON', () => {
  it('sorts keys at every depth, drops undefined and has no whitespace', () => {
    expect(canonicalize({ b: 1, a: { d: [1, 'x'], c: null }, u: undefined })).toBe(
      '{"a":{"c":null,"d":[1,"x"]},"b":1}',
    );
  });
  it('hashes equal objects equally whatever their key order', () => {
    expect(hashInput({ a: 1, b: 2 })).toBe(hashInput({ b: 2, a: 1 }));
    expect(hashInput('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
  it('refuses values JSON cannot represent', () => {
    expect(() => canonicalize({ d: new Date() })).toThrow(AuditError);
    expect(() => canonicalize({ n: Infinity })).toThrow(AuditError);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(() => canonicalize(cyclic)).toThrow(AuditError);
  });
});

describe('audit keys', () => {
  it('generates the key pair once with a 0600 private key and reuses it', () => {
    const dir = tempDir('audit-keys');
    const first = loadOrCreateAuditKeys(dir);
    expect(statSync(join(dir, AUDIT_PRIVATE_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, AUDIT_PUBLIC_KEY_FILE), 'utf8')).toBe(first.publicKeyPem);
    expect(loadOrCreateAuditKeys(dir).keyId).toBe(first.keyId);
  });
  it('refuses a private key readable by group or others', () => {
    const dir = tempDir('audit-keys');
    loadOrCreateAuditKeys(dir);
    chmodSync(join(dir, AUDIT_PRIVATE_KEY_FILE), 0o644);
    expect(() => loadOrCreateAuditKeys(dir)).toThrow(/chmod 600/);
  });
});

describe('ringfence audit verify', () => {
  let sink: Sink;
  let out: string[];
  beforeEach(() => {
    out = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
    sink.cleanup();
  });

  async function run(...args: string[]): Promise<number> {
    const program = new Command().exitOverride();
    registerAuditCommand(program);
    process.exitCode = undefined;
    await program.parseAsync(['node', 'ringfence', 'audit', 'verify', ...args]);
    return Number(process.exitCode ?? 0);
  }

  it('exits 0 on an intact log and 1 naming the first bad record after tampering', async () => {
    sink = sqliteSink();
    const { log } = openAuditLog({ dataDir: sink.dir, checkpointEvery: 2 });
    await log.append('sess-1', 'session.start', { prompt: 'p' });
    await log.append('sess-1', 'tool.intent', { tool: 'Bash' });
    await log.append('sess-1', 'tool.result', { exit: 0 });
    await log.finishSession('sess-1');
    await log.close();

    // start, intent, cp(3), result, session.end, cp(6)
    expect(await run('--data-dir', sink.dir, '--checkpoint-every', '2')).toBe(0);
    expect(out.join('')).toMatch(/^audit OK: 1 log\(s\), 6 record\(s\), 2 checkpoint\(s\)/);

    const a = sink.attacker();
    const lines = a.records('sess-1');
    lines[1] = lines[1]!.replace('Bash', 'Read');
    a.setRecords('sess-1', lines);
    out = [];
    expect(
      await run('--data-dir', sink.dir, '--session', 'sess-1', '--checkpoint-every', '2'),
    ).toBe(1);
    expect(out.join('')).toContain('audit FAILED: log sess-1, record 2: hash mismatch');
  });

  it('exits 1 when asked for a session that has no records', async () => {
    sink = sqliteSink();
    const { log } = openAuditLog({ dataDir: sink.dir });
    await log.append('sess-1', 'session.start', {});
    await log.close();
    expect(await run('--data-dir', sink.dir, '--session', 'nope')).toBe(1);
  });
});

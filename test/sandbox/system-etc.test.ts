// The sandbox's /etc prepared once per host state (system-etc.ts): what it holds, when it is made
// again, and that a policy mounting under /etc still gets its mount (entry-by-entry layout).
import { afterAll, describe, expect, it } from 'vitest';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BubblewrapDriver } from '../../src/sandbox/bubblewrap/bubblewrap-driver.js';
import { GROUP, HOSTS, PASSWD } from '../../src/sandbox/bubblewrap/bwrap-args.js';
import { systemEtc } from '../../src/sandbox/bubblewrap/system-etc.js';
import { policySchema } from '../../src/policy/policy-schema.js';
import { missingBubblewrap, missingRoot, reportSkip } from '../helpers/capabilities.js';

const dirs: string[] = [];
const temp = (prefix: string): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A stand-in for the host's /etc with a few of the entries the sandbox gets. */
function fakeHostEtc(): string {
  const etc = temp('rf-host-etc-');
  writeFileSync(join(etc, 'ld.so.conf'), 'include /etc/ld.so.conf.d/*.conf\n');
  mkdirSync(join(etc, 'ssl', 'certs'), { recursive: true });
  writeFileSync(join(etc, 'ssl', 'certs', 'ca-certificates.crt'), 'CERTS v1\n');
  symlinkSync('/usr/share/ca-certificates/x.crt', join(etc, 'ssl', 'certs', 'x.pem'));
  symlinkSync('/usr/share/zoneinfo/Etc/UTC', join(etc, 'localtime'));
  writeFileSync(join(etc, 'shadow'), 'root:secret\n'); // never to be copied
  return etc;
}

describe('the prepared /etc', () => {
  it("holds the listed entries (links as links), ringfence's passwd, group and hosts, nothing else", () => {
    const host = fakeHostEtc();
    const made = systemEtc(temp('rf-system-'), host)!;
    expect(made).toBeDefined();
    expect(statSync(made).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(made, 'passwd'), 'utf8')).toBe(PASSWD);
    expect(readFileSync(join(made, 'group'), 'utf8')).toBe(GROUP);
    expect(readFileSync(join(made, 'hosts'), 'utf8')).toBe(HOSTS);
    expect(readFileSync(join(made, 'ld.so.conf'), 'utf8')).toContain('ld.so.conf.d');
    expect(readFileSync(join(made, 'ssl', 'certs', 'ca-certificates.crt'), 'utf8')).toBe(
      'CERTS v1\n',
    );
    expect(readlinkSync(join(made, 'ssl', 'certs', 'x.pem'))).toBe(
      '/usr/share/ca-certificates/x.crt',
    );
    expect(lstatSync(join(made, 'localtime')).isSymbolicLink()).toBe(true);
    expect(() => lstatSync(join(made, 'shadow'))).toThrow();
    // The CA bundle's mount point exists (a read-only bind cannot get a new one).
    expect(readFileSync(join(made, 'ringfence', 'ca-bundle.pem'), 'utf8')).toBe('');
  });

  it('is reused while the host entries stay the same and made again when one changes', () => {
    const host = fakeHostEtc();
    const base = temp('rf-system-');
    const first = systemEtc(base, host)!;
    expect(systemEtc(base, host)).toBe(first);
    writeFileSync(join(host, 'ssl', 'certs', 'ca-certificates.crt'), 'CERTS v2, longer\n');
    // The directory's entry changed (a rewritten bundle is a new file): a new copy.
    rmSync(join(host, 'ssl', 'certs', 'x.pem'));
    const second = systemEtc(base, host)!;
    expect(second).not.toBe(first);
    expect(readFileSync(join(second, 'ssl', 'certs', 'ca-certificates.crt'), 'utf8')).toBe(
      'CERTS v2, longer\n',
    );
    // The older copy stays for sandboxes that may still have it bound.
    expect(readFileSync(join(first, 'ssl', 'certs', 'ca-certificates.crt'), 'utf8')).toBe(
      'CERTS v1\n',
    );
  });

  it('is not made where it cannot be (the caller then binds entry by entry)', () => {
    const file = join(temp('rf-system-'), 'a-file');
    writeFileSync(file, '');
    expect(systemEtc(join(file, 'below'), fakeHostEtc())).toBeUndefined();
  });
});

describe.skipIf(reportSkip('prepared /etc in a sandbox', missingBubblewrap() ?? missingRoot()))(
  'a sandbox on the prepared /etc',
  () => {
    const driver = new BubblewrapDriver({ prespawn: 0 });
    afterAll(() => driver.close());

    it('sees a read-only /etc with ringfence users; a policy mount under /etc still works', async () => {
      const plain = await driver.create({
        workspace: temp('rf-ws-'),
        policy: policySchema.parse({}),
      });
      const r = await plain.exec([
        'sh',
        '-c',
        'id -un; test -e /etc/shadow || echo no-shadow; touch /etc/x 2>/dev/null || echo ro',
      ]);
      await plain.destroy();
      expect(r.stdout).toBe('agent\nno-shadow\nro\n');

      const extraDir = temp('rf-etc-extra-');
      chmodSync(extraDir, 0o755); // bwrap runs as the sandbox's unprivileged host uid
      const hostFile = join(extraDir, 'extra.conf');
      writeFileSync(hostFile, 'extra config\n');
      const withMount = await driver.create({
        workspace: temp('rf-ws-'),
        policy: policySchema.parse({}),
        extraReadOnly: [{ host: hostFile, sandbox: '/etc/extra.conf' }],
      });
      const m = await withMount.exec(['sh', '-c', 'cat /etc/extra.conf; id -un']);
      await withMount.destroy();
      expect(m.stdout).toBe('extra config\nagent\n');
    });
  },
);

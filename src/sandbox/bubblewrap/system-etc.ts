// The sandbox's /etc prepared once per state of the host: copies of the few host /etc entries
// programs need (symlinks stay symlinks) plus ringfence's own passwd, group and hosts, in one
// root-owned directory that bwrap binds read-only at /etc with a single mount. Bound entry by
// entry (a bind, a read-only remount and a read of /proc/self/mountinfo each) the same /etc cost
// bwrap ~1.2 ms per sandbox. The directory's name hashes what it was made from (the sources'
// lstat and ringfence's files), so a changed host entry gets a fresh copy on the next sandbox.
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { ETC_READ_ONLY, GROUP, HOSTS, PASSWD } from './bwrap-args.js';

/** Mount points kept inside the prepared /etc (a read-only bind cannot get new ones). */
export const ETC_MOUNT_POINTS = ['/etc/ringfence/ca-bundle.pem'];
/** Older copies are removed after this long (a sandbox still using one keeps it until then). */
const STALE_AFTER_MS = 7 * 24 * 3600 * 1000;

/** 64-bit FNV-1a, hex: a name for the inputs, not a security boundary (the dir is root's). */
function fnv64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

/** The host entries copied, as paths under `hostEtc` (always /etc but in tests). */
const sources = (hostEtc: string): string[] =>
  ETC_READ_ONLY.map((p) => join(hostEtc, p.slice('/etc/'.length)));

/** What the copy is made from: each source's identity and ringfence's own files. */
function manifest(hostEtc: string): string {
  const parts = [PASSWD, GROUP, HOSTS, ...ETC_MOUNT_POINTS];
  for (const path of sources(hostEtc)) {
    try {
      const st = lstatSync(path);
      parts.push(`${path}:${st.ino}:${st.size}:${st.mtimeMs}:${st.mode}`);
    } catch {
      parts.push(`${path}:absent`);
    }
  }
  return parts.join('\n');
}

function build(target: string, base: string, hostEtc: string): void {
  const tmp = mkdtempSync(join(base, '.etc-'));
  try {
    for (const path of sources(hostEtc)) {
      if (!present(path)) continue;
      const dest = join(tmp, path.slice(hostEtc.length + 1));
      mkdirSync(dirname(dest), { recursive: true, mode: 0o755 });
      cpSync(path, dest, { recursive: true, verbatimSymlinks: true, dereference: false });
    }
    writeFileSync(join(tmp, 'passwd'), PASSWD, { mode: 0o644 });
    writeFileSync(join(tmp, 'group'), GROUP, { mode: 0o644 });
    writeFileSync(join(tmp, 'hosts'), HOSTS, { mode: 0o644 });
    for (const point of ETC_MOUNT_POINTS) {
      const dest = join(tmp, point.slice('/etc/'.length));
      mkdirSync(dirname(dest), { recursive: true, mode: 0o755 });
      writeFileSync(dest, '', { mode: 0o644 });
    }
    // mkdtemp made it 0700: bwrap runs as the sandbox's unprivileged host uid.
    chmodSync(tmp, 0o755);
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    // Another process made the same copy first: use theirs.
    if (existsSync(target)) return;
    throw err;
  }
}

/** The entry itself exists (a dangling symlink too: it is copied as the link it is). */
function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The prepared /etc under `base` (made or refreshed when needed), or undefined when it cannot be
 * made (bwrap then binds the entries one by one, as before).
 */
export function systemEtc(base: string, hostEtc = '/etc'): string | undefined {
  const target = join(base, `etc-${fnv64(manifest(hostEtc))}`);
  if (existsSync(target)) return target;
  try {
    mkdirSync(base, { recursive: true, mode: 0o711 });
    build(target, base, hostEtc);
    removeStale(base, target);
    return target;
  } catch {
    return undefined;
  }
}

/** Removes copies of older host states, once no sandbox can still be using them. */
function removeStale(base: string, keep: string): void {
  const now = Date.now();
  for (const name of readdirSync(base)) {
    const path = join(base, name);
    if (!name.startsWith('etc-') || path === keep) continue;
    try {
      if (now - statSync(path).mtimeMs > STALE_AFTER_MS)
        rmSync(path, { recursive: true, force: true });
    } catch {
      // gone already
    }
  }
}

// Runs a hot command from its single-file bundle (dist/cli/<command>.cjs) with a V8 code cache:
// no module resolution, one file read, no compilation (Node 20 has no compile cache of its own).
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { commandName } from './command-name.js';

/** Commands built as bundles by scripts/copy-assets.mjs, each from src/cli/<command>-main.ts. */
export const BUNDLED_COMMANDS: readonly string[] = ['sandbox'];

/** First line of every bundle, followed by a hash of the rest: the key of its code cache. */
export const BUNDLE_BANNER = '// ringfence bundle ';

/** The CommonJS wrapper; on the bundle's first line, so line numbers in stack traces hold. */
const WRAPPER_HEAD = '(function (exports, require, module, __filename, __dirname) {';
const WRAPPER_TAIL = '\n})';

type CommonJsBody = (
  exports: unknown,
  require: NodeJS.Require,
  module: { exports: unknown },
  filename: string,
  dirname: string,
) => void;

/**
 * Where code caches are kept: next to the bundle, else (a read-only install) in the user's cache
 * directory. Never a shared directory such as /tmp: a cache is compiled code this process runs.
 */
function cacheDirs(bundle: string): string[] {
  const userCache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return [join(dirname(bundle), '.cache'), join(userCache, 'ringfence')];
}

/**
 * Reads a cache file that only this user (root included) could have written: it is compiled code
 * this process will run, and the user's cache directory may belong to someone else (sudo keeps
 * HOME). Checked on the open descriptor, so the file read is the file checked.
 */
function readCache(dirs: readonly string[], name: string): Buffer | undefined {
  const euid = process.geteuid?.();
  for (const dir of dirs) {
    let fd: number | undefined;
    try {
      fd = openSync(join(dir, name), 'r');
      const stat = fstatSync(fd);
      if (euid !== undefined && (stat.uid !== euid || (stat.mode & 0o022) !== 0)) continue;
      return readFileSync(fd);
    } catch {
      // not cached there
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return undefined;
}

/** Writes atomically (a concurrent reader sees the old file or the new one) in the first dir that takes it. */
function writeCache(dirs: readonly string[], name: string, data: Buffer): void {
  for (const dir of dirs) {
    const tmp = join(dir, `${name}.${process.pid}.tmp`);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      writeFileSync(tmp, data, { mode: 0o644 });
      renameSync(tmp, join(dir, name));
      return;
    } catch {
      // not writable: try the next one (no cache at all only costs start-up time)
    }
  }
}

/**
 * Runs a CommonJS bundle in this context through a V8 code cache. The cache is keyed by the
 * bundle's hash (its banner), the Node version and the architecture; V8 also refuses a cache
 * made with other flags. A missing or refused cache is written when the process exits, so it
 * holds every function the run compiled, not only the top level.
 */
export function runWithCodeCache(bundle: string, source: string): void {
  const hash = source.startsWith(BUNDLE_BANNER)
    ? source.slice(BUNDLE_BANNER.length, source.indexOf('\n')).trim()
    : '';
  const dirs = cacheDirs(bundle);
  const cacheName = /^[0-9a-f]{8,}$/.test(hash)
    ? `${hash.slice(0, 16)}-${process.version}-${process.arch}.v8`
    : undefined;
  const cachedData = cacheName ? readCache(dirs, cacheName) : undefined;
  const script = new Script(`${WRAPPER_HEAD}${source}${WRAPPER_TAIL}`, {
    filename: bundle,
    ...(cachedData ? { cachedData } : {}),
  });
  if (cacheName && (!cachedData || script.cachedDataRejected)) {
    process.once('exit', () => writeCache(dirs, cacheName, script.createCachedData()));
  }
  const body = script.runInThisContext() as CommonJsBody;
  const module = { exports: {} };
  body(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
}

/**
 * Runs the command named on the command line from its bundle in `cliDir`, when it has one.
 * @returns false when the command is not bundled (or its bundle is missing): load the ES entry.
 * @example if (!runBundledCommand(process.argv, distCli)) await import(mainJs);
 */
export function runBundledCommand(argv: readonly string[], cliDir: string): boolean {
  const name = commandName(argv.slice(2));
  if (name === undefined || !BUNDLED_COMMANDS.includes(name)) return false;
  const bundle = join(cliDir, `${name}.cjs`);
  if (!existsSync(bundle)) return false;
  // A command's prestart bundle (`sandbox`: its sandbox's stub, src/cli/sandbox-prestart.ts) runs
  // first, so what it starts overlaps the reading and compiling of the command's own bundle.
  const prestart = join(cliDir, `${name}-prestart.cjs`);
  if (existsSync(prestart)) runWithCodeCache(prestart, readFileSync(prestart, 'latin1'));
  // esbuild writes ASCII (non-ASCII escaped): read as latin1, no UTF-8 decoding of ~350 KiB.
  runWithCodeCache(bundle, readFileSync(bundle, 'latin1'));
  return true;
}

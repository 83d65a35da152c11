// The CLI as a whole process: exit codes, streamed output, config errors as path: message; the
// bundled `sandbox` command and its code cache; the start-up shortcuts (built-in config, flags).
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingBubblewrap, reportSkip } from './helpers/capabilities.js';
import { BUNDLE_BANNER, runBundledCommand } from '../src/cli/bundle-loader.js';
import { applyOverrides } from '../src/cli/sandbox-command.js';
import { BUILTIN_CONFIG } from '../src/config/builtin-config.js';
import { prevalidateBuiltinConfig, validateConfig } from '../src/config/load-config.js';
import { prevalidatedBuiltinConfig, resolveTier } from '../src/config/resolve-tier.js';
import { defaultPolicy } from '../src/policy/policy-schema.js';
import { ConfigError } from '../src/errors.js';

const cli = (args: string[], input?: string) =>
  spawnSync(process.execPath, ['bin/ringfence.cjs', ...args], {
    encoding: 'utf8',
    input,
    env: { ...process.env, RINGFENCE_FROM_SOURCE: '1' },
  });

describe('ringfence config check', () => {
  it('prints the resolved tier', () => {
    const r = cli(['config', 'check', '--config', 'examples/ringfence.yaml', '--env', 'staging']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'staging', policyName: 'registry-access' });
  });
  it('exits 2 and prints path: message for every error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rf-cfg-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'tiers: { dev: { model: { provider: scripted, model: m }, logLevel: loud, policy: { network: { allow: ["*"] } } } }',
    );
    const r = cli(['config', 'check', '--config', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('tiers.dev.logLevel: ');
    expect(r.stderr).toContain('tiers.dev.policy.network.allow.0: "*" would allow every host');
  });
});

describe.skipIf(reportSkip('sandbox exec CLI', missingBubblewrap()))(
  'ringfence sandbox exec',
  () => {
    it('streams output and exits with the command exit code', () => {
      const r = cli(['sandbox', 'exec', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
      expect(r.status).toBe(7);
      expect(r.stdout).toBe('out\n');
      expect(r.stderr).toContain('err');
    });
    it('passes stdin and mounts a workspace', () => {
      const ws = mkdtempSync(join(tmpdir(), 'rf-cli-ws-'));
      writeFileSync(join(ws, 'f.txt'), 'in workspace');
      const r = cli(
        ['sandbox', 'exec', '--workspace', ws, '--', 'sh', '-c', 'cat f.txt; cat -'],
        'from stdin',
      );
      expect(r.status).toBe(0);
      expect(r.stdout).toBe('in workspacefrom stdin');
    });
    it('reports a limit that fires', () => {
      const r = cli(['sandbox', 'exec', '--timeout', '1', '--', 'sleep', '30']);
      expect(r.status).toBe(137);
      expect(r.stderr).toContain('ringfence: timeout');
    });
  },
);

/** Temporary directories of the tests below, removed when the file is done. */
const made: string[] = [];
const tempDir = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A CommonJS "bundle" that reports what it was given and exits 3. */
const PROBE_BUNDLE = `process.stdout.write(JSON.stringify({
  dirname: __dirname,
  filename: __filename,
  args: process.argv.slice(2),
  require: typeof require('node:path').join,
  exports: module.exports === exports,
}));
process.exitCode = 3;
`;

/** Runs `ringfence <args>` through runBundledCommand with `dir` as the bundles' directory. */
function runBundled(dir: string, args: string[]) {
  const script = `import { runBundledCommand } from './src/cli/bundle-loader.ts';
if (!runBundledCommand(process.argv, ${JSON.stringify(dir)})) process.stdout.write('not bundled');`;
  return spawnSync(
    process.execPath,
    // With -e there is no script path in argv: 'ringfence' stands in for it.
    ['--import', 'tsx', '--input-type=module', '-e', script, '--', 'ringfence', ...args],
    { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: join(dir, 'user-cache') } },
  );
}

function probeDir(banner: string): string {
  const dir = tempDir('rf-bundle-');
  writeFileSync(join(dir, 'sandbox.cjs'), `${banner}\n${PROBE_BUNDLE}`);
  return dir;
}

const cacheFiles = (dir: string): string[] =>
  existsSync(join(dir, '.cache')) ? readdirSync(join(dir, '.cache')) : [];

describe('bundled commands (bundle-loader)', () => {
  it('runs the bundle of the named command as CommonJS, with its arguments and exit code', () => {
    const dir = probeDir(`${BUNDLE_BANNER}0123456789abcdef0123`);
    const r = runBundled(dir, ['--env', 'dev', 'sandbox', 'exec', '--', 'true']);
    expect(r.status).toBe(3);
    expect(JSON.parse(r.stdout)).toEqual({
      dirname: dir,
      filename: join(dir, 'sandbox.cjs'),
      args: ['--env', 'dev', 'sandbox', 'exec', '--', 'true'],
      require: 'function',
      exports: true,
    });
  });

  it("runs the command's prestart bundle first, when there is one", () => {
    const dir = probeDir(`${BUNDLE_BANNER}0123456789abcdef0123`);
    writeFileSync(
      join(dir, 'sandbox-prestart.cjs'),
      `${BUNDLE_BANNER}fedcba98765432100123\nglobalThis.prestarted = __filename;\n`,
    );
    writeFileSync(
      join(dir, 'sandbox.cjs'),
      `${BUNDLE_BANNER}0123456789abcdef0123\nprocess.stdout.write(String(globalThis.prestarted));\n`,
    );
    const r = runBundled(dir, ['sandbox', 'exec', '--', 'true']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(join(dir, 'sandbox-prestart.cjs'));
  });

  it('leaves commands without a bundle, or with a missing one, to the ES module entry', () => {
    const dir = probeDir(`${BUNDLE_BANNER}0123456789abcdef0123`);
    expect(runBundledCommand(['node', 'ringfence', 'config', 'check'], dir)).toBe(false);
    expect(runBundledCommand(['node', 'ringfence', '--env', 'sandbox', 'run'], dir)).toBe(false);
    expect(runBundledCommand(['node', 'ringfence', 'sandbox'], join(dir, 'nowhere'))).toBe(false);
  });

  it('writes a code cache on the first run, keeps it when V8 accepts it, replaces a bad one', () => {
    const dir = probeDir(`${BUNDLE_BANNER}0123456789abcdef0123`);
    expect(runBundled(dir, ['sandbox']).status).toBe(3);
    const [name] = cacheFiles(dir);
    expect(name).toBe(`0123456789abcdef-${process.version}-${process.arch}.v8`);
    const file = join(dir, '.cache', name!);
    const mtime = statSync(file).mtimeMs;

    expect(runBundled(dir, ['sandbox']).status).toBe(3);
    expect(statSync(file).mtimeMs).toBe(mtime); // accepted: not rewritten

    writeFileSync(file, 'not a code cache');
    const r = runBundled(dir, ['sandbox']);
    expect(r.status).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ args: ['sandbox'] });
    expect(readFileSync(file, 'utf8')).not.toBe('not a code cache');
    expect(cacheFiles(dir)).toEqual([name]); // no temporary file left
    const replaced = statSync(file).mtimeMs;
    expect(runBundled(dir, ['sandbox']).status).toBe(3);
    expect(statSync(file).mtimeMs).toBe(replaced); // the replacement is accepted
  });

  it('does not trust a cache file that others could have written', () => {
    const dir = probeDir(`${BUNDLE_BANNER}0123456789abcdef0123`);
    runBundled(dir, ['sandbox']);
    const file = join(dir, '.cache', cacheFiles(dir)[0]!);
    chmodSync(file, 0o666);
    const mtime = statSync(file).mtimeMs;
    expect(runBundled(dir, ['sandbox']).status).toBe(3);
    expect(statSync(file).mtimeMs).not.toBe(mtime); // refused, so compiled again and replaced
    expect(statSync(file).mode & 0o022).toBe(0);
  });

  it('keys the cache by the bundle hash: a rebuilt bundle does not use the old cache', () => {
    const dir = probeDir(`${BUNDLE_BANNER}aaaaaaaaaaaaaaaa`);
    runBundled(dir, ['sandbox']);
    writeFileSync(join(dir, 'sandbox.cjs'), `${BUNDLE_BANNER}bbbbbbbbbbbbbbbb\n${PROBE_BUNDLE}`);
    expect(runBundled(dir, ['sandbox']).status).toBe(3);
    expect(cacheFiles(dir).sort()).toEqual([
      `aaaaaaaaaaaaaaaa-${process.version}-${process.arch}.v8`,
      `bbbbbbbbbbbbbbbb-${process.version}-${process.arch}.v8`,
    ]);
  });

  it('runs a bundle without a banner, uncached', () => {
    const dir = probeDir('// no banner');
    expect(runBundled(dir, ['sandbox']).status).toBe(3);
    expect(cacheFiles(dir)).toEqual([]);
  });

  it("falls back to the user's cache directory when the bundle's is not writable", () => {
    const dir = probeDir(`${BUNDLE_BANNER}0123456789abcdef0123`);
    writeFileSync(join(dir, '.cache'), 'a file where the directory would go');
    expect(runBundled(dir, ['sandbox']).status).toBe(3);
    expect(readdirSync(join(dir, 'user-cache', 'ringfence'))).toEqual([
      `0123456789abcdef-${process.version}-${process.arch}.v8`,
    ]);
  });
});

describe('start-up shortcuts', () => {
  it('the built-in config validated at build time is the one validated at run time', () => {
    const dir = tempDir('rf-builtin-');
    const file = join(dir, 'builtin-config.json');
    writeFileSync(file, JSON.stringify(prevalidateBuiltinConfig()));
    const fresh = validateConfig(BUILTIN_CONFIG);
    expect(prevalidatedBuiltinConfig(file)).toStrictEqual(fresh);
    expect(resolveTier(prevalidatedBuiltinConfig(file)!, 'dev')).toStrictEqual(
      resolveTier(fresh, 'dev'),
    );
  });

  it('a missing, unreadable or stale prevalidated config is not used', () => {
    const dir = tempDir('rf-builtin-');
    expect(prevalidatedBuiltinConfig(join(dir, 'missing.json'))).toBeUndefined();
    writeFileSync(join(dir, 'bad.json'), '{ not json');
    expect(prevalidatedBuiltinConfig(join(dir, 'bad.json'))).toBeUndefined();
    const stale = { ...prevalidateBuiltinConfig(), input: { ...BUILTIN_CONFIG, version: 0 } };
    writeFileSync(join(dir, 'stale.json'), JSON.stringify(stale));
    expect(prevalidatedBuiltinConfig(join(dir, 'stale.json'))).toBeUndefined();
  });

  it('applyOverrides keeps a validated policy as it is and validates every override', async () => {
    const policy = defaultPolicy();
    expect(await applyOverrides(policy, { allow: [], resolve: [] })).toBe(policy);
    const raised = await applyOverrides(policy, {
      memory: '512',
      allow: ['example.com'],
      resolve: [],
    });
    expect(raised.limits.memoryMb).toBe(512);
    expect(raised.network.allow).toEqual(['example.com']);
    expect(policy.network.allow).toEqual([]);
    await expect(applyOverrides(policy, { memory: '1', allow: [], resolve: [] })).rejects.toThrow(
      ConfigError,
    );
    await expect(applyOverrides(policy, { allow: ['*'], resolve: [] })).rejects.toThrow(
      ConfigError,
    );
  });
});

const bundle = join('dist', 'cli', 'sandbox.cjs');
describe.skipIf(
  reportSkip(
    'built sandbox command',
    missingBubblewrap() ?? (existsSync(bundle) ? undefined : `${bundle} not built (npm run build)`),
  ),
)('ringfence sandbox exec from the build (bundle + code cache)', () => {
  const built = (args: string[], cacheHome: string) => {
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cacheHome };
    delete env.RINGFENCE_FROM_SOURCE;
    return spawnSync(process.execPath, ['bin/ringfence.cjs', ...args], { encoding: 'utf8', env });
  };

  it('streams output and exits with the command exit code, run after run', () => {
    const cacheHome = tempDir('rf-cache-');
    for (let i = 0; i < 2; i++) {
      const r = built(
        ['sandbox', 'exec', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7'],
        cacheHome,
      );
      expect(r.status).toBe(7);
      expect(r.stdout).toBe('out\n');
      expect(r.stderr).toContain('err');
    }
  });

  it('reports bad flags as path: message with exit 2', () => {
    const r = built(['sandbox', 'exec', '--allow', '*', '--', 'true'], tmpdir());
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('network.allow.0: "*" would allow every host');
  });
});

// Finishes `npm run build` after tsc: copies the non-TypeScript files the compiled code loads at
// run time (the in-sandbox Python programs) next to it in dist/, saves the built-in config
// validated, bundles the hot commands (`ringfence sandbox`: dist/cli/sandbox.cjs, see
// src/cli/bundle-loader.ts), then stamps the build.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

function* assets(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* assets(path);
    else if (entry.name.endsWith('.py')) yield path;
  }
}

for (const file of assets('src')) {
  const target = join('dist', relative('src', file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
}

// The built-in config validated once here, so a command run without a config file needs no zod.
const { prevalidateBuiltinConfig } = await import(
  pathToFileURL(resolve('dist', 'config', 'load-config.js')).href
);
const { PREVALIDATED_BUILTIN_PATH } = await import(
  pathToFileURL(resolve('dist', 'config', 'resolve-tier.js')).href
);
writeFileSync(PREVALIDATED_BUILTIN_PATH, `${JSON.stringify(prevalidateBuiltinConfig())}\n`);

/**
 * Packages inlined into a bundle: the ones every run of the command executes. Any other package
 * stays a `require()` of node_modules, made only when the code reaching it runs (node-forge for
 * egress with secrets, yaml for a config file), so it must have a CommonJS entry.
 */
const INLINED_PACKAGES = new Set(['commander']);

const srcDir = resolve('src');
const cliDir = resolve('dist', 'cli');

/**
 * `import.meta.url` of a source file becomes the URL of its compiled twin in dist/, computed
 * from the bundle's own directory (dist/cli), so assets found next to modules (supervisor.py,
 * mounter.py, build/rf-supervisor) resolve exactly as they do for the ES modules.
 */
const metaUrlPlugin = {
  name: 'import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      const rel = relative(cliDir, join('dist', relative(srcDir, args.path))).replace(
        /\.ts$/,
        '.js',
      );
      const url = `require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(rel)})).href`;
      const text = readFileSync(args.path, 'utf8').replaceAll('import.meta.url', url);
      return { contents: text, loader: 'ts' };
    });
  },
};

/** Leaves every package but INLINED_PACKAGES to `require()`, and checks that each one can be. */
const externalsPlugin = (seen) => ({
  name: 'externals',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { external: true };
      const pkg = args.path.startsWith('@')
        ? args.path.split('/').slice(0, 2).join('/')
        : args.path.split('/')[0];
      if (INLINED_PACKAGES.has(pkg)) return undefined;
      seen.add(args.path);
      return { external: true };
    });
  },
});

const { BUNDLED_COMMANDS, BUNDLE_BANNER } = await import(
  pathToFileURL(join(cliDir, 'bundle-loader.js')).href
);
rmSync(join(cliDir, '.cache'), { recursive: true, force: true });
/** Bundles src/cli/<entry>.ts into dist/cli/<out>.cjs, banner and hash first (bundle-loader.ts). */
async function bundle(entry, out) {
  const externals = new Set();
  const result = await build({
    entryPoints: [join(srcDir, 'cli', `${entry}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Class names stay as written: errors carry `name = new.target.name`.
    keepNames: true,
    write: false,
    metafile: true,
    outfile: join(cliDir, `${out}.cjs`),
    plugins: [metaUrlPlugin, externalsPlugin(externals)],
    logLevel: 'silent',
  });
  const problems = [...result.errors, ...result.warnings].map((m) => m.text);
  // The bundle runs in a vm.Script without a dynamic-import hook: no import() may remain.
  for (const output of Object.values(result.metafile.outputs)) {
    for (const imp of output.imports) {
      if (imp.kind === 'dynamic-import') problems.push(`import(${imp.path}) left in the bundle`);
    }
  }
  const requireFromSrc = createRequire(join(srcDir, 'cli', 'x.js'));
  for (const name of externals) {
    try {
      requireFromSrc.resolve(name);
    } catch {
      problems.push(`${name} has no CommonJS entry`);
    }
  }
  if (problems.length) throw new Error(`bundle of ${entry}: ${problems.join('; ')}`);
  const code = result.outputFiles[0].text;
  const hash = createHash('sha256').update(code).digest('hex');
  writeFileSync(join(cliDir, `${out}.cjs`), `${BUNDLE_BANNER}${hash}\n${code}`);
}

for (const command of BUNDLED_COMMANDS) {
  await bundle(`${command}-main`, command);
  // What the command starts before its bundle is even read (see bundle-loader.ts).
  if (existsSync(join(srcDir, 'cli', `${command}-prestart.ts`)))
    await bundle(`${command}-prestart`, `${command}-prestart`);
}

// The bundle loader as CommonJS too, for bin/ringfence.cjs: the hot path never starts the ES
// module loader.
await build({
  entryPoints: [join(srcDir, 'cli', 'bundle-loader.ts')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile: join(cliDir, 'bundle-loader.cjs'),
  logLevel: 'warning',
});

writeFileSync('dist/.stamp', `${new Date().toISOString()}\n`);

#!/usr/bin/env node
// Entry point: runs the compiled CLI when present, else the TypeScript sources through tsx.
// A hot command with a bundle (`sandbox`: dist/cli/sandbox.cjs) runs from that one file with a
// V8 code cache (src/cli/bundle-loader.ts); every other command loads the ES modules of dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import module from 'node:module';

// Node 22+: cache compiled modules on disk, which roughly halves CLI start-up (absent on Node 20).
module.enableCompileCache?.();

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli');
const built = join(cli, 'main.js');
const loader = join(cli, 'bundle-loader.js');
if (existsSync(built) && !process.env.RINGFENCE_FROM_SOURCE) {
  const bundled =
    existsSync(loader) &&
    (await import(pathToFileURL(loader).href)).runBundledCommand(process.argv, cli);
  if (!bundled) await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}

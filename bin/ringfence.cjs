#!/usr/bin/env node
// Entry point: runs the compiled CLI when present, else the TypeScript sources through tsx.
// A hot command with a bundle (`sandbox`: dist/cli/sandbox.cjs) runs from that one file with a
// V8 code cache (src/cli/bundle-loader.ts); every other command loads the ES modules of dist/.
// CommonJS on purpose: that hot path then never starts Node's ES module loader (~5 ms).
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

// Node 22+: cache compiled modules on disk, which roughly halves CLI start-up (absent on Node 20).
require('node:module').enableCompileCache?.();

const root = join(__dirname, '..');
const cli = join(root, 'dist', 'cli');
if (existsSync(join(cli, 'main.js')) && !process.env.RINGFENCE_FROM_SOURCE) {
  const loader = join(cli, 'bundle-loader.cjs');
  const bundled = existsSync(loader) && require(loader).runBundledCommand(process.argv, cli);
  if (!bundled) void import(pathToFileURL(join(cli, 'main.js')).href);
} else {
  void import('tsx/esm/api').then(({ register }) => {
    register();
    return import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
  });
}

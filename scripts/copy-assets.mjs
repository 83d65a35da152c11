// Copies the non-TypeScript files the compiled code loads at run time (the in-sandbox Python
// programs) next to it in dist/, then stamps the build.
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

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
writeFileSync('dist/.stamp', `${new Date().toISOString()}\n`);

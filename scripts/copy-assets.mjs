// Copies the non-TypeScript files the compiled CLI needs next to it in dist/, then stamps the build.
import { copyFileSync, writeFileSync } from 'node:fs';

copyFileSync('src/sandbox/bubblewrap/supervisor.py', 'dist/sandbox/bubblewrap/supervisor.py');
writeFileSync('dist/.stamp', `${new Date().toISOString()}\n`);

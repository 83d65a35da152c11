// Entry point for scripts/setup-docker.sh: `tsx src/sandbox/image/build-main.ts [--name N] [--force]`.
// Prints the image reference on stdout; progress goes to stderr.
import { buildDefaultImage } from './build-image.js';

const args = process.argv.slice(2);
const nameAt = args.indexOf('--name');
const name = nameAt >= 0 ? args[nameAt + 1] : undefined;
const result = await buildDefaultImage({
  ...(name ? { name } : {}),
  force: args.includes('--force'),
  progress: (s) => process.stderr.write(s),
});
process.stderr.write(
  `ringfence image: ${result.ref} ${result.cached ? 'cached' : `built in ${Math.round(result.durationMs / 1000)} s`}\n`,
);
process.stdout.write(`${result.ref}\n`);

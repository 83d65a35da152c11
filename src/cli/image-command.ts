// `ringfence image build [--name N] [--force]`: builds the default sandbox image offline
// (debootstrap + docker import + the ringfence layer), or reports the cached one.
import type { Command } from 'commander';
import { buildDefaultImage } from '../sandbox/image/build-image.js';

export function registerImageCommand(program: Command): void {
  const image = program.command('image').description('Sandbox container images');
  image
    .command('build')
    .description('Build the default sandbox image from Debian packages (cached by content hash)')
    .option('--name <name>', 'repository name of the image', 'ringfence-sandbox')
    .option('--force', 'rebuild even when cached', false)
    .action(async (opts: { name: string; force: boolean }) => {
      const result = await buildDefaultImage({
        name: opts.name,
        force: opts.force,
        progress: (s) => process.stderr.write(s),
      });
      process.stderr.write(
        `ringfence image: ${result.ref} ${result.cached ? 'cached' : `built in ${Math.round(result.durationMs / 1000)} s`}\n`,
      );
      process.stdout.write(`${result.ref}\n`);
    });
}

// `ringfence config check`: prints the resolved tier or every problem as `path: message` (exit 2).
import type { Command } from 'commander';
import { loadTier } from '../config/load-config.js';
import { globalOptions } from './global-options.js';

export { globalOptions, type GlobalOptions } from './global-options.js';

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('inspect the configuration');
  config
    .command('check')
    .description('validate the config and print the resolved tier as JSON')
    .option('--env <tier>', 'tier to resolve')
    .action((_opts: unknown, cmd: Command) => {
      const tier = loadTier(globalOptions(cmd));
      process.stdout.write(`${JSON.stringify(tier, null, 2)}\n`);
    });
}

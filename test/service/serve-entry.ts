// Test entry for `ringfence serve` as a child process until the lead wires the command into
// src/cli/main.ts: the same root options (--config, --env) and the serve/worker commands.
import { Command } from 'commander';
import { registerServeCommand } from '../../src/cli/serve-command.js';

const program = new Command();
program.name('ringfence').option('--config <file>', 'config file').option('--env <tier>', 'tier');
registerServeCommand(program);
await program.parseAsync(process.argv);

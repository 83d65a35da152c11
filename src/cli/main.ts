// The `ringfence` command line: each sub-command lives in its own module and registers itself.
import { Command } from 'commander';
import { RingfenceError, ConfigError, formatIssues } from '../errors.js';
import { registerConfigCommand } from './config-command.js';
import { registerSandboxCommand } from './sandbox-command.js';
import { registerDoctorCommand } from './doctor-command.js';
import { registerAuditCommand } from './audit-command.js';
import { registerModelCommand } from './model-command.js';
import { registerDemoCommand } from './demo-command.js';

const program = new Command();
program
  .name('ringfence')
  .description('Run AI agents in layered, ephemeral sandboxes')
  .version('0.1.0')
  .option('--config <file>', 'config file (default: RINGFENCE_CONFIG, ./ringfence.yaml, built-in)')
  .option('--env <tier>', 'tier: dev, staging or prod (default: RINGFENCE_ENV or dev)');

registerConfigCommand(program);
registerSandboxCommand(program);
registerDoctorCommand(program);
registerAuditCommand(program);
registerModelCommand(program);
registerDemoCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`ringfence: ${err.message}\n${formatIssues(err.issues)}\n`);
    process.exit(2);
  }
  if (err instanceof RingfenceError) {
    process.stderr.write(`ringfence: ${err.code}: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}

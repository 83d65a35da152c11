// The root options every command reads (--config, --env), apart from any command's module so
// that reading them loads nothing else.
import type { Command } from 'commander';

export interface GlobalOptions {
  config?: string;
  env?: string;
}

/** Reads --config/--env from the root program, whichever level they were given at. */
export function globalOptions(cmd: Command): { configPath?: string; env?: string } {
  const { config, env } = cmd.optsWithGlobals<GlobalOptions>();
  return {
    ...(config === undefined ? {} : { configPath: config }),
    ...(env === undefined ? {} : { env }),
  };
}

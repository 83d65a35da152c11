// Entry of the bundled `ringfence sandbox` command (dist/cli/sandbox.cjs, one file with its
// dependencies, built by scripts/copy-assets.mjs): the same program and command as main.ts, which
// bin/ringfence.cjs loads with a V8 code cache, so a one-shot sandbox starts without resolving,
// reading and compiling ~120 modules. A CommonJS bundle has no top-level await: the returned
// promise is left to reject, which Node reports like a top-level throw (exit 1).
// First: its side effect (a prestarted sandbox stub) must run before the rest is evaluated.
import './sandbox-prestart.js';
import { runCli } from './run-cli.js';
import { registerSandboxCommand } from './sandbox-command.js';

void runCli(process.argv, { sandbox: async () => registerSandboxCommand });

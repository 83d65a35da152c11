// Imported first by the sandbox bundle's entry (sandbox-main.ts), so it runs before the rest of
// the bundle is evaluated: `ringfence sandbox exec` on bubblewrap spawns its sandbox's stub now,
// and the stub's cgroup join overlaps start-up (src/sandbox/bubblewrap/early-stub.ts).
import { prestartDefaultStub } from '../sandbox/bubblewrap/early-stub.js';
import { commandName } from './command-name.js';

/**
 * True when the command line is `sandbox exec` that may run on bubblewrap (no other --driver,
 * no help asked). A wrong guess (the tier names another driver) only costs a discarded stub.
 * @example execOnBubblewrap(['sandbox', 'exec', '--', 'true']) // true
 */
export function execOnBubblewrap(argv: readonly string[]): boolean {
  if (commandName(argv) !== 'sandbox') return false;
  const end = argv.indexOf('--');
  const options = end < 0 ? argv : argv.slice(0, end);
  if (options[options.indexOf('sandbox') + 1] !== 'exec') return false;
  for (let i = 0; i < options.length; i++) {
    const arg = options[i]!;
    if (arg === '-h' || arg === '--help') return false;
    if (arg === '--driver' && options[i + 1] !== 'bubblewrap') return false;
    if (arg.startsWith('--driver=') && arg !== '--driver=bubblewrap') return false;
  }
  return true;
}

if (execOnBubblewrap(process.argv.slice(2))) prestartDefaultStub();

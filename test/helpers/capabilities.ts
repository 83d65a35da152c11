// Capability gates for tests: each returns undefined when usable, or the reason it is not.
import { existsSync } from 'node:fs';

export function missingBubblewrap(): string | undefined {
  if (process.platform !== 'linux') return 'bubblewrap needs Linux';
  if (!existsSync('/usr/bin/bwrap')) return 'bwrap not installed (run scripts/setup-system.sh)';
  if (!existsSync('/usr/bin/python3')) return 'python3 not installed';
  return undefined;
}

export function missingRoot(): string | undefined {
  return process.getuid?.() === 0 ? undefined : 'needs root (cgroups, private host uids)';
}

/** Prints why a block is skipped, so a skip is never silent. */
export function reportSkip(name: string, reason: string | undefined): boolean {
  if (reason) process.stderr.write(`SKIP ${name}: ${reason}\n`);
  return reason !== undefined;
}

// Which in-sandbox supervisor a driver runs, for bubblewrap and the container drivers alike: the
// static C one (build/rf-supervisor) when it is built and current, else supervisor.py. Both speak
// the same protocol.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxError } from '../errors.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const SUPERVISOR_PY = join(HERE, 'bubblewrap', 'supervisor.py');
/** scripts/build-supervisor.sh's output; from dist/ and src/ alike two levels up is the root. */
export const SUPERVISOR_BINARY = join(HERE, '..', '..', 'build', 'rf-supervisor');
const SUPERVISOR_C = join(HERE, 'bubblewrap', 'supervisor.c');
const STUB_BINARY = join(HERE, '..', '..', 'build', 'rf-stub');
const STUB_C = join(HERE, 'bubblewrap', 'stub.c');

/** 'auto': C when built, current and env RINGFENCE_SUPERVISOR is not 'python', else Python. */
export type SupervisorChoice = 'auto' | 'c' | 'python';

/** `binary` is built and not older than its source (a stale build is never used). */
function isCurrent(binary: string, source: string): boolean {
  if (!existsSync(binary)) return false;
  return !existsSync(source) || statSync(source).mtimeMs <= statSync(binary).mtimeMs;
}

/** build/rf-stub (the bubblewrap launcher stub) when it is built and current. */
export function stubBinary(): string | undefined {
  return isCurrent(STUB_BINARY, STUB_C) ? STUB_BINARY : undefined;
}

/** True when `choice` resolves to the C supervisor; 'c' without a built binary throws. */
export function usesCSupervisor(choice: SupervisorChoice = 'auto'): boolean {
  const useC =
    choice === 'c' ||
    (choice === 'auto' &&
      process.env.RINGFENCE_SUPERVISOR !== 'python' &&
      isCurrent(SUPERVISOR_BINARY, SUPERVISOR_C));
  if (useC && !existsSync(SUPERVISOR_BINARY))
    throw new SandboxError(
      'sandbox_unavailable',
      `${SUPERVISOR_BINARY} is missing (run scripts/build-supervisor.sh)`,
    );
  return useC;
}

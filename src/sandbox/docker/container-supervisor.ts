// Which in-sandbox supervisor a container runs: the static C one (build/rf-supervisor) when it is
// built and current, else supervisor.py through the compat launcher that stands in for pidfd_open.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxError } from '../../errors.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PYTHON_SOURCE = join(HERE, '..', 'bubblewrap', 'supervisor.py');
const LAUNCHER_SOURCE = join(HERE, 'supervisor-compat.py');
/** scripts/build-supervisor.sh's output; from dist/ and src/ alike three levels up is the root. */
const BINARY = join(HERE, '..', '..', '..', 'build', 'rf-supervisor');
const BINARY_SOURCE = join(HERE, '..', 'bubblewrap', 'supervisor.c');

const BINARY_IN_CONTAINER = '/.ringfence/supervisor';
const PYTHON_IN_CONTAINER = '/.ringfence/supervisor.py';
const LAUNCHER_IN_CONTAINER = '/.ringfence/launch.py';

/** 'auto': C when built, current and env RINGFENCE_SUPERVISOR is not 'python', else Python. */
export type SupervisorChoice = 'auto' | 'c' | 'python';

export interface ContainerSupervisor {
  kind: 'c' | 'python';
  /** `host:container:ro` bind specs for the supervisor's files. */
  binds: string[];
  /** The container's command. */
  cmd: string[];
}

/** The C supervisor is built and not older than its source (a stale build is never used). */
function binaryIsCurrent(): boolean {
  if (!existsSync(BINARY)) return false;
  return !existsSync(BINARY_SOURCE) || statSync(BINARY_SOURCE).mtimeMs <= statSync(BINARY).mtimeMs;
}

/**
 * Resolves the supervisor once per driver. Both speak the same protocol; the C one also stands
 * in for a missing pidfd_open itself (SIGCHLD self-pipe) and starts each exec from a small static
 * process, which under gVisor's ptrace platform is several times cheaper than forking Python.
 */
export function containerSupervisor(choice: SupervisorChoice = 'auto'): ContainerSupervisor {
  const useC =
    choice === 'c' ||
    (choice === 'auto' && process.env.RINGFENCE_SUPERVISOR !== 'python' && binaryIsCurrent());
  if (useC) {
    if (!existsSync(BINARY))
      throw new SandboxError(
        'sandbox_unavailable',
        `${BINARY} is missing (run scripts/build-supervisor.sh)`,
      );
    return {
      kind: 'c',
      binds: [`${BINARY}:${BINARY_IN_CONTAINER}:ro`],
      cmd: [BINARY_IN_CONTAINER],
    };
  }
  return {
    kind: 'python',
    binds: [
      `${PYTHON_SOURCE}:${PYTHON_IN_CONTAINER}:ro`,
      `${LAUNCHER_SOURCE}:${LAUNCHER_IN_CONTAINER}:ro`,
    ],
    cmd: ['python3', '-I', '-S', '-B', LAUNCHER_IN_CONTAINER, PYTHON_IN_CONTAINER],
  };
}

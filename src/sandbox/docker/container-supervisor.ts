// Which in-sandbox supervisor a container runs: the static C one (build/rf-supervisor) when it is
// built and current, else supervisor.py through the compat launcher that stands in for pidfd_open.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  SUPERVISOR_BINARY,
  SUPERVISOR_PY,
  usesCSupervisor,
  type SupervisorChoice,
} from '../supervisor-choice.js';

export type { SupervisorChoice };

const LAUNCHER_SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'supervisor-compat.py');
const BINARY_IN_CONTAINER = '/.ringfence/supervisor';
const PYTHON_IN_CONTAINER = '/.ringfence/supervisor.py';
const LAUNCHER_IN_CONTAINER = '/.ringfence/launch.py';

export interface ContainerSupervisor {
  kind: 'c' | 'python';
  /** `host:container:ro` bind specs for the supervisor's files. */
  binds: string[];
  /** The container's command. */
  cmd: string[];
}

/**
 * Resolves the supervisor once per driver. Both speak the same protocol; the C one also stands
 * in for a missing pidfd_open itself (SIGCHLD self-pipe) and starts each exec from a small static
 * process, which under gVisor's ptrace platform is several times cheaper than forking Python.
 */
export function containerSupervisor(choice: SupervisorChoice = 'auto'): ContainerSupervisor {
  if (usesCSupervisor(choice)) {
    return {
      kind: 'c',
      binds: [`${SUPERVISOR_BINARY}:${BINARY_IN_CONTAINER}:ro`],
      cmd: [BINARY_IN_CONTAINER],
    };
  }
  return {
    kind: 'python',
    binds: [
      `${SUPERVISOR_PY}:${PYTHON_IN_CONTAINER}:ro`,
      `${LAUNCHER_SOURCE}:${LAUNCHER_IN_CONTAINER}:ro`,
    ],
    cmd: ['python3', '-I', '-S', '-B', LAUNCHER_IN_CONTAINER, PYTHON_IN_CONTAINER],
  };
}

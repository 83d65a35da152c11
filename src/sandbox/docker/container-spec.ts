// The Engine API create body for one sandbox container: no network, no capabilities,
// no-new-privileges + seccomp, read-only root, capped tmpfs, limits, labels, supervisor as cmd.
import type { CreateSandboxOptions } from '../driver.js';
import type { ContainerSupervisor } from './container-supervisor.js';
import type { SeccompProfile } from './seccomp-profile.js';

/** Host threads runsc needs besides the sandbox's own processes (sentry, gofer, netstack). */
const RUNSC_THREAD_BUDGET = 512;

export const EGRESS_SOCKET_IN_CONTAINER = '/run/ringfence/egress.sock';
export const SANDBOX_USER = '1000:1000';
export const LABEL_SESSION = 'ringfence.session';
export const LABEL_TENANT = 'ringfence.tenant';
export const LABEL_EXPIRES = 'ringfence.expires';
export const LABEL_OWNER = 'ringfence.owner';
/** Host pid of the ringfence process that created the container (the reaper checks it). */
export const LABEL_CREATOR_PID = 'ringfence.pid';

export interface ContainerSpecInput {
  id: string;
  image: string;
  runtime: string | undefined;
  workspace: string;
  supervisor: ContainerSupervisor;
  seccomp: SeccompProfile;
  options: CreateSandboxOptions;
  /** Epoch ms after which the reaper may remove the container. */
  expiresAt: number;
}

export function containerSpec(input: ContainerSpecInput): Record<string, unknown> {
  const { limits, filesystem } = input.options.policy;
  const tmpBytes = Math.max(16, Math.min(limits.diskMb, 1024)) * 1024 * 1024;
  const binds = [`${input.workspace}:/workspace:rw`, ...input.supervisor.binds];
  for (const p of filesystem.readOnly) binds.push(`${p}:${p}:ro`);
  for (const p of filesystem.writable) binds.push(`${p}:${p}:rw`);
  for (const e of input.options.extraReadOnly ?? []) binds.push(`${e.host}:${e.sandbox}:ro`);
  if (input.options.egressSocket)
    binds.push(`${input.options.egressSocket}:${EGRESS_SOCKET_IN_CONTAINER}:rw`);
  const memory = limits.memoryMb * 1024 * 1024;
  return {
    Image: input.image,
    Cmd: input.supervisor.cmd,
    Entrypoint: [],
    User: SANDBOX_USER,
    WorkingDir: '/workspace',
    Hostname: 'ringfence',
    Env: [
      'PATH=/usr/local/bin:/usr/bin:/bin',
      'LANG=C.UTF-8',
      'HOME=/tmp',
      // Under runsc the host pids cgroup also counts the sentry's own threads (~60 idle, more
      // under load), so the sandbox's process budget is enforced inside, by RLIMIT_NPROC.
      `RINGFENCE_RLIMITS=fsize=${limits.diskMb * 1024 * 1024},core=0${input.runtime === 'runsc' ? `,nproc=${limits.pids}` : ''}`,
    ],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: false,
    Tty: false,
    NetworkDisabled: true,
    Labels: {
      [LABEL_OWNER]: 'ringfence',
      [LABEL_SESSION]: input.options.sessionId ?? input.id,
      [LABEL_TENANT]: input.options.tenantId ?? '',
      [LABEL_EXPIRES]: String(input.expiresAt),
      [LABEL_CREATOR_PID]: String(process.pid),
    },
    HostConfig: {
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges', `seccomp=${JSON.stringify(input.seccomp)}`],
      ReadonlyRootfs: true,
      Tmpfs: {
        '/tmp': `rw,noexec,nosuid,nodev,size=${tmpBytes}`,
        '/dev/shm': `rw,noexec,nosuid,nodev,size=${64 * 1024 * 1024}`,
      },
      Binds: binds,
      Memory: memory,
      MemorySwap: memory,
      NanoCpus: Math.round(limits.cpus * 1e9),
      PidsLimit: input.runtime === 'runsc' ? limits.pids + RUNSC_THREAD_BUDGET : limits.pids,
      Init: true,
      IpcMode: 'private',
      Privileged: false,
      PublishAllPorts: false,
      ...(input.runtime ? { Runtime: input.runtime } : {}),
      Ulimits: [{ Name: 'core', Soft: 0, Hard: 0 }],
      LogConfig: { Type: 'none', Config: {} },
    },
  };
}

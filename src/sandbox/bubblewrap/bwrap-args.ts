// Builds the bubblewrap command line for one sandbox: every namespace, a minimal read-only
// system image, the workspace, a private size-capped tmp, clearenv, seccomp, no network.
import { existsSync, lstatSync } from 'node:fs';

/** /etc entries programs need; nothing else of the host's /etc is visible. */
export const ETC_READ_ONLY = [
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/alternatives',
  '/etc/ssl/certs',
  '/etc/ca-certificates',
  '/etc/localtime',
  '/etc/nsswitch.conf',
  '/etc/protocols',
  '/etc/services',
  '/etc/mime.types',
  '/etc/debian_version',
];

/** File descriptors the spawner hands bwrap (their numbers in the child). */
export interface BwrapFds {
  seccomp: number | undefined;
  supervisor: number;
  passwd: number;
  group: number;
  hosts: number;
  info: number;
}

export interface BwrapArgsInput {
  fds: BwrapFds;
  tmpBytes: number;
  env: Record<string, string>;
  readOnly: string[];
  writable: string[];
  extraReadOnly: { host: string; sandbox: string }[];
  python: string;
  /** fd `supervisor` carries the static C supervisor binary instead of supervisor.py. */
  supervisorBinary?: boolean;
  /** Host path bwrap binds at /workspace (a staging mount point when running as root). */
  workspaceSource: string;
  /** The prepared /etc (system-etc.ts), bound in one mount; absent: entry by entry. */
  etcDir?: string;
}

/**
 * Root-level entries of the host image: symlinks stay symlinks (merged /usr), dirs are bound.
 * /etc is the prepared copy (system-etc.ts) in one mount, else its entries one by one with
 * ringfence's passwd, group and hosts from the stub's fds.
 */
function systemImageArgs(fds: BwrapFds, etcDir: string | undefined): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const entry of ['/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32']) {
    if (!existsSync(entry)) continue;
    const st = lstatSync(entry);
    if (st.isSymbolicLink()) args.push('--symlink', `usr${entry}`, entry);
    else args.push('--ro-bind', entry, entry);
  }
  if (etcDir) return [...args, '--ro-bind', etcDir, '/etc'];
  for (const path of ETC_READ_ONLY) args.push('--ro-bind-try', path, path);
  args.push('--ro-bind-data', String(fds.passwd), '/etc/passwd');
  args.push('--ro-bind-data', String(fds.group), '/etc/group');
  args.push('--ro-bind-data', String(fds.hosts), '/etc/hosts');
  return args;
}

export const SANDBOX_UID = 1000;
export const SUPERVISOR_PATH = '/.ringfence/supervisor.py';
export const SUPERVISOR_BINARY_PATH = '/.ringfence/supervisor';

export function buildBwrapArgs(input: BwrapArgsInput): string[] {
  const { fds } = input;
  const args = [
    '--unshare-user',
    '--unshare-pid',
    '--unshare-net',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--disable-userns',
    '--uid',
    String(SANDBOX_UID),
    '--gid',
    String(SANDBOX_UID),
    '--hostname',
    'ringfence',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--clearenv',
    ...systemImageArgs(fds, input.etcDir),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    String(64 * 1024 * 1024),
    '--tmpfs',
    '/dev/shm',
    '--remount-ro',
    '/dev',
    '--size',
    String(input.tmpBytes),
    '--tmpfs',
    '/tmp',
    '--bind',
    input.workspaceSource,
    '/workspace',
  ];
  for (const p of input.readOnly) args.push('--ro-bind', p, p);
  for (const p of input.writable) args.push('--bind', p, p);
  for (const e of input.extraReadOnly) args.push('--ro-bind', e.host, e.sandbox);
  if (input.supervisorBinary)
    args.push('--perms', '0555', '--ro-bind-data', String(fds.supervisor), SUPERVISOR_BINARY_PATH);
  else args.push('--ro-bind-data', String(fds.supervisor), SUPERVISOR_PATH);
  args.push('--remount-ro', '/');
  for (const [k, v] of Object.entries(input.env)) args.push('--setenv', k, v);
  args.push('--chdir', '/workspace', '--info-fd', String(fds.info));
  if (fds.seccomp !== undefined) args.push('--seccomp', String(fds.seccomp));
  if (input.supervisorBinary) args.push('--', SUPERVISOR_BINARY_PATH);
  else args.push('--', input.python, '-I', '-S', '-B', SUPERVISOR_PATH);
  return args;
}

export const PASSWD = `root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nagent:x:${SANDBOX_UID}:${SANDBOX_UID}:ringfence agent:/tmp:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`;
export const GROUP = `root:x:0:\nagent:x:${SANDBOX_UID}:\nnogroup:x:65534:\n`;
export const HOSTS = '127.0.0.1\tlocalhost ringfence\n::1\tlocalhost ip6-localhost\n';

// The seccomp profile handed to Docker: Docker's default denials (privileged and kernel-state
// syscalls, namespace-creating clone flags) plus every extra denial of src/sandbox/seccomp-bpf.ts
// (AF_UNIX sockets, TIOCSTI, io_uring, ...). Written as allow-by-default with an explicit denylist.
import { archTable } from '../seccomp-bpf.js';

const EPERM = 1;
const ENOSYS = 38;
const AF_UNIX = 1;
const TIOCSTI = 0x5412;
const CLONE_NAMESPACE_FLAGS = [
  0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000,
];

/** Syscalls Docker's default profile refuses to an unprivileged container (x86_64 names). */
const DOCKER_DEFAULT_DENIED = [
  'acct',
  'add_key',
  'bpf',
  'clock_adjtime',
  'clock_settime',
  'create_module',
  'delete_module',
  'finit_module',
  'get_kernel_syms',
  'get_mempolicy',
  'init_module',
  'ioperm',
  'iopl',
  'kcmp',
  'kexec_file_load',
  'kexec_load',
  'keyctl',
  'lookup_dcookie',
  'mbind',
  'mount',
  'move_pages',
  'name_to_handle_at',
  'nfsservctl',
  'open_by_handle_at',
  'perf_event_open',
  'pivot_root',
  'process_vm_readv',
  'process_vm_writev',
  'ptrace',
  'query_module',
  'quotactl',
  'reboot',
  'request_key',
  'set_mempolicy',
  'setns',
  'settimeofday',
  'swapon',
  'swapoff',
  'sysfs',
  '_sysctl',
  'umount',
  'umount2',
  'unshare',
  'uselib',
  'userfaultfd',
  'ustat',
  'vm86',
  'vm86old',
  'chroot',
  'syslog',
  'vhangup',
  'adjtimex',
  'fanotify_init',
  'open_tree',
  'move_mount',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'mount_setattr',
];

interface SeccompArg {
  index: number;
  value: number;
  valueTwo: number;
  op: 'SCMP_CMP_EQ' | 'SCMP_CMP_MASKED_EQ';
}
interface SeccompRule {
  names: string[];
  action: 'SCMP_ACT_ERRNO' | 'SCMP_ACT_ALLOW';
  errnoRet?: number;
  args?: SeccompArg[];
}
export interface SeccompProfile {
  defaultAction: 'SCMP_ACT_ALLOW';
  architectures: string[];
  syscalls: SeccompRule[];
}

export function dockerSeccompProfile(): SeccompProfile {
  const extra = Object.keys(archTable('x64')?.denied ?? {});
  const denied = [...new Set([...DOCKER_DEFAULT_DENIED, ...extra])].sort();
  const syscalls: SeccompRule[] = [
    { names: denied, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    {
      names: ['socket'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: EPERM,
      args: [{ index: 0, value: AF_UNIX, valueTwo: 0, op: 'SCMP_CMP_EQ' }],
    },
    {
      names: ['ioctl'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: EPERM,
      args: [{ index: 1, value: TIOCSTI, valueTwo: 0, op: 'SCMP_CMP_EQ' }],
    },
    // One rule per namespace flag: libseccomp ANDs the args of one rule, so each flag is its own.
    ...CLONE_NAMESPACE_FLAGS.map((flag): SeccompRule => ({
      names: ['clone'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: EPERM,
      args: [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }],
    })),
  ];
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    // Only the native ABI: 32-bit and x32 calls (another syscall table) are refused outright.
    architectures: [process.arch === 'arm64' ? 'SCMP_ARCH_AARCH64' : 'SCMP_ARCH_X86_64'],
    syscalls,
  };
}

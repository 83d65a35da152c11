// Builds the classic-BPF seccomp program every sandbox runs under (SECURITY.md "Process").
// No libseccomp: the program is small enough to assemble here and is unit-tested instruction by instruction.
import { arch } from 'node:os';

const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_JSET_K = 0x45;
const BPF_RET_K = 0x06;

const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const SECCOMP_RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;

const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
/** Low 32 bits of argument i on a little-endian machine. */
const offsetArg = (i: number): number => 16 + 8 * i;

const AF_UNIX = 1;
const TIOCSTI = 0x5412;
const CLONE_NAMESPACE_FLAGS =
  0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

interface ArchTable {
  auditArch: number;
  /** Syscalls refused with EPERM outright. */
  denied: Record<string, number>;
  socket: number;
  ioctl: number;
  clone: number;
  clone3: number;
  /** x32 ABI bit on x86_64: everything at or above it is refused. */
  x32Bit?: number;
}

const X86_64: ArchTable = {
  auditArch: 0xc000003e,
  denied: {
    mount: 165,
    umount2: 166,
    pivot_root: 155,
    chroot: 161,
    unshare: 272,
    setns: 308,
    ptrace: 101,
    process_vm_readv: 310,
    process_vm_writev: 311,
    kcmp: 312,
    keyctl: 250,
    add_key: 248,
    request_key: 249,
    bpf: 321,
    perf_event_open: 298,
    io_uring_setup: 425,
    io_uring_enter: 426,
    io_uring_register: 427,
    kexec_load: 246,
    kexec_file_load: 320,
    init_module: 175,
    finit_module: 313,
    delete_module: 176,
    swapon: 167,
    swapoff: 168,
    reboot: 169,
    acct: 163,
    syslog: 103,
    settimeofday: 164,
    clock_settime: 227,
    clock_adjtime: 305,
    adjtimex: 159,
    userfaultfd: 323,
    open_by_handle_at: 304,
    name_to_handle_at: 303,
    lookup_dcookie: 212,
    quotactl: 179,
    ioperm: 173,
    iopl: 172,
    uselib: 134,
    vhangup: 153,
    personality: 135,
    open_tree: 428,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
    fspick: 433,
    mount_setattr: 442,
  },
  socket: 41,
  ioctl: 16,
  clone: 56,
  clone3: 435,
  x32Bit: 0x40000000,
};

const AARCH64: ArchTable = {
  auditArch: 0xc00000b7,
  denied: {
    mount: 40,
    umount2: 39,
    pivot_root: 41,
    chroot: 51,
    unshare: 97,
    setns: 268,
    ptrace: 117,
    process_vm_readv: 270,
    process_vm_writev: 271,
    kcmp: 272,
    keyctl: 219,
    add_key: 217,
    request_key: 218,
    bpf: 280,
    perf_event_open: 241,
    io_uring_setup: 425,
    io_uring_enter: 426,
    io_uring_register: 427,
    kexec_load: 104,
    kexec_file_load: 294,
    init_module: 105,
    finit_module: 273,
    delete_module: 106,
    swapon: 224,
    swapoff: 225,
    reboot: 142,
    acct: 89,
    syslog: 116,
    settimeofday: 170,
    clock_settime: 112,
    clock_adjtime: 266,
    adjtimex: 171,
    userfaultfd: 282,
    open_by_handle_at: 265,
    name_to_handle_at: 264,
    lookup_dcookie: 18,
    quotactl: 60,
    vhangup: 58,
    personality: 92,
    open_tree: 428,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
    fspick: 433,
    mount_setattr: 442,
  },
  socket: 198,
  ioctl: 29,
  clone: 220,
  clone3: 435,
};

/** The syscall table for this machine's architecture, or undefined where seccomp is not built. */
export function archTable(machine: string = arch()): ArchTable | undefined {
  if (machine === 'x64') return X86_64;
  if (machine === 'arm64') return AARCH64;
  return undefined;
}

type Insn = [code: number, jt: number, jf: number, k: number];

/**
 * Assembles the filter: wrong architecture → kill; denied syscalls → EPERM; socket(AF_UNIX) →
 * EPERM (socketpair stays allowed: it cannot reach anything outside); clone with namespace flags →
 * EPERM; clone3 → ENOSYS so libc falls back to clone, whose flags we can inspect; ioctl(TIOCSTI)
 * → EPERM; everything else allowed.
 */
export function buildSeccompProgram(table: ArchTable): Buffer {
  const errno = (e: number): Insn => [BPF_RET_K, 0, 0, (SECCOMP_RET_ERRNO | e) >>> 0];
  const allow: Insn = [BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW];
  const prog: Insn[] = [
    [BPF_LD_W_ABS, 0, 0, OFFSET_ARCH],
    [BPF_JEQ_K, 1, 0, table.auditArch],
    [BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS],
    [BPF_LD_W_ABS, 0, 0, OFFSET_NR],
  ];
  if (table.x32Bit !== undefined) prog.push([BPF_JGE_K, 0, 1, table.x32Bit], errno(ENOSYS));
  for (const nr of Object.values(table.denied)) prog.push([BPF_JEQ_K, 0, 1, nr], errno(EPERM));
  prog.push([BPF_JEQ_K, 0, 1, table.clone3], errno(ENOSYS));
  // Argument checks: each block reloads the accumulator, so it must end in a return.
  const argCheck = (nr: number, arg: number, test: Insn, errnoValue: number): void => {
    prog.push(
      [BPF_JEQ_K, 0, 4, nr],
      [BPF_LD_W_ABS, 0, 0, offsetArg(arg)],
      test,
      errno(errnoValue),
      allow,
    );
  };
  argCheck(table.socket, 0, [BPF_JEQ_K, 0, 1, AF_UNIX], EPERM);
  argCheck(table.clone, 0, [BPF_JSET_K, 0, 1, CLONE_NAMESPACE_FLAGS], EPERM);
  argCheck(table.ioctl, 1, [BPF_JEQ_K, 0, 1, TIOCSTI], EPERM);
  prog.push(allow);

  const out = Buffer.alloc(prog.length * 8);
  prog.forEach(([code, jt, jf, k], i) => {
    out.writeUInt16LE(code, i * 8);
    out.writeUInt8(jt, i * 8 + 2);
    out.writeUInt8(jf, i * 8 + 3);
    out.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return out;
}

let cached: Buffer | null | undefined;
/** The program for this machine, built once; null when the architecture is not supported. */
export function seccompProgram(): Buffer | null {
  if (cached === undefined) {
    const table = archTable();
    cached = table ? buildSeccompProgram(table) : null;
  }
  return cached;
}

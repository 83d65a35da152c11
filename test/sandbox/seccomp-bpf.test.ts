import { describe, expect, it } from 'vitest';
import { archTable, buildSeccompProgram } from '../../src/sandbox/seccomp-bpf.js';

/** A tiny classic-BPF interpreter: enough to run our filter against a syscall. */
function run(prog: Buffer, data: { nr: number; arch: number; args?: number[] }): number {
  const load = (off: number): number => {
    if (off === 0) return data.nr;
    if (off === 4) return data.arch;
    return data.args?.[(off - 16) / 8] ?? 0;
  };
  let acc = 0;
  for (let pc = 0; pc < prog.length / 8;) {
    const code = prog.readUInt16LE(pc * 8);
    const jt = prog.readUInt8(pc * 8 + 2);
    const jf = prog.readUInt8(pc * 8 + 3);
    const k = prog.readUInt32LE(pc * 8 + 4);
    switch (code) {
      case 0x20:
        acc = load(k);
        pc++;
        break;
      case 0x15:
        pc += 1 + (acc === k ? jt : jf);
        break;
      case 0x35:
        pc += 1 + (acc >= k ? jt : jf);
        break;
      case 0x45:
        pc += 1 + ((acc & k) !== 0 ? jt : jf);
        break;
      case 0x06:
        return k;
      default:
        throw new Error(`unknown opcode ${code}`);
    }
  }
  throw new Error('fell off the end');
}

describe('seccomp program (x86_64)', () => {
  const table = archTable('x64')!;
  const prog = buildSeccompProgram(table);
  const ALLOW = 0x7fff0000;
  const EPERM = 0x00050001;
  const call = (nr: number, args?: number[], arch = table.auditArch) =>
    run(prog, { nr, arch, ...(args ? { args } : {}) });

  it('allows ordinary syscalls', () => {
    for (const nr of [0, 1, 2, 3, 9, 57, 59, 60, 231]) expect(call(nr)).toBe(ALLOW);
  });
  it('refuses every denied syscall with EPERM', () => {
    for (const [name, nr] of Object.entries(table.denied)) expect(call(nr), name).toBe(EPERM);
  });
  it('kills a process using another architecture and refuses the x32 ABI', () => {
    expect(call(0, [], 0x40000003)).toBe(0x80000000);
    expect(call(0x40000000 + 59)).toBe(0x00050026);
  });
  it('refuses AF_UNIX sockets but allows inet ones', () => {
    expect(call(41, [1, 1])).toBe(EPERM);
    expect(call(41, [2, 1])).toBe(ALLOW);
    expect(call(41, [10, 1])).toBe(ALLOW);
  });
  it('refuses clone with namespace flags and clone3 (ENOSYS, so libc falls back)', () => {
    expect(call(56, [0x01200011])).toBe(ALLOW);
    expect(call(56, [0x10000000])).toBe(EPERM);
    expect(call(56, [0x40000000 | 0x11])).toBe(EPERM);
    expect(call(435)).toBe(0x00050026);
  });
  it('refuses TIOCSTI terminal injection', () => {
    expect(call(16, [0, 0x5412])).toBe(EPERM);
    expect(call(16, [0, 0x5401])).toBe(ALLOW);
  });
});

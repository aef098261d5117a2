/**
 * The guest program across a hole in guest RAM, on real KVM and on the model:
 * the same descriptors give the same exits and checksums. Two layouts of the
 * guest's tables (user/vmm/guest_x86.ts), each with 2M leaves as a host
 * without 1G guest pages has them:
 *
 *   page 0's own PD      RAM   0 ──── 32M │ 32M ──── 64M
 *                        GPA   0 ──── 32M   64M ──── 96M        hole [32M, 64M)
 *
 *   wide (PDs in RAM     RAM   0 ──── 32M │ 32M ────────── 64M
 *   pages 1, 2)          GPA   0 ──── 32M   1000M ── 1022M ── 1032M   hole [32M, 1000M);
 *                                          T_0's last leaf ┘└ T_1's first
 */
import { describe, expect, it } from 'vitest';
import { linuxIoctl } from '../../src/linux/kvm/ioctl.ts';
import * as libc from '../../src/linux/libc.ts';
import { GUEST_FLAG_CHECKSUM, GUEST_FLAG_WRITE, KVM_CREATE_VCPU, KVM_CREATE_VM, KVM_RUN, KVM_SET_USER_MEMORY_REGION, encode_guest_program, new_kvm_run, type GuestProgram } from '../../src/uapi/kvm.ts';
import { KVM_GET_SREGS, KVM_SET_REGS, KVM_SET_SREGS, type kvm_sregs } from '../../src/uapi/kvm_x86.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { GUEST_IMAGE_OFFSET, guestImage, guestRegs, guestSregs } from '../../src/user/vmm/guest_x86.ts';
import { bootKvm, createVcpu, createVm, setRegion } from '../kvm/helpers.ts';
import { noKvm } from './env.ts';

const reason = noKvm();

const MiB = 1 << 20;
const HALF = 32 * MiB;

/** The programs for a hole at [HALF, second): the model's and the real guest's results must agree. */
function programs(second: number): GuestProgram[] {
  const HOLE = { hole_start: HALF, hole_end: second };
  return [
    { pattern: 0, flags: GUEST_FLAG_WRITE, start_gpa: 0, bytes: 2 * HALF, seed: 1, hot_percent: 10, iterations: 1, ...HOLE },
    { pattern: 0, flags: GUEST_FLAG_CHECKSUM, start_gpa: 0, bytes: 2 * HALF, seed: 1, hot_percent: 10, iterations: 1, ...HOLE },
    { pattern: 0, flags: GUEST_FLAG_CHECKSUM, start_gpa: HALF - 3 * 4096, bytes: 7 * 4096, seed: 1, hot_percent: 10, iterations: 2, ...HOLE },
    { pattern: 1, flags: GUEST_FLAG_CHECKSUM, start_gpa: 0, bytes: 2 * HALF, seed: 5, hot_percent: 10, iterations: 1, ...HOLE },
    { pattern: 2, flags: GUEST_FLAG_CHECKSUM, start_gpa: 0, bytes: 2 * HALF, seed: 7, hot_percent: 10, iterations: 1, ...HOLE },
    { pattern: 0, flags: GUEST_FLAG_CHECKSUM, start_gpa: 0, bytes: 4096, seed: 1, hot_percent: 10, iterations: 1, hole_start: second, hole_end: HALF },
  ];
}
type Result = [number | undefined, number, string, string];

describe.skipIf(reason !== null)(`the guest program across a hole on real KVM${reason ? ` (skipped: ${reason})` : ''}`, () => {
  it.each([
    ['page 0\'s own PD', 2 * HALF, 0],
    ['the wide layout, across two PD pages', 1000 * MiB, 2],
  ])('real x86 code and the model: same status, checksums and stored GPAs (%s)', (_, second, tables) => {
    const img = guestImage([{ gpa: 0, size: HALF }, { gpa: second, size: HALF }], false)!;
    expect(img.tables).toHaveLength(tables);
    const PROGS = programs(second);
    const kvm = libc.open('/dev/kvm', 2 | 0o2000000, 0);
    const mem = libc.mmap(0, 2 * HALF, 3, 0x22, -1, 0);
    let vm = -1;
    let vcpu = -1;
    let real: Result[];
    try {
      vm = linuxIoctl(kvm, KVM_CREATE_VM, 0);
      linuxIoctl(vm, KVM_SET_USER_MEMORY_REGION, { slot: 0, flags: 0, guest_phys_addr: 0, memory_size: HALF, userspace_addr: mem });
      linuxIoctl(vm, KVM_SET_USER_MEMORY_REGION, { slot: 1, flags: 0, guest_phys_addr: second, memory_size: HALF, userspace_addr: mem + HALF });
      vcpu = linuxIoctl(vm, KVM_CREATE_VCPU, 0);
      const reset = {} as kvm_sregs;
      linuxIoctl(vcpu, KVM_GET_SREGS, reset);
      real = PROGS.map((p) => {
        libc.poke(mem, encode_guest_program(p));
        libc.poke(mem + GUEST_IMAGE_OFFSET, img.bytes);
        for (const t of img.tables) libc.poke(mem + t.gpa + 8, t.bytes);
        linuxIoctl(vcpu, KVM_SET_SREGS, guestSregs(reset, img));
        linuxIoctl(vcpu, KVM_SET_REGS, guestRegs(img));
        const r = new_kvm_run();
        linuxIoctl(vcpu, KVM_RUN, r);
        return [r.io?.port, new DataView(r.io!.data.buffer).getUint32(0, true), libc.peek(mem + 48, 8).join(','), libc.peek(mem + HALF, 8).join(',')];
      });
    } finally {
      if (vcpu >= 0) libc.close(vcpu);
      if (vm >= 0) libc.close(vm);
      libc.munmap(mem, 2 * HALF);
      libc.close(kvm);
    }
    const { task } = bootKvm();
    const mvm = createVm(task);
    const hva = task.mmap(0, 2 * HALF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    setRegion(task, mvm.vmFd, 0, 0, HALF, hva);
    setRegion(task, mvm.vmFd, 1, second, HALF, hva + HALF);
    const mcpu = createVcpu(task, mvm.vmFd);
    const model: Result[] = PROGS.map((p) => {
      task.store(hva, encode_guest_program(p));
      task.store(hva + GUEST_IMAGE_OFFSET, img.bytes);
      for (const t of img.tables) task.store(hva + t.gpa + 8, t.bytes);
      const r = new_kvm_run();
      task.ioctl(mcpu, KVM_RUN, r);
      return [r.io?.port, new DataView(r.io!.data.buffer).getUint32(0, true), task.load(hva + 48, 8).join(','), task.load(hva + HALF, 8).join(',')];
    });
    expect(real).toEqual(model);
    // Every run exits on 0xf4 (none in the hole as MMIO); the inverted hole is a bad descriptor.
    expect(real.map((r) => r[1])).toEqual([0, 0, 0, 0, 0, 1]);
    // RAM offset 32M holds the GPA of slot 1's first page.
    expect(real[0]![3]).toBe([...new Uint8Array(new BigUint64Array([BigInt(second)]).buffer)].join(','));
  });
});

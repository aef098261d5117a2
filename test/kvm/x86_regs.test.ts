/**
 * The model's vCPU register ioctls (KVM_GET/SET_REGS, KVM_GET/SET_SREGS with
 * kvm_is_valid_sregs), KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2, and
 * KVM_GET_STATS_FD's binary format against the debugfs figures.
 */
import { describe, expect, it } from 'vitest';
import { MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { GUEST_FLAG_WRITE } from '../../src/uapi/kvm.ts';
import { KVM_GET_STATS_FD, kvm_stats_descs, kvm_stats_header, kvm_stats_values } from '../../src/uapi/kvm_stats.ts';
import {
  KVM_GET_REGS,
  KVM_GET_SREGS,
  KVM_GET_SUPPORTED_CPUID,
  KVM_SET_CPUID2,
  KVM_SET_REGS,
  KVM_SET_SREGS,
  cpuid_has_gbpages,
  type kvm_cpuid2,
  type kvm_regs,
  type kvm_sregs,
} from '../../src/uapi/kvm_x86.ts';
import { guestImage, guestRegs, guestSregs } from '../../src/user/vmm/guest_x86.ts';
import { bootKvm, createVcpu, createVm, errno, readFile, runProgram, setRegion } from './helpers.ts';

function setup() {
  const { task, host } = bootKvm();
  const vm = createVm(task);
  const hva = task.mmap(0, 8 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  setRegion(task, vm.vmFd, 0, 0, 8 * MiB, hva);
  const vcpu = createVcpu(task, vm.vmFd);
  return { task, vm, hva, vcpu, vms: () => host.fs.kvm.vms.size };
}

describe('KVM_GET/SET_SREGS and REGS', () => {
  it('reads the reset state, accepts the guest long-mode state and reads it back', () => {
    const { task, vcpu } = setup();
    const reset = {} as kvm_sregs;
    task.ioctl(vcpu, KVM_GET_SREGS, reset);
    expect(reset.cs).toMatchObject({ selector: 0xf000, base: 0xffff0000 });
    expect(reset.cr0).toBe(0x60000010);
    const img = guestImage(8 * MiB, true)!;
    expect(task.ioctl(vcpu, KVM_SET_SREGS, guestSregs(reset, img))).toBe(0);
    const back = {} as kvm_sregs;
    task.ioctl(vcpu, KVM_GET_SREGS, back);
    expect(back).toEqual(guestSregs(reset, img));
    task.ioctl(vcpu, KVM_SET_REGS, guestRegs(img));
    const regs = {} as kvm_regs;
    task.ioctl(vcpu, KVM_GET_REGS, regs);
    expect(regs.rip).toBe(img.rip);
  });

  it('kvm_is_valid_sregs: EINVAL for LME+PG without PAE or LMA, LMA or a 64-bit CS without paging, PG without PE', () => {
    const { task, vcpu } = setup();
    const reset = {} as kvm_sregs;
    task.ioctl(vcpu, KVM_GET_SREGS, reset);
    const good = guestSregs(reset, guestImage(8 * MiB, true)!);
    expect(errno(() => task.ioctl(vcpu, KVM_SET_SREGS, { ...good, cr4: 0 }))).toBe('EINVAL');
    expect(errno(() => task.ioctl(vcpu, KVM_SET_SREGS, { ...good, efer: 0x100 }))).toBe('EINVAL');
    expect(errno(() => task.ioctl(vcpu, KVM_SET_SREGS, { ...reset, efer: 0x400 }))).toBe('EINVAL');
    expect(errno(() => task.ioctl(vcpu, KVM_SET_SREGS, { ...reset, cs: { ...reset.cs, l: 1 } }))).toBe('EINVAL');
    expect(errno(() => task.ioctl(vcpu, KVM_SET_SREGS, { ...reset, cr0: 0x80000000 }))).toBe('EINVAL');
    expect(errno(() => task.ioctl(vcpu, KVM_SET_SREGS, { ...good, cr4: 0x20 | 2 ** 26 }))).toBe('EINVAL');
    expect(errno(() => task.ioctl(vcpu, KVM_SET_SREGS, null))).toBe('EFAULT');
    expect(errno(() => task.ioctl(vcpu, KVM_SET_REGS, { rip: 1 }))).toBe('EFAULT');
  });

  it('KVM_GET_SUPPORTED_CPUID: E2BIG when too small, pdpe1gb offered; KVM_SET_CPUID2 takes it', () => {
    const { task, vm, vcpu } = setup();
    expect(errno(() => task.ioctl(vm.kvmFd, KVM_GET_SUPPORTED_CPUID, { nent: 1, entries: [] }))).toBe('E2BIG');
    const c: kvm_cpuid2 = { nent: 256, entries: [] };
    task.ioctl(vm.kvmFd, KVM_GET_SUPPORTED_CPUID, c);
    expect(c.nent).toBe(c.entries.length);
    expect(cpuid_has_gbpages(c)).toBe(true);
    expect(task.ioctl(vcpu, KVM_SET_CPUID2, c)).toBe(0);
  });
});

describe('KVM_GET_STATS_FD', () => {
  it('VM and vCPU stats fds: header, id, descriptors, and values that match debugfs', () => {
    const { task, vm, hva, vcpu } = setup();
    runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: 0, bytes: 8 * MiB });
    const read = (fd: number) => {
      const h = kvm_stats_header(task.pread(fd, 24, 0));
      const { id, descs } = kvm_stats_descs(task.pread(fd, h.data_offset, 0));
      return { h, id, values: kvm_stats_values(descs, task.pread(fd, descs.length * 8, h.data_offset)) };
    };
    const vmStats = read(task.ioctl(vm.vmFd, KVM_GET_STATS_FD, 0));
    expect(vmStats.h).toMatchObject({ flags: 0, name_size: 48, id_offset: 24, desc_offset: 72 });
    expect(vmStats.id).toBe(`kvm-${task.pid}`);
    const dir = `/sys/kernel/debug/kvm/${vm.kvm.debugfs_name}`;
    for (const k of ['pages_4k', 'pages_2m', 'pages_1g', 'mmu_shadow_zapped']) expect(vmStats.values.get(k)).toBe(Number(readFile(task, `${dir}/${k}`)));
    expect(vmStats.values.get('pages_4k')! + 512 * vmStats.values.get('pages_2m')!).toBe((8 * MiB) / PAGE_SIZE);
    const cpu = read(task.ioctl(vcpu, KVM_GET_STATS_FD, 0));
    expect(cpu.id).toBe(`kvm-${task.pid}/vcpu-0`);
    for (const k of ['pf_taken', 'pf_fixed', 'exits', 'io_exits']) expect(cpu.values.get(k)).toBe(Number(readFile(task, `${dir}/${k}`)));
    expect(cpu.values.get('io_exits')).toBe(1);
  });

  it('the stats fd keeps the VM alive after the VM fd is closed', () => {
    const { task, vm, vcpu, vms } = setup();
    const fd = task.ioctl(vm.vmFd, KVM_GET_STATS_FD, 0);
    task.close(vcpu);
    task.close(vm.vmFd);
    expect(vms()).toBe(1);
    expect(kvm_stats_header(task.pread(fd, 24, 0)).num_desc).toBeGreaterThan(0);
    task.close(fd);
    expect(vms()).toBe(0);
  });
});

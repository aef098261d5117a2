/**
 * The two-dimensional fault path: which level the EPT maps at (slot alignment ×
 * host mapping), SecPageTables, MMIO and read-only exits, dirty logging.
 *
 *   gpa  ──slot──▶ hva ──host page table──▶ pfn        EPT: gpa ──▶ pfn
 */
import { describe, expect, it } from 'vitest';
import { GiB, MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { O_CREAT, O_RDWR } from '../../src/uapi/fcntl.ts';
import {
  GUEST_FLAG_CHECKSUM,
  GUEST_FLAG_WRITE,
  GUEST_PATTERN_RANDOM,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_IO,
  KVM_EXIT_MMIO,
  KVM_GET_DIRTY_LOG,
  KVM_MEM_LOG_DIRTY_PAGES,
  KVM_MEM_READONLY,
  KVM_RUN,
  new_kvm_run,
} from '../../src/uapi/kvm.ts';
import { MADV_NOHUGEPAGE, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import type { Task } from '../../src/kernel/process.ts';
import { bootKvm, createVcpu, createVm, errno, ioStatus, meminfo, readFile, runProgram, setRegion, vmStat, type Vm } from './helpers.ts';
import { checkEpt } from './invariants.ts';

const P = PAGE_SIZE;
const BASE = GiB; // 1 GiB aligned host address for guest RAM

/** Guest RAM of `size` at gpa 0 backed by anonymous memory at BASE + offset. */
function anonGuest(opts: { size: number; thp: boolean; hvaOffset?: number; gpa?: number }) {
  const { host, task } = bootKvm({ mem: 4 * GiB });
  const hva = task.mmap(BASE + (opts.hvaOffset ?? 0), opts.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (!opts.thp) task.madvise(hva, opts.size, MADV_NOHUGEPAGE);
  const vm = createVm(task);
  setRegion(task, vm.vmFd, 0, opts.gpa ?? 0, opts.size, hva);
  const vcpu = createVcpu(task, vm.vmFd);
  return { host, task, vm, hva, vcpu };
}

const stat = (task: Task, vm: Vm, name: string) => vmStat(task, vm, name, readFile);

describe('mapping level', () => {
  it('anonymous 4K memory maps at 4K; the EPT tables are SecPageTables', () => {
    // gpa [0, 16M) → hva [1G, 1G+16M), MADV_NOHUGEPAGE: host 4K → EPT 4K.
    const { task, vm, hva, vcpu } = anonGuest({ size: 16 * MiB, thp: false });
    const sec0 = meminfo(task, 'SecPageTables');
    const run = runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: 0, bytes: 16 * MiB });
    expect(run.exit_reason).toBe(KVM_EXIT_IO);
    expect(ioStatus(run)).toBe(0);
    expect([stat(task, vm, 'pages_4k'), stat(task, vm, 'pages_2m'), stat(task, vm, 'pages_1g')]).toEqual([4096, 0, 0]);
    // PGD (allocated at VM creation) + PUD + PMD + 8 PTE tables.
    expect(meminfo(task, 'SecPageTables') - sec0).toBe(10 * 4);
    expect(stat(task, vm, 'pf_fixed')).toBe(4096);
    // The guest's writes are the VMM's memory.
    expect(new DataView(task.load(hva + 5 * MiB, 8).buffer).getUint32(0, true)).toBe(5 * MiB);
    checkEpt(vm.kvm, task.mm);
    task.close(vcpu);
    task.close(vm.vmFd);
    expect(meminfo(task, 'SecPageTables')).toBe(0);
  });

  it('THP maps at 2M when gfn and hva are congruent modulo 2M', () => {
    const { task, vm, hva, vcpu } = anonGuest({ size: 16 * MiB, thp: true });
    runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: 0, bytes: 16 * MiB });
    expect([stat(task, vm, 'pages_4k'), stat(task, vm, 'pages_2m')]).toEqual([0, 8]);
    expect(stat(task, vm, 'pf_fixed')).toBe(8);
    checkEpt(vm.kvm, task.mm);
  });

  it('THP with (base_gfn ^ hva/4K) not 2M aligned maps everything at 4K', () => {
    //   gpa: 4K ......... 4K+16M     hva: 1G ........ 1G+16M   (gpa off by one page)
    const { task, vm, hva, vcpu } = anonGuest({ size: 16 * MiB, thp: true, gpa: P });
    // gpa 0 is outside the slot here: put the descriptor in a slot of its own.
    const desc = task.mmap(0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    setRegion(task, vm.vmFd, 1, 0, P, desc);
    runProgram(task, vcpu, desc, { flags: GUEST_FLAG_WRITE, start_gpa: P, bytes: 16 * MiB });
    expect([stat(task, vm, 'pages_4k'), stat(task, vm, 'pages_2m')]).toEqual([4097, 0]);
    void hva;
    checkEpt(vm.kvm, task.mm);
  });

  it('a slot ending inside a 2M unit disallows 2M there (disallow_lpage at the last unit)', () => {
    //   gpa: 0 ── 2M ── 4M ── 5M)      units: [2M][2M][½]  → 2 × 2M + 256 × 4K
    const { task, vm, hva, vcpu } = anonGuest({ size: 5 * MiB, thp: true });
    runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: 0, bytes: 5 * MiB });
    expect([stat(task, vm, 'pages_4k'), stat(task, vm, 'pages_2m')]).toEqual([256, 2]);
    checkEpt(vm.kvm, task.mm);
  });

  function dmemGuest(pagesize: '2M' | '1G', size: number) {
    const { host, task } = bootKvm({ mem: 8 * GiB, cmdline: 'dmem=2G' });
    task.mkdir('/mnt/d', 0o755);
    task.mount('none', '/mnt/d', 'dmemfs', 0, `pagesize=${pagesize}`);
    const fd = task.open('/mnt/d/guest', O_RDWR | O_CREAT, 0o600);
    task.ftruncate(fd, size);
    const hva = task.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const vm = createVm(task);
    setRegion(task, vm.vmFd, 0, 0, size, hva);
    const vcpu = createVcpu(task, vm.vmFd);
    return { host, task, fd, hva, vm, vcpu };
  }

  it('dmemfs 2M pages map at 2M through follow_pfnmap', () => {
    const { task, hva, vm, vcpu } = dmemGuest('2M', 16 * MiB);
    runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: 0, bytes: 16 * MiB });
    expect([stat(task, vm, 'pages_4k'), stat(task, vm, 'pages_2m'), stat(task, vm, 'pages_1g')]).toEqual([0, 8, 0]);
    checkEpt(vm.kvm, task.mm);
  });

  it('dmemfs 1G pages map at 1G', () => {
    const { task, hva, vm, vcpu } = dmemGuest('1G', GiB);
    runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: 0, bytes: 64 * MiB });
    expect([stat(task, vm, 'pages_4k'), stat(task, vm, 'pages_2m'), stat(task, vm, 'pages_1g')]).toEqual([0, 0, 1]);
    // PGD + PUD: one EPT table below the root.
    expect(vm.kvm.ept.nr_tables()).toBe(2);
    checkEpt(vm.kvm, task.mm);
  });
});

describe('exits', () => {
  it('no slot at the gpa: KVM_EXIT_MMIO; a read completes with the data userspace gives', () => {
    //   gpa: [0, 64K) RAM            [64K, 68K) nothing → MMIO
    const { task, vm, hva, vcpu } = anonGuest({ size: 64 * 1024, thp: false });
    const run = runProgram(task, vcpu, hva, { flags: GUEST_FLAG_CHECKSUM, start_gpa: 60 * 1024, bytes: 2 * P });
    expect(run.exit_reason).toBe(KVM_EXIT_MMIO);
    expect(run.mmio).toMatchObject({ phys_addr: 64 * 1024, len: 8, is_write: 0 });
    run.mmio!.data.set([0x78, 0x56, 0x34, 0x12]);
    task.ioctl(vcpu, KVM_RUN, run);
    expect(run.exit_reason).toBe(KVM_EXIT_IO);
    // The checksum (XOR of the reads): page 60K reads 0, the MMIO read 0x12345678.
    expect(new DataView(task.load(hva + 48, 8).buffer).getUint32(0, true)).toBe(0x12345678);
    expect(stat(task, vm, 'mmio_exits')).toBe(1);
    expect(stat(task, vm, 'pf_emulate')).toBe(1);
  });

  it('a write to a READONLY slot exits as MMIO; reads are served from memory', () => {
    const { task, vm, hva, vcpu } = anonGuest({ size: 64 * 1024, thp: false });
    const rom = task.mmap(0, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    task.store(rom, new Uint8Array([9]));
    setRegion(task, vm.vmFd, 1, MiB, 4 * P, rom, KVM_MEM_READONLY);
    let run = runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: MiB, bytes: P });
    expect(run.exit_reason).toBe(KVM_EXIT_MMIO);
    expect(run.mmio).toMatchObject({ phys_addr: MiB, is_write: 1 });
    // Re-entering completes the emulated write; the program then reports.
    task.ioctl(vcpu, KVM_RUN, run);
    expect(run.exit_reason).toBe(KVM_EXIT_IO);
    run = runProgram(task, vcpu, hva, { flags: GUEST_FLAG_CHECKSUM, start_gpa: MiB, bytes: P });
    expect(run.exit_reason).toBe(KVM_EXIT_IO);
    expect(task.load(hva + 48, 1)[0]).toBe(9);
  });

  it('no memory at gpa 0 (where the program lives): an emulation failure', () => {
    const { task } = bootKvm();
    const vm = createVm(task);
    const vcpu = createVcpu(task, vm.vmFd);
    const run = new_kvm_run();
    task.ioctl(vcpu, KVM_RUN, run);
    expect(run.exit_reason).toBe(KVM_EXIT_INTERNAL_ERROR);
  });

  it('a slot over unmapped host memory: KVM_RUN fails with EFAULT', () => {
    const { task, vm, hva, vcpu } = anonGuest({ size: 64 * 1024, thp: false });
    setRegion(task, vm.vmFd, 1, MiB, P, 2 ** 40);
    expect(errno(() => runProgram(task, vcpu, hva, { start_gpa: MiB, bytes: P }))).toBe('EFAULT');
  });
});

describe('dirty logging', () => {
  it('maps at 4K, logs writes, and write-protects what KVM_GET_DIRTY_LOG returned', () => {
    const { task, vm, hva, vcpu } = anonGuest({ size: 4 * MiB, thp: true });
    const buf = new Uint8Array(128);
    expect(errno(() => task.ioctl(vm.vmFd, KVM_GET_DIRTY_LOG, { slot: 0, dirty_bitmap: buf }))).toBe('ENOENT');
    setRegion(task, vm.vmFd, 0, 0, 4 * MiB, hva, KVM_MEM_LOG_DIRTY_PAGES);
    runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: 8 * P, bytes: 3 * P });
    expect([stat(task, vm, 'pages_4k'), stat(task, vm, 'pages_2m')]).toEqual([4, 0]);
    task.ioctl(vm.vmFd, KVM_GET_DIRTY_LOG, { slot: 0, dirty_bitmap: buf });
    // Page 0 was only read (but its host PTE is writable, so mapped writable and logged), pages 8-10 written.
    expect([...buf.subarray(0, 2)]).toEqual([0b0000_0001, 0b0000_0111]);
    task.ioctl(vm.vmFd, KVM_GET_DIRTY_LOG, { slot: 0, dirty_bitmap: buf });
    expect([...buf.subarray(0, 2)]).toEqual([0, 0]);
    runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: 9 * P, bytes: P });
    task.ioctl(vm.vmFd, KVM_GET_DIRTY_LOG, { slot: 0, dirty_bitmap: buf });
    expect([...buf.subarray(0, 2)]).toEqual([0, 0b0000_0010]);
    expect(stat(task, vm, 'pf_fast')).toBe(1);
    expect(errno(() => task.ioctl(vm.vmFd, KVM_GET_DIRTY_LOG, { slot: 0, dirty_bitmap: new Uint8Array(8) }))).toBe('EFAULT');
    checkEpt(vm.kvm, task.mm);
  });

  it('turning logging on write-protects huge mappings; the next write maps that 4K page', () => {
    const { task, vm, hva, vcpu } = anonGuest({ size: 4 * MiB, thp: true });
    runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: 0, bytes: 4 * MiB });
    expect(stat(task, vm, 'pages_2m')).toBe(2);
    setRegion(task, vm.vmFd, 0, 0, 4 * MiB, hva, KVM_MEM_LOG_DIRTY_PAGES);
    runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: 3 * MiB, bytes: P, pattern: GUEST_PATTERN_RANDOM });
    expect([stat(task, vm, 'pages_4k'), stat(task, vm, 'pages_2m')]).toEqual([1, 1]);
    setRegion(task, vm.vmFd, 0, 0, 4 * MiB, hva, 0);
    expect([stat(task, vm, 'pages_4k'), stat(task, vm, 'pages_2m')]).toEqual([0, 0]);
    checkEpt(vm.kvm, task.mm);
  });
});

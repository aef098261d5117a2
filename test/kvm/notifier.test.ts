/**
 * MMU notifiers: whatever removes or changes the VMM's mapping of guest memory
 * removes the EPT's copy of it first (munmap, MADV_DONTNEED, truncate, THP
 * split, copy-on-write, memory failure), and poison reaches the VMM as Linux sends it.
 */
import { describe, expect, it } from 'vitest';
import { GiB, MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { follow_page } from '../../src/kernel/mm/gup.ts';
import { O_CREAT, O_RDWR } from '../../src/uapi/fcntl.ts';
import { GUEST_FLAG_CHECKSUM, GUEST_FLAG_WRITE, KVM_EXIT_INTR, KVM_RUN, new_kvm_run } from '../../src/uapi/kvm.ts';
import { MADV_DONTNEED, MADV_NOHUGEPAGE, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { BUS_MCEERR_AR, SIGBUS, Signal } from '../../src/uapi/signal.ts';
import type { Task } from '../../src/kernel/process.ts';
import { bootKvm, createVcpu, createVm, errno, readFile, runProgram, setRegion, vmStat, type Vm } from './helpers.ts';
import { checkEpt } from './invariants.ts';

const P = PAGE_SIZE;
const stat = (task: Task, vm: Vm, name: string) => vmStat(task, vm, name, readFile);

function anon(pages: number, thp = false) {
  const { host, task } = bootKvm({ mem: 4 * GiB });
  const hva = task.mmap(GiB, pages * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (!thp) task.madvise(hva, pages * P, MADV_NOHUGEPAGE);
  const vm = createVm(task);
  setRegion(task, vm.vmFd, 0, 0, pages * P, hva);
  const vcpu = createVcpu(task, vm.vmFd);
  runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: P, bytes: (pages - 1) * P });
  return { host, task, hva, vm, vcpu };
}

/** The guest's checksum read of pages [first, first + n). */
function guestRead(task: Task, vcpu: number, hva0: number, first: number, n: number): number {
  runProgram(task, vcpu, hva0, { flags: GUEST_FLAG_CHECKSUM, start_gpa: first * P, bytes: n * P });
  return new DataView(task.load(hva0 + 48, 8).buffer).getUint32(0, true);
}

describe('MMU notifier zaps', () => {
  it('munmap: the EPT forgets the range; the guest then faults (EFAULT)', () => {
    //   gpa/hva pages: 0 1 2 3 4 5 6 7 8 ... 15
    //   munmap            [4 ....... 8)
    const { task, hva, vm, vcpu } = anon(16);
    expect(stat(task, vm, 'pages_4k')).toBe(16);
    task.munmap(hva + 4 * P, 4 * P);
    expect(stat(task, vm, 'pages_4k')).toBe(12);
    checkEpt(vm.kvm, task.mm);
    expect(errno(() => guestRead(task, vcpu, hva, 5, 1))).toBe('EFAULT');
  });

  it('MADV_DONTNEED: the guest reads the fresh zero page, not the old frame', () => {
    const { task, hva, vm, vcpu } = anon(16);
    expect(guestRead(task, vcpu, hva, 3, 1)).toBe(3 * P);
    task.madvise(hva + 3 * P, P, MADV_DONTNEED);
    checkEpt(vm.kvm, task.mm);
    task.ioctl(vcpu, KVM_RUN, new_kvm_run()); // finish the earlier program's report
    expect(guestRead(task, vcpu, hva, 3, 1)).toBe(0);
  });

  it('a VMM write to a page the guest mapped read-only (zero page) reaches the guest (COW)', () => {
    const { task } = bootKvm();
    const hva = task.mmap(0, 8 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    task.madvise(hva, 8 * P, MADV_NOHUGEPAGE);
    const vm = createVm(task);
    setRegion(task, vm.vmFd, 0, 0, 8 * P, hva);
    const vcpu = createVcpu(task, vm.vmFd);
    expect(guestRead(task, vcpu, hva, 5, 1)).toBe(0);
    task.store(hva + 5 * P, new Uint8Array([0x44, 0x33]));
    checkEpt(vm.kvm, task.mm);
    expect(guestRead(task, vcpu, hva, 5, 1)).toBe(0x3344);
  });

  it('truncate of a memfd backing: the EPT drops the pages past the new size', () => {
    const { task } = bootKvm();
    const fd = task.memfd_create('guest', 0);
    task.ftruncate(fd, 16 * P);
    const hva = task.mmap(0, 16 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const vm = createVm(task);
    setRegion(task, vm.vmFd, 0, 0, 16 * P, hva);
    const vcpu = createVcpu(task, vm.vmFd);
    runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: P, bytes: 15 * P });
    expect(stat(task, vm, 'pages_4k')).toBe(16);
    task.ftruncate(fd, 8 * P);
    expect(stat(task, vm, 'pages_4k')).toBe(8);
    checkEpt(vm.kvm, task.mm);
    // Past EOF the host fault is SIGBUS, which GUP reports as EFAULT.
    expect(errno(() => guestRead(task, vcpu, hva, 12, 1))).toBe('EFAULT');
  });

  it('a THP split (munmap of one 4K page inside it) drops the 2M EPT entry', () => {
    const { task } = bootKvm({ mem: 4 * GiB });
    const hva = task.mmap(GiB, 4 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    const vm = createVm(task);
    setRegion(task, vm.vmFd, 0, 0, 4 * MiB, hva);
    const vcpu = createVcpu(task, vm.vmFd);
    runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: 0, bytes: 4 * MiB });
    expect(stat(task, vm, 'pages_2m')).toBe(2);
    task.munmap(hva + 3 * MiB, P);
    expect(stat(task, vm, 'pages_2m')).toBe(1);
    checkEpt(vm.kvm, task.mm);
    // The rest of that 2M refaults at 4K (the host maps it with PTEs now).
    expect(guestRead(task, vcpu, hva, (2 * MiB) / P, 1)).toBe(2 * MiB);
    expect(stat(task, vm, 'pages_4k')).toBe(1);
  });

  it('memory failure: the EPT entry goes; the guest touching it sends the VMM SIGBUS BUS_MCEERR_AR', () => {
    const { task, hva, vm, vcpu } = anon(16);
    const pfn = follow_page(task.mm, hva + 6 * P)!.pfn;
    const fd = task.open('/sys/kernel/debug/hwpoison/corrupt-pfn', O_RDWR);
    task.write(fd, `0x${pfn.toString(16)}\n`);
    task.close(fd);
    expect(stat(task, vm, 'pages_4k')).toBe(15);
    checkEpt(vm.kvm, task.mm);
    const run = new_kvm_run();
    let sig: Signal | null = null;
    try {
      runProgram(task, vcpu, hva, { flags: GUEST_FLAG_CHECKSUM, start_gpa: 6 * P, bytes: P }, run);
    } catch (e) {
      if (!(e instanceof Signal)) throw e;
      sig = e;
    }
    // x86 KVM sends si_addr_lsb = PAGE_SHIFT (kvm_send_hwpoison_signal).
    expect(sig && { signo: sig.signo, code: sig.code, addr: sig.addr, lsb: sig.addrLsb }).toEqual({ signo: SIGBUS, code: BUS_MCEERR_AR, addr: hva + 6 * P, lsb: 12 });
    expect(run.exit_reason).toBe(KVM_EXIT_INTR);
    expect(stat(task, vm, 'signal_exits')).toBe(1);
  });

  it('poisoned dmemfs memory stays mapped: the guest\'s read of the bad frame is a machine check (SIGBUS BUS_MCEERR_AR to the VMM), its neighbours read fine', () => {
    const { task } = bootKvm({ mem: 8 * GiB, cmdline: 'dmem=2G' });
    task.mkdir('/mnt/d', 0o755);
    task.mount('none', '/mnt/d', 'dmemfs', 0, 'pagesize=2M');
    const fd = task.open('/mnt/d/g', O_RDWR | O_CREAT, 0o600);
    task.ftruncate(fd, 4 * MiB);
    const hva = task.mmap(0, 4 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const vm = createVm(task);
    setRegion(task, vm.vmFd, 0, 0, 4 * MiB, hva);
    const vcpu = createVcpu(task, vm.vmFd);
    runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: 0, bytes: 4 * MiB });
    expect(stat(task, vm, 'pages_2m')).toBe(2);
    const pfn = follow_page(task.mm, hva + 3 * MiB)!.pfn;
    // Unmapped first, so memory_failure finds no mapper to kill with BUS_MCEERR_AO.
    task.munmap(hva + 2 * MiB, 2 * MiB);
    expect(stat(task, vm, 'pages_2m')).toBe(1);
    const inj = task.open('/sys/kernel/debug/hwpoison/corrupt-pfn', O_RDWR);
    task.write(inj, `0x${pfn.toString(16)}\n`);
    task.close(inj);
    task.mmap(hva + 2 * MiB, 2 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 2 * MiB);
    checkEpt(vm.kvm, task.mm);
    expect(errno(() => guestRead(task, vcpu, hva, (3 * MiB) / P + 1, 1))).toBe('ok');
    let sig: unknown = null;
    try {
      guestRead(task, vcpu, hva, (3 * MiB) / P, 1);
    } catch (e) {
      sig = e;
    }
    expect(sig).toMatchObject({ signo: SIGBUS, code: BUS_MCEERR_AR, addr: hva + 3 * MiB, addrLsb: 12 });
  });

  it('deleting and moving a slot zaps it and frees its tables', () => {
    const { task, hva, vm } = anon(16);
    const t0 = vm.kvm.ept.nr_tables();
    expect(t0).toBe(4);
    setRegion(task, vm.vmFd, 0, MiB, 16 * P, hva);
    expect([stat(task, vm, 'pages_4k'), vm.kvm.ept.nr_tables()]).toEqual([0, 1]);
    setRegion(task, vm.vmFd, 0, 0, 0, 0);
    expect(vm.kvm.ept.nr_tables()).toBe(1);
  });
});

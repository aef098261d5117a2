/**
 * Consumers of device-dax: KVM maps a 1G-aligned devdax device at 1G (through
 * get_user_pages on ZONE_DEVICE pages with struct pages, through the PFNMAP
 * path with map=0), and memory failure on devdax frames. With map=0 the
 * mapping of a bad frame survives, so the next access reaches it: a machine
 * check (kernel/mce.ts), by the task itself or by its guest.
 *
 *   2M mapping (map=0)   [ 4K ok │ 4K poisoned │ 4K ok … ]   ← still one PMD leaf
 *                                  └ load/store or guest access: #MC → SIGBUS BUS_MCEERR_AR, lsb 12
 */
import { describe, expect, it } from 'vitest';
import { GiB, MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { O_RDWR } from '../../src/uapi/fcntl.ts';
import { GUEST_FLAG_CHECKSUM, GUEST_FLAG_WRITE, KVM_EXIT_INTR, KVM_RUN, encode_guest_program, new_kvm_run } from '../../src/uapi/kvm.ts';
import { MADV_DONTFORK, MAP_FIXED, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { BUS_MCEERR_AO, BUS_MCEERR_AR, SIGBUS, Signal } from '../../src/uapi/signal.ts';
import { get_user_pages } from '../../src/kernel/mm/gup.ts';
import { createVcpu, createVm, readFile, runProgram, setRegion, vmStat } from '../kvm/helpers.ts';
import { D, bootDax, enable, put, signal } from './helpers.ts';

function devdax(align: number, size: number, map = true): ReturnType<typeof bootDax> & { hva: number } {
  const b = bootDax();
  const drv = '/sys/bus/dax/drivers/device_dax';
  put(b.task, drv + '/unbind', 'dax0.0');
  put(b.task, D('dax0.0') + '/size', '0');
  put(b.task, D('dax0.0') + '/align', String(align));
  put(b.task, D('dax0.0') + '/size', String(size));
  if (!map) put(b.task, D('dax0.0') + '/map', '0');
  enable(b.task, 'dax0.0');
  const fd = b.task.open('/dev/dax0.0', O_RDWR);
  const hva = b.task.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (!map) b.task.madvise(hva, size, MADV_DONTFORK);
  return { ...b, hva };
}

describe('KVM on devdax', () => {
  it.each([true, false])('a 1G device maps at 1G in the EPT (map=%s)', (map) => {
    const { task, hva } = devdax(GiB, GiB, map);
    const vm = createVm(task);
    setRegion(task, vm.vmFd, 0, 0, GiB, hva);
    const vcpu = createVcpu(task, vm.vmFd);
    runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: 0, bytes: 64 * MiB });
    const st = (n: string): number => vmStat(task, vm, n, readFile);
    expect([st('pages_4k'), st('pages_2m'), st('pages_1g')]).toEqual([0, 0, 1]);
  });

  it('get_user_pages returns the device frames (ZONE_DEVICE pages, not buddy frames)', () => {
    const { host, task, hva } = devdax(2 * MiB, 4 * MiB);
    const [pfn] = get_user_pages(task.mm, hva + 2 * MiB, 1, true);
    expect(pfn).toBe((0x400000000 + 2 * MiB) / PAGE_SIZE);
    // a ZONE_DEVICE page: it has a struct page, and the page allocator never had it
    expect(host.mem.sparse.pfn_valid(pfn!)).toBe(true);
    expect(host.mem.e820.entries.find((e) => e.addr <= pfn! * PAGE_SIZE && e.addr + e.size > pfn! * PAGE_SIZE)?.type).toBe(0xefffffff);
  });
});

describe('memory failure', () => {
  it('with struct pages: the 2M block is unmapped and every mapper gets AO with lsb 21 (force_early)', () => {
    const { host, task, hva } = devdax(2 * MiB, 4 * MiB);
    task.store(hva + 2 * MiB, new Uint8Array([1]));
    const pfn = (0x400000000 + 2 * MiB + 3 * PAGE_SIZE) / PAGE_SIZE;
    const rc = host.mf.memory_failure(pfn);
    expect(rc).toBe(0);
    expect(task.lastSiginfo).toEqual({ signo: SIGBUS, code: BUS_MCEERR_AO, addr: hva + 2 * MiB + 3 * PAGE_SIZE, lsb: 21 });
    expect(host.log.render()).toMatch(/recovery action for dax page: Recovered/);
  });

  it('a poisoned block found before anyone mapped it: it maps again, and touching the bad frame is a machine check (BUS_MCEERR_AR)', () => {
    const { host, task, hva } = devdax(2 * MiB, 4 * MiB);
    task.munmap(hva, 4 * MiB);
    host.mf.memory_failure((0x400000000 + 2 * MiB) / PAGE_SIZE);
    const fd = task.open('/dev/dax0.0', O_RDWR);
    task.mmap(hva, 4 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    expect(signal(() => task.load(hva + 2 * MiB + 100, 1))).toBe(`SIGBUS/${BUS_MCEERR_AR}`);
    expect(signal(() => task.load(hva, 1))).toBe('ok');
  });

  it('map=0: the mappers get AO with lsb 12 and the huge mapping stays', () => {
    const { host, task, hva } = devdax(2 * MiB, 4 * MiB, false);
    task.store(hva, new Uint8Array([7]));
    let info: unknown = null;
    task.sigaction(SIGBUS, (i) => (info = i));
    host.mf.memory_failure(0x400000000 / PAGE_SIZE + 1);
    expect(info).toMatchObject({ signo: SIGBUS, code: BUS_MCEERR_AO, addr: hva + PAGE_SIZE, addrLsb: 12 });
    expect(task.mm.pgtables.walk(hva)).not.toBe(0);
  });

  it('map=0: touching the poisoned 4K is a machine check — SIGBUS BUS_MCEERR_AR at that page, lsb 12; its neighbours still work', () => {
    const { host, task, hva } = devdax(2 * MiB, 4 * MiB, false);
    task.store(hva + PAGE_SIZE, new Uint8Array([7]));
    task.sigaction(SIGBUS, () => {}); // survive the AO of the early kill
    const pfn = 0x400000000 / PAGE_SIZE + 1;
    host.mf.memory_failure(pfn);
    const mark = host.log.render().length;
    expect(task.load(hva + 2 * PAGE_SIZE, 1)[0]).toBe(0);
    let sig: unknown = null;
    try {
      task.load(hva + PAGE_SIZE + 5, 1);
    } catch (e) {
      sig = e;
    }
    expect(sig).toBeInstanceOf(Signal);
    expect(sig).toMatchObject({ signo: SIGBUS, code: BUS_MCEERR_AR, addr: hva + PAGE_SIZE, addrLsb: 12 });
    expect(host.log.render().slice(mark)).toMatch(
      new RegExp(
        `mce: Uncorrected hardware memory error in user-access at 400001005\n.*Memory failure: 0x${pfn.toString(16)}: already hardware poisoned\n` +
          `.*Memory failure: 0x${pfn.toString(16)}: Sending SIGBUS to ${task.comm}:${task.pid} due to hardware memory corruption`,
      ),
    );
    expect(task.mm.pgtables.walk(hva)).not.toBe(0); // still mapped: every touch is another #MC
    expect(signal(() => task.store(hva + PAGE_SIZE, new Uint8Array([1])))).toBe(`SIGBUS/${BUS_MCEERR_AR}`);
  });

  it.each([
    ['already in the EPT', true],
    ['new to the guest, mapped by the VMM (the batched EPT fault path)', false],
  ])('map=0 behind a guest, %s: reading the poisoned page exits KVM_RUN with SIGBUS BUS_MCEERR_AR at its host address', (_, before) => {
    const { host, task, hva } = devdax(2 * MiB, 4 * MiB, false);
    task.store(hva, new Uint8Array([0])); // the VMM's 2M leaf (devdax refuses to map a block with a known error)
    const vm = createVm(task);
    setRegion(task, vm.vmFd, 0, 0, 4 * MiB, hva);
    const vcpu = createVcpu(task, vm.vmFd);
    if (before) runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: PAGE_SIZE, bytes: 64 * PAGE_SIZE });
    task.sigaction(SIGBUS, () => {});
    host.mf.memory_failure(0x400000000 / PAGE_SIZE + 9); // gpa 36K
    const run = new_kvm_run();
    task.store(hva, encode_guest_program({ pattern: 0, flags: GUEST_FLAG_CHECKSUM, start_gpa: PAGE_SIZE, bytes: 64 * PAGE_SIZE, seed: 1, hot_percent: 10, iterations: 1 }));
    let sig: unknown = null;
    try {
      task.ioctl(vcpu, KVM_RUN, run);
    } catch (e) {
      sig = e;
    }
    expect(run.exit_reason).toBe(KVM_EXIT_INTR);
    expect(sig).toMatchObject({ signo: SIGBUS, code: BUS_MCEERR_AR, addr: hva + 9 * PAGE_SIZE, addrLsb: 12 });
  });

  it('a block with a known bad frame mapped afresh: the device maps it (as __dev_dax_pmd_fault, which checks nothing); the guest reading the bad frame is a machine check', () => {
    const { host, task, hva } = devdax(2 * MiB, 4 * MiB, false);
    const vm = createVm(task);
    setRegion(task, vm.vmFd, 0, 0, 4 * MiB, hva);
    const vcpu = createVcpu(task, vm.vmFd);
    task.store(hva, new Uint8Array([0])); // the first 2M block, for the descriptor
    task.sigaction(SIGBUS, () => {}); // the early kill's AO
    host.mf.memory_failure((0x400000000 + 2 * MiB) / PAGE_SIZE + 3); // the second block is not faulted in yet
    const run = new_kvm_run();
    const read = (page: number): unknown => {
      task.store(hva, encode_guest_program({ pattern: 0, flags: GUEST_FLAG_CHECKSUM, start_gpa: 2 * MiB + page * PAGE_SIZE, bytes: PAGE_SIZE, seed: 1, hot_percent: 10, iterations: 1 }));
      try {
        task.ioctl(vcpu, KVM_RUN, run);
        return 'ok';
      } catch (e) {
        return e;
      }
    };
    expect(read(2)).toBe('ok');
    expect(read(3)).toMatchObject({ signo: SIGBUS, code: BUS_MCEERR_AR, addr: hva + 2 * MiB + 3 * PAGE_SIZE, addrLsb: 12 });
    expect(task.state).toBe('R');
  });
});

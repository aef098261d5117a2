/**
 * The batched 4K fault paths (mm/fault_run.ts: handle_mm_fault's shortcut and
 * populate's runs; kvm/mmu_run.ts: a sequential guest's EPT violations as runs)
 * against the page-by-page path (fault_runs.enabled = false): the same workload
 * on two identical hosts must leave every counter, every entry and every byte
 * the same.
 *
 *   hva   |.. prefaulted ..|.. zero page ..|........ untouched ........|
 *   gpa   0 (program)      ...                                     N pages
 *   the slot's hva is not 2M-aligned with its gpa, so runs end at both tables' edges.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Errno } from '../../src/lib/errno.ts';
import { GiB, MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { fault_runs } from '../../src/kernel/mm/fault_run.ts';
import { NODE_STAT_NAMES, VM_EVENT_NAMES } from '../../src/kernel/mm/vmstat.ts';
import { KVM_VCPU_STATS, KVM_VM_STATS } from '../../src/kernel/kvm/kvm_host.ts';
import { O_CREAT, O_RDWR } from '../../src/uapi/fcntl.ts';
import { GUEST_FLAG_CHECKSUM, GUEST_FLAG_WRITE, KVM_RUN, encode_guest_program, new_kvm_run } from '../../src/uapi/kvm.ts';
import { MADV_NOHUGEPAGE, MADV_POPULATE_WRITE, MAP_ANONYMOUS, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { Signal } from '../../src/uapi/signal.ts';
import { bootKvm, createVcpu, createVm, setRegion } from './helpers.ts';

const P = PAGE_SIZE;
const HVA = 64 * GiB + 5 * P; // not 2M-aligned: host and EPT tables end at different pages

interface Case {
  backing: 'anon' | 'memfd' | 'dmemfs';
  pages: number;
  write: boolean;
  iterations: number;
  startPage: number;
  prefault: number;
  zeroMapped: number;
  populate: number;
  memMiB: number;
  /** dmemfs: the file is this many pages shorter than the mapping (the guest meets EOF). */
  short?: number;
  /** Extra boot arguments (dmem=, dmemfs.max_alloc_try_dpages=). */
  cmdline?: string;
}

/** Run one case and describe everything it left behind. */
function runCase(c: Case, batched: boolean): unknown {
  fault_runs.enabled = batched;
  try {
    const { host, task } = bootKvm({ mem: ((c.backing === 'dmemfs' ? 2048 : 0) + c.memMiB) * MiB, cmdline: c.cmdline ?? (c.backing === 'dmemfs' ? 'dmem=1G' : '') });
    const bytes = c.pages * P;
    const RW = PROT_READ | PROT_WRITE;
    if (c.backing === 'anon') {
      task.mmap(HVA, bytes, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
      task.madvise(HVA, bytes, MADV_NOHUGEPAGE);
    } else {
      let fd: number;
      if (c.backing === 'memfd') fd = task.memfd_create('guest', 0);
      else {
        task.mount('none', '/mnt', 'dmemfs', 0, 'pagesize=4K');
        fd = task.open('/mnt/guest', O_RDWR | O_CREAT, 0o600);
      }
      task.ftruncate(fd, bytes - (c.short ?? 0) * P);
      task.mmap(HVA, bytes, RW, MAP_SHARED | MAP_FIXED, fd, 0);
      task.close(fd);
    }
    // Host state before the guest runs: written pages, zero-page (read) pages, a populated range.
    for (let i = 1; i <= c.prefault; i++) task.store(HVA + i * P, new Uint8Array([i & 0xff, 7]));
    for (let i = 0; i < c.zeroMapped; i++) task.load(HVA + (c.prefault + 1 + i) * P, 1);
    const outcome: string[] = [];
    try {
      if (c.populate > 0) task.madvise(HVA + (c.pages - c.populate) * P, c.populate * P, MADV_POPULATE_WRITE);
    } catch (e) {
      outcome.push(`populate: ${e instanceof Errno ? e.code : String(e)}`);
    }
    const vm = createVm(task);
    setRegion(task, vm.vmFd, 0, 0, bytes, HVA);
    const vcpu = createVcpu(task, vm.vmFd);
    const flags = (c.write ? GUEST_FLAG_WRITE : 0) | GUEST_FLAG_CHECKSUM;
    const run = new_kvm_run();
    try {
      task.store(HVA, encode_guest_program({ pattern: 0, flags, start_gpa: c.startPage * P, bytes: bytes - c.startPage * P, seed: 1, hot_percent: 10, iterations: c.iterations }));
      task.ioctl(vcpu, KVM_RUN, run);
      outcome.push(`exit ${run.exit_reason}`);
    } catch (e) {
      outcome.push(e instanceof Errno ? e.code : e instanceof Signal ? `signal ${e.signo}/${e.code}` : String(e));
    }
    const mm = task.mm;
    const kvm = vm.kvm;
    const ept: number[] = [];
    const bytesBack: number[][] = [];
    for (let p = 0; p < c.pages; p++) {
      const e = kvm.ept.walk(p * P);
      ept.push(e, kvm.ept.lastLevel);
      const h = mm.pgtables.walk(HVA + p * P);
      ept.push(h);
      if (h !== 0 && h % P & 1) bytesBack.push([...host.dram.read(Math.floor(h / P) * P, 16)], [host.dram.readUint(Math.floor(h / P) * P + 4088, 4)]);
    }
    mm.pgtables.validate();
    kvm.ept.validate();
    return {
      outcome,
      vcpu: KVM_VCPU_STATS.map((n) => kvm.statByName(n)),
      vm: KVM_VM_STATS.map((n) => kvm.statByName(n)),
      events: VM_EVENT_NAMES.map((_, i) => host.vmstat.event(i)),
      node: NODE_STAT_NAMES.map((_, i) => host.vmstat.global(i)),
      rss: [...mm.rss],
      flt: [mm.minflt, mm.majflt, ...mm.faultsByLevel],
      leaves: [mm.pgtables.count_leaves(), kvm.ept.count_leaves(), mm.pgtables.nr_tables(), kvm.ept.nr_tables()],
      dram: [host.dram.bytesZeroed, host.dram.bytesCopied, host.dram.residentFrames],
      buddy: [...host.mem.buddy.numa_stat, host.mem.buddy.alloc_failures],
      dmem: [host.dmem.free_dpages(), host.dmem.free_dpages(0)],
      dfile: c.backing === 'dmemfs' ? task.stat('/mnt/guest') : null,
      ept,
      bytesBack,
    };
  } finally {
    fault_runs.enabled = true;
  }
}

describe('batched 4K faults = page-by-page faults', () => {
  afterEach(() => {
    fault_runs.enabled = true;
  });

  it('a 3 MiB anonymous guest writing every page: same counters, entries and bytes, and runs were taken', () => {
    const c: Case = { backing: 'anon', pages: 768, write: true, iterations: 1, startPage: 1, prefault: 3, zeroMapped: 2, populate: 200, memMiB: 512 };
    const before = fault_runs.kvmRunPages;
    const a = runCase(c, true);
    expect(fault_runs.kvmRunPages - before).toBeGreaterThan(700);
    expect(a).toEqual(runCase(c, false));
    expect((a as { outcome: string[] }).outcome).toEqual(['exit 2']);
  });

  it('dmemfs 4K and memfd guests, reads and writes, two passes, a populated tail', () => {
    for (const backing of ['dmemfs', 'memfd'] as const) {
      for (const write of [true, false]) {
        const c: Case = { backing, pages: 700, write, iterations: 2, startPage: 3, prefault: 2, zeroMapped: 0, populate: 100, memMiB: 512 };
        const before = fault_runs.kvmRunPages;
        const a = runCase(c, true);
        expect(fault_runs.kvmRunPages - before).toBeGreaterThan(400);
        expect(a).toEqual(runCase(c, false));
      }
    }
  });

  it('dmemfs 4K: the driver resolves the host faults in runs; EOF, an empty pool and other alloc sizes agree', () => {
    const base: Case = { backing: 'dmemfs', pages: 1500, write: true, iterations: 1, startPage: 1, prefault: 5, zeroMapped: 0, populate: 0, memMiB: 512 };
    const before = fault_runs.driverRunPages;
    const a = runCase(base, true) as { outcome: string[] };
    expect(fault_runs.driverRunPages - before).toBeGreaterThan(1400);
    expect(a.outcome).toEqual(['exit 2']);
    expect(a).toEqual(runCase(base, false));
    // The file ends 300 pages before the mapping: SIGBUS at EOF, seen by KVM as EFAULT.
    const eof = { ...base, short: 300 };
    const b = runCase(eof, true) as { outcome: string[] };
    expect(b.outcome).toEqual(['EFAULT']);
    expect(b).toEqual(runCase(eof, false));
    // A 128 MiB pool (the smallest: one memory section) for a 131 MiB guest: the pool runs dry at the same page.
    const dry = { ...base, pages: 33600, cmdline: 'dmem=128M' };
    const d = runCase(dry, true) as { outcome: string[] };
    expect(d.outcome).toEqual(['EFAULT']);
    expect(d).toEqual(runCase(dry, false));
    // Several dpages per allocation: the driver declines, the result is the same.
    const multi = { ...base, cmdline: 'dmem=1G dmemfs.max_alloc_try_dpages=3' };
    const m0 = fault_runs.driverRunPages;
    const m = runCase(multi, true);
    expect(fault_runs.driverRunPages).toBe(m0);
    expect(m).toEqual(runCase(multi, false));
  });

  it('a guest bigger than the host runs out of memory at the same page either way', () => {
    const c: Case = { backing: 'anon', pages: 60000, write: true, iterations: 1, startPage: 1, prefault: 0, zeroMapped: 0, populate: 0, memMiB: 256 };
    const a = runCase(c, true) as { outcome: string[] };
    expect(a.outcome).toEqual(['EFAULT']);
    expect(a).toEqual(runCase(c, false));
  });

  it('property: random shapes of host state and guest pass', () => {
    const arb = fc.record({
      backing: fc.constantFrom('anon' as const, 'memfd' as const, 'dmemfs' as const),
      pages: fc.integer({ min: 2, max: 1100 }),
      write: fc.boolean(),
      iterations: fc.integer({ min: 1, max: 2 }),
      startPage: fc.integer({ min: 1, max: 600 }),
      prefault: fc.integer({ min: 0, max: 40 }),
      zeroMapped: fc.integer({ min: 0, max: 40 }),
      populate: fc.integer({ min: 0, max: 600 }),
      memMiB: fc.constant(512),
    });
    fc.assert(
      fc.property(arb, (c) => {
        const fixed = { ...c, startPage: Math.min(c.startPage, c.pages - 1), prefault: Math.min(c.prefault, c.pages - 1), populate: Math.min(c.populate, c.pages) };
        fixed.zeroMapped = Math.min(fixed.zeroMapped, c.pages - 1 - fixed.prefault);
        expect(runCase(fixed, true)).toEqual(runCase(fixed, false));
      }),
      { numRuns: 12 },
    );
  });
});

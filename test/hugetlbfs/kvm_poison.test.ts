/**
 * hugetlbfs memory behind KVM guests (mapped at 2M/1G: the pages have struct
 * pages and go through GUP) and memory failure on in-use huge pages (the whole
 * page is unmapped everywhere, mappers that asked for early kill get SIGBUS
 * BUS_MCEERR_AO with si_addr_lsb 21/30, and a later access BUS_MCEERR_AR; the
 * page is never mapped again). Memory errors are injected through debugfs hwpoison/corrupt-pfn.
 */
import { describe, expect, it } from 'vitest';
import { GiB, MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { GUEST_FLAG_WRITE, KVM_EXIT_IO } from '../../src/uapi/kvm.ts';
import { MAP_ANONYMOUS, MAP_HUGE_1GB, MAP_HUGETLB, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { BUS_MCEERR_AO, BUS_MCEERR_AR } from '../../src/uapi/signal.ts';
import { PR_MCE_KILL, PR_MCE_KILL_EARLY, PR_MCE_KILL_SET } from '../../src/uapi/prctl.ts';
import { pte_pfn } from '../../src/kernel/mm/pgtable.ts';
import type { Task } from '../../src/kernel/process.ts';
import { createVcpu, createVm, ioStatus, runProgram, setRegion, vmStat } from '../kvm/helpers.ts';
import { checkEpt } from '../kvm/invariants.ts';
import { counts, openFile, readFile, setup, signal } from './helpers.ts';

const RW = PROT_READ | PROT_WRITE;

/** Inject a memory error at pfn through debugfs. */
function corrupt(admin: Task, pfn: number): void {
  const fd = admin.open('/sys/kernel/debug/hwpoison/corrupt-pfn', 1);
  admin.write(fd, `0x${pfn.toString(16)}\n`);
  admin.close(fd);
}

describe('KVM on hugetlbfs', () => {
  it.each([
    ['2M', 2 * MiB, 'pages_2m'],
    ['1G', GiB, 'pages_1g'],
  ])('a %s hugetlbfs-backed guest maps at %s', (ps, size, statName) => {
    const { task } = setup({ n2m: 8, n1g: 2, mem: 6 * GiB });
    task.mount('none', '/mnt/huge', 'hugetlbfs', 0, `pagesize=${ps}`);
    const fd = openFile(task, '/mnt/huge/guest');
    const hva = task.mmap(GiB, 2 * size, RW, MAP_SHARED | 0x10, fd, 0);
    const vm = createVm(task);
    setRegion(task, vm.vmFd, 0, 0, 2 * size, hva);
    const vcpu = createVcpu(task, vm.vmFd);
    // Touch both huge pages (64 MiB around the boundary for 1G pages, to stay quick).
    const span = Math.min(2 * size, 64 * MiB);
    const run = runProgram(task, vcpu, hva, { flags: GUEST_FLAG_WRITE, start_gpa: size - span / 2, bytes: span });
    expect(run.exit_reason).toBe(KVM_EXIT_IO);
    expect(ioStatus(run)).toBe(0);
    expect(vmStat(task, vm, statName, readFile)).toBe(2);
    expect(vmStat(task, vm, 'pages_4k', readFile)).toBe(0);
    checkEpt(vm.kvm, task.mm);
    // The guest's writes landed in the file's pages.
    expect(new DataView(task.pread(fd, 8, size + 4 * PAGE_SIZE).buffer).getUint32(0, true)).toBe(size + 4 * PAGE_SIZE);
    // Truncating the file zaps the host entries; the MMU notifier drops the EPT's.
    task.ftruncate(fd, 0);
    expect(vm.kvm.ept.count_leaves()).toEqual({ pte: 0, pmd: 0, pud: 0 });
  });
});

describe('memory failure on in-use huge pages', () => {
  it('unmaps the whole page from every mapper, SIGBUS AO then AR with lsb 21; never mapped again', () => {
    const s = setup({ n2m: 8 });
    const { task, host, h2m } = s;
    task.mount('none', '/mnt/huge', 'hugetlbfs', 0, '');
    const fd = openFile(task, '/mnt/huge/f');
    const a = task.mmap(0, 4 * MiB, RW, MAP_SHARED, fd, 0);
    task.store(a + 2 * MiB, new Uint8Array([1]));
    task.prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY); // as QEMU does: told of errors at once (kept across fork)
    const victim = task.fork();
    expect(victim.load(a + 2 * MiB, 1)[0]).toBe(1);
    victim.sigaction(7, () => {}); // keep the victim alive to look at its siginfo
    const head = pte_pfn(task.mm.pgtables.walk(a + 2 * MiB));
    corrupt(host.init, head + 3);
    expect(victim.lastSiginfo).toEqual({ signo: 7, code: BUS_MCEERR_AO, addr: a + 2 * MiB + 3 * PAGE_SIZE, lsb: 21 });
    expect(task.state).toBe('Z'); // no handler: SIGBUS kills
    expect(s.log()).toContain(`Memory failure: 0x${(head + 3).toString(16)}: recovery action for huge page: Recovered`);
    // Every entry went; a later access gets BUS_MCEERR_AR.
    expect(victim.mm.pgtables.walk(a + 2 * MiB)).not.toBe(0);
    let code = 0;
    let lsb = 0;
    try {
      victim.load(a + 2 * MiB, 1);
    } catch (e) {
      code = (e as { code: number }).code;
      lsb = (e as { addrLsb: number }).addrLsb;
    }
    expect([code, lsb]).toEqual([BUS_MCEERR_AR, 21]);
    // A new mapping of the poisoned offset is refused too.
    const b = victim.mmap(0, 4 * MiB, RW, MAP_SHARED, fd, 0);
    expect(signal(() => victim.load(b + 2 * MiB, 1))).toBe(`SIGBUS/${BUS_MCEERR_AR}`);
    expect(victim.load(b, 1)[0]).toBe(0);
    // Truncating the file lets the page go: the pool dissolves it.
    void h2m;
    victim.munmap(a, 4 * MiB);
    victim.munmap(b, 4 * MiB);
    victim.ftruncate(fd, 0);
    expect(counts(h2m)).toEqual([7, 7, 0, 0]);
  });

  it('a private 1G page: si_addr_lsb 30; the page is freed at once and dissolved', () => {
    const { task, host, h1g } = setup({ n2m: 0, n1g: 2, mem: 6 * GiB });
    const victim = task.fork();
    victim.sigaction(7, () => {});
    victim.prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY);
    const a = victim.mmap(0, GiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB, -1, 0);
    victim.store(a + 5 * MiB, new Uint8Array([1]));
    expect(counts(h1g)).toEqual([2, 1, 0, 0]);
    const head = pte_pfn(victim.mm.pgtables.walk(a));
    corrupt(host.init, head + 1280);
    expect(victim.lastSiginfo).toEqual({ signo: 7, code: BUS_MCEERR_AO, addr: a + 1280 * PAGE_SIZE, lsb: 30 });
    expect(counts(h1g)).toEqual([1, 1, 0, 0]);
    let lsb = 0;
    try {
      victim.load(a, 1);
    } catch (e) {
      lsb = (e as { addrLsb: number }).addrLsb;
    }
    expect(lsb).toBe(30);
  });

  it('a free huge page is dissolved', () => {
    const s = setup({ n2m: 4 });
    const { host, h2m, pools } = s;
    const head = pools.alloc_hugetlb_folio(h2m, { nid: 0 }, false);
    pools.free_huge_folio(head, false);
    corrupt(host.init, head + 1);
    expect(counts(h2m)).toEqual([3, 3, 0, 0]);
    expect(s.log()).toContain(`Memory failure: 0x${(head + 1).toString(16)}: recovery action for free huge page: Recovered`);
  });
});

/**
 * memory_failure through the real injector, /sys/kernel/debug/hwpoison/corrupt-pfn:
 *
 *   free frame      → taken off the buddy lists for good ("free buddy page: Recovered")
 *   anonymous page  → unmapped everywhere; the next access is SIGBUS BUS_MCEERR_AR
 *   THP subpage     → the PMD is split first; only that 4K frame is lost
 */
import { describe, expect, it } from 'vitest';
import { MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { follow_page } from '../../src/kernel/mm/gup.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MADV_NOHUGEPAGE, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { Signal } from '../../src/uapi/signal.ts';
import { boot, errno, meminfo } from './helpers.ts';
import type { Task } from '../../src/kernel/process.ts';

function inject(task: Task, pfn: number, file = 'corrupt-pfn'): void {
  const fd = task.open(`/sys/kernel/debug/hwpoison/${file}`, 1);
  try {
    task.write(fd, `0x${pfn.toString(16)}\n`);
  } finally {
    task.close(fd);
  }
}

function sigOf(fn: () => unknown): { signo: number; code: number; lsb: number } | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof Signal) return { signo: e.signo, code: e.code, lsb: e.addrLsb };
    throw e;
  }
}

describe('memory failure', () => {
  it('a free frame is taken off the free lists and can be unpoisoned', () => {
    const { host, task } = boot();
    const pfn = host.buddy.alloc_pages(0, 0, 0);
    host.buddy.__free_pages(pfn, 0);
    const free0 = meminfo(task, 'MemFree');
    inject(task, pfn);
    expect(meminfo(task, 'MemFree')).toBe(free0 - 4);
    expect(meminfo(task, 'HardwareCorrupted')).toBe(4);
    expect(host.log.render()).toContain(`Memory failure: 0x${pfn.toString(16)}: recovery action for free buddy page: Recovered`);
    expect(errno(() => inject(task, pfn))).toBe('EHWPOISON');
    inject(task, pfn, 'unpoison-pfn');
    expect(meminfo(task, 'MemFree')).toBe(free0);
    expect(meminfo(task, 'HardwareCorrupted')).toBe(0);
  });

  it('an anonymous page is unmapped from parent and child; both get BUS_MCEERR_AR on access', () => {
    const { task } = boot();
    const a = task.mmap(0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    task.madvise(a, 4 * PAGE_SIZE, MADV_NOHUGEPAGE);
    task.store(a, new Uint8Array([1]));
    task.store(a + PAGE_SIZE, new Uint8Array([2]));
    const child = task.fork();
    const pfn = follow_page(task.mm, a)!.pfn;
    const anon0 = meminfo(task, 'AnonPages');
    inject(task, pfn);
    expect(meminfo(task, 'AnonPages')).toBe(anon0 - 4);
    expect(sigOf(() => task.load(a, 1))).toEqual({ signo: 7, code: 4, lsb: 12 });
    expect(sigOf(() => child.load(a, 1))).toEqual({ signo: 7, code: 4, lsb: 12 });
    expect(task.load(a + PAGE_SIZE, 1)[0]).toBe(2);
    expect(errno(() => inject(task, pfn, 'unpoison-pfn'))).toBe('EBUSY');
  });

  it('a THP is split and only the bad 4K frame is lost, even after everything is unmapped', () => {
    const { host, task } = boot();
    const a = task.mmap(0, 2 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    task.store(a, new Uint8Array([7]));
    const head = follow_page(task.mm, a)!.pfn;
    const free0 = meminfo(task, 'MemFree');
    inject(task, head + 5);
    expect(sigOf(() => task.load(a + 5 * PAGE_SIZE, 1))?.code).toBe(4);
    expect(task.load(a, 1)[0]).toBe(7);
    task.munmap(a, 2 * MiB);
    // Everything but the poisoned frame came back, and so did the PUD and PMD tables
    // that mapped the THP when free0 was read (the PTE table the split added went too).
    expect(meminfo(task, 'MemFree')).toBe(free0 + 2048 - 4 + 8);
    expect(host.buddy.is_free_buddy_page(head + 5)).toBe(false);
    expect(host.buddy.is_free_buddy_page(head + 6)).toBe(true);
  });

  it('rejects what is not a pfn, and frames outside RAM', () => {
    const { task } = boot();
    expect(errno(() => inject(task, 2 ** 40))).toBe('ENXIO');
    const fd = task.open('/sys/kernel/debug/hwpoison/corrupt-pfn', 1);
    expect(errno(() => task.write(fd, 'banana'))).toBe('EINVAL');
  });
});

/**
 * A table-page allocator for page-table tests: hands out pfns, can be told to fail,
 * and catches double frees and leaks.
 */
import type { PgtableAllocator } from '../../src/kernel/mm/pgtable.ts';

/** A PgtableAllocator that records what it handed out. */
export class TestAllocator implements PgtableAllocator {
  /** pfn → level of every table page currently allocated. */
  readonly live = new Map<number, number>();
  allocs = 0;
  frees = 0;
  /** Fail the allocation after this many more successes (-1: never fail). */
  failAfter = -1;
  private next = 0x1000;

  /** pte_alloc_one and friends. */
  alloc_table(level: number): number {
    if (this.failAfter === 0) return -1;
    if (this.failAfter > 0) this.failAfter--;
    const pfn = this.next++;
    this.live.set(pfn, level);
    this.allocs++;
    return pfn;
  }

  /** Free a table page; a double free or a level mismatch is a test failure. */
  free_table(pfn: number, level: number): void {
    const l = this.live.get(pfn);
    if (l === undefined) throw new Error(`free_table: pfn ${pfn} not allocated`);
    if (l !== level) throw new Error(`free_table: pfn ${pfn} level ${level}, allocated as ${l}`);
    this.live.delete(pfn);
    this.frees++;
  }

  /** Table pages currently allocated at a level (or all). */
  count(level?: number): number {
    if (level === undefined) return this.live.size;
    let n = 0;
    for (const l of this.live.values()) if (l === level) n++;
    return n;
  }
}

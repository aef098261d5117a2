/**
 * The memory-management globals of one host: what Linux keeps in global
 * variables (the page allocator, physical memory contents, vmstat, the zero
 * pages, THP settings, NUMA node order). Every mm function reaches them through
 * `mm.kmem`, so several hosts can live in one Node process.
 *
 * Linux: mm/page_alloc.c (alloc_pages), mm/memory.c (empty_zero_page),
 * mm/huge_memory.c (huge_zero_folio, transparent_hugepage_flags).
 */
import { AnonPages } from './anon.ts';
import type { Dram } from './dram.ts';
import type { PageAllocator } from './page_alloc.ts';
import { GFP_KERNEL, GFP_HIGHUSER_MOVABLE, GFP_TRANSHUGE } from './page_alloc.ts';
import { NR_PAGETABLE, NR_SECONDARY_PAGETABLE, PGALLOC, PGFREE, THP_ZERO_PAGE_ALLOC, VmStat } from './vmstat.ts';

/** /sys/kernel/mm/transparent_hugepage/enabled values. */
export type ThpEnabled = 'always' | 'madvise' | 'never';

/** Transparent hugepage settings (transparent_hugepage_flags). */
export interface ThpSettings {
  enabled: ThpEnabled;
  defrag: 'always' | 'defer' | 'defer+madvise' | 'madvise' | 'never';
  use_zero_page: boolean;
}

/** The distribution default: THP always on, defrag on madvise, huge zero page used. */
export function defaultThpSettings(): ThpSettings {
  return { enabled: 'always', defrag: 'madvise', use_zero_page: true };
}

/**
 * setup_transparent_hugepage, the `transparent_hugepage=` boot parameter
 * (mm/huge_memory.c): always, madvise or never; anything else is ignored with a warning.
 */
export function setup_transparent_hugepage(thp: ThpSettings, str: string, warn: (msg: string) => void): boolean {
  if (str === 'always' || str === 'madvise' || str === 'never') {
    thp.enabled = str;
    return true;
  }
  warn('transparent_hugepage= cannot parse, ignored');
  return false;
}

/** The memory-management globals of one host. */
export class Kmem {
  /** The frame of empty_zero_page (mapped for read faults on anonymous memory). */
  zeroPfn = -1;
  /** The head frame of the huge zero folio, allocated on first use; -1 until then. */
  hugeZeroPfn = -1;
  /** Map counts of anonymous pages, shared by every mm of the host. */
  readonly anon: AnonPages;

  constructor(
    readonly buddy: PageAllocator,
    readonly dram: Dram,
    readonly vmstat: VmStat,
    /** Node of each pfn for accounting (page_to_nid). */
    readonly pfnToNid: (pfn: number) => number,
    readonly thp: ThpSettings = defaultThpSettings(),
  ) {
    this.anon = new AnonPages(vmstat, pfnToNid, (pfn, order) => this.freeUser(pfn, order));
  }

  /** alloc_pages for user memory: a frame of 2^order pages, not zeroed; -1 on failure. */
  allocUser(order: number, nid: number, nodemask?: readonly number[]): number {
    const gfp = order === 0 ? GFP_HIGHUSER_MOVABLE : GFP_TRANSHUGE;
    const pfn = this.buddy.alloc_pages(gfp, order, nid, nodemask);
    if (pfn >= 0) this.vmstat.count(PGALLOC, 2 ** order);
    return pfn;
  }

  /** Free user memory back to the buddy allocator. */
  freeUser(pfn: number, order: number): void {
    this.buddy.__free_pages(pfn, order);
    this.vmstat.count(PGFREE, 2 ** order);
  }

  /** clear_user_highpage(s): zero 2^order frames. */
  clear(pfn: number, order: number): void {
    this.dram.clear_pages(pfn, 2 ** order);
  }

  /** A zeroed page-table page (pte_alloc_one / __pud_alloc), counted in PageTables; -1 on failure. */
  allocPgtable(nid: number, secondary = false): number {
    const pfn = this.buddy.alloc_pages(GFP_KERNEL, 0, nid);
    if (pfn < 0) return -1;
    this.dram.clear_pages(pfn, 1);
    this.vmstat.mod(this.pfnToNid(pfn), secondary ? NR_SECONDARY_PAGETABLE : NR_PAGETABLE, 1);
    return pfn;
  }

  /** Free a page-table page. */
  freePgtable(pfn: number, secondary = false): void {
    this.vmstat.mod(this.pfnToNid(pfn), secondary ? NR_SECONDARY_PAGETABLE : NR_PAGETABLE, -1);
    this.buddy.__free_pages(pfn, 0);
  }

  /** The huge zero folio (mm_get_huge_zero_folio), allocated and zeroed on first use; -1 if none. */
  hugeZero(nid: number): number {
    if (this.hugeZeroPfn < 0) {
      const pfn = this.buddy.alloc_pages(GFP_TRANSHUGE, 9, nid);
      if (pfn < 0) return -1;
      this.dram.clear_pages(pfn, 512);
      this.hugeZeroPfn = pfn;
      this.vmstat.count(THP_ZERO_PAGE_ALLOC);
    }
    return this.hugeZeroPfn;
  }
}

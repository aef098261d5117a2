/**
 * The memory-management globals of one host: what Linux keeps in global
 * variables (the page allocator, physical memory contents, vmstat, the zero
 * pages, THP settings, NUMA node order). Every mm function reaches them through
 * `mm.kmem`, so several hosts can live in one Node process.
 *
 * Linux: mm/page_alloc.c (alloc_pages), mm/memory.c (empty_zero_page),
 * mm/huge_memory.c (huge_zero_folio, transparent_hugepage_flags),
 * mm/gup.c (FOLL_PIN counts: folio_maybe_dma_pinned, gup_put_folio).
 */
import { PAGES_PER_PMD } from '../../lib/size.ts';
import type { Signal } from '../../uapi/signal.ts';
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

/** The CPU's view of frames with an uncorrected error (kernel/mce.ts): consuming one is a machine check. */
export interface HwPoison {
  /** Frames poisoned: 0 on the hot paths, which then look no further. */
  readonly count: number;
  has(pfn: number): boolean;
  /** do_machine_check for an access by current at `va` (its own, or its guest's through KVM): the signal current gets. */
  consume(pfn: number, va: number): Signal;
}

/** The memory-management globals of one host. */
export class Kmem {
  /** Poisoned frames as the CPU meets them (set by the host once memory_failure exists). */
  hwpoison: HwPoison | null = null;
  /** The frame of empty_zero_page (mapped for read faults on anonymous memory). */
  zeroPfn = -1;
  /** __vm_enough_memory (mm/util.c): may `pages` more be committed? Set by kernel/mm/overcommit.ts. */
  vm_enough_memory: ((pages: number) => boolean) | null = null;
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

  /** allocUser(0, ...) for up to nr pages at once, as many as alloc_pages_bulk gives (see there). */
  allocUserBulk(nid: number, nodemask: readonly number[] | undefined, nr: number, out: Float64Array, at: number): number {
    const got = this.buddy.alloc_pages_bulk(GFP_HIGHUSER_MOVABLE, nid, nodemask, nr, out, at);
    if (got > 0) this.vmstat.count(PGALLOC, got);
    return got;
  }

  /**
   * Free user memory back to the buddy allocator (the final folio_put). A block
   * holding a long-term pinned frame is not freed: in Linux the pin is a folio
   * reference (GUP_PIN_COUNTING_BIAS), so the last unmap or truncate leaves the
   * folio alive until unpin_user_page drops it. The block waits in `deferred`
   * and goes back to the buddy allocator when its last pin goes.
   */
  freeUser(pfn: number, order: number): void {
    if (this.pins.size > 0 && this.blockPinned(pfn, order)) {
      this.deferred.set(pfn, order);
      this.nrDeferred += 2 ** order;
      return;
    }
    this.buddy.__free_pages(pfn, order);
    this.vmstat.count(PGFREE, 2 ** order);
  }

  /**
   * Long-term pin counts (FOLL_PIN), by 2 MiB block of frames: slots 0..511 hold
   * each frame's pin count, slot 512 how many frames of the block are pinned.
   * Only blocks with a pinned frame have an entry; a THP pinned whole costs one.
   */
  private readonly pins = new Map<number, Uint16Array>();
  /** Blocks freed while pinned (freeUser), by first pfn → order; freed at their last unpin. */
  private readonly deferred = new Map<number, number>();
  /** Frames pinned (each counted once however often it is pinned). */
  nrPinned = 0;
  /** Pins held, summed over frames (nr_foll_pin_acquired − nr_foll_pin_released). */
  nrPins = 0;
  /** Frames whose last mapping went while pinned: neither free nor mapped. */
  nrDeferred = 0;

  /** Pin count of one frame (folio_maybe_dma_pinned is this > 0). */
  pinCount(pfn: number): number {
    return this.pins.get(Math.floor(pfn / PAGES_PER_PMD))?.[pfn % PAGES_PER_PMD] ?? 0;
  }

  /** Is any frame of the 2^order block at pfn pinned? */
  private blockPinned(pfn: number, order: number): boolean {
    const n = 2 ** order;
    if (n >= PAGES_PER_PMD) {
      for (let b = pfn / PAGES_PER_PMD; b < (pfn + n) / PAGES_PER_PMD; b++) if (this.pins.has(b)) return true;
      return false;
    }
    const blk = this.pins.get(Math.floor(pfn / PAGES_PER_PMD));
    if (!blk) return false;
    const first = pfn % PAGES_PER_PMD;
    for (let i = first; i < first + n; i++) if (blk[i] !== 0) return true;
    return false;
  }

  /** Take one long-term pin on a frame (try_grab_folio with FOLL_PIN); false when its count would overflow. */
  pin(pfn: number): boolean {
    const key = Math.floor(pfn / PAGES_PER_PMD);
    let blk = this.pins.get(key);
    if (!blk) this.pins.set(key, (blk = new Uint16Array(PAGES_PER_PMD + 1)));
    const i = pfn % PAGES_PER_PMD;
    if (blk[i] === 0xffff) return false;
    if (blk[i]++ === 0) {
      blk[PAGES_PER_PMD]!++;
      this.nrPinned++;
    }
    this.nrPins++;
    return true;
  }

  /** Drop one pin (gup_put_folio); the last pin of a block freed meanwhile frees it. */
  unpin(pfn: number): void {
    const key = Math.floor(pfn / PAGES_PER_PMD);
    const blk = this.pins.get(key);
    const i = pfn % PAGES_PER_PMD;
    if (!blk || blk[i] === 0) throw new Error(`unpin_user_page: pfn ${pfn} is not pinned`);
    this.nrPins--;
    if (--blk[i]! > 0) return;
    this.nrPinned--;
    if (--blk[PAGES_PER_PMD]! === 0) this.pins.delete(key);
    if (this.deferred.size === 0) return;
    // The block freed while pinned is at most order MAX_PAGE_ORDER (10) and aligned to its order.
    for (let order = 0; order <= 10; order++) {
      const head = pfn - (pfn % 2 ** order);
      if (this.deferred.get(head) !== order) continue;
      if (this.blockPinned(head, order)) return;
      this.deferred.delete(head);
      this.nrDeferred -= 2 ** order;
      this.freeUser(head, order);
      return;
    }
  }

  /** clear_user_highpage(s): zero 2^order frames. */
  clear(pfn: number, order: number): void {
    this.dram.clear_pages(pfn, order === 0 ? 1 : 2 ** order);
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

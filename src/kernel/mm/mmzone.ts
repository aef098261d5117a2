/**
 * struct zone and the zone/order constants (include/linux/mmzone.h), with the
 * buddy core that works on one zone: __free_one_page, expand and
 * __rmqueue_smallest (mm/page_alloc.c).
 *
 * The free lists of orders 0..MAX_PAGE_ORDER-1 live in SplitBlocks, the free
 * MAX_PAGE_ORDER blocks in BlockRuns (see buddy.ts for why).
 */
import { BLOCK_PAGES, BlockRuns, SplitBlocks } from './buddy.ts';

/** The largest order the buddy allocator hands out (4 MiB). */
export const MAX_PAGE_ORDER = 10;
/** Number of orders 0..MAX_PAGE_ORDER. */
export const NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;
/** Frames in a MAX_PAGE_ORDER block. */
export const MAX_ORDER_NR_PAGES = BLOCK_PAGES;

/** Zone indices (enum zone_type, x86-64 without highmem/device). */
export const ZONE_DMA = 0;
export const ZONE_DMA32 = 1;
export const ZONE_NORMAL = 2;
export const ZONE_MOVABLE = 3;
/** Number of zone types. */
export const MAX_NR_ZONES = 4;
/** zone_names[] (mm/page_alloc.c). */
export const ZONE_NAMES: readonly string[] = ['DMA', 'DMA32', 'Normal', 'Movable'];

/** Per-node NUMA allocation counters (enum numa_stat_item), in pages. */
export const NUMA_HIT = 0;
export const NUMA_MISS = 1;
export const NUMA_FOREIGN = 2;
export const NUMA_LOCAL = 3;
export const NUMA_OTHER = 4;
/** Number of NUMA counters per node. */
export const NR_NUMA_STAT_ITEMS = 5;

/** Watermark indices (enum zone_watermarks). */
export const WMARK_MIN = 0;
export const WMARK_LOW = 1;
export const WMARK_HIGH = 2;
export const WMARK_PROMO = 3;

/** One zone of one node: its span, counters, watermarks and free blocks. */
export class Zone {
  /** First pfn of the zone (zone_start_pfn). */
  zone_start_pfn = 0;
  /** end - start, holes included. */
  spanned_pages = 0;
  /** Frames in the span that exist (no holes). */
  present_pages = 0;
  /** Frames handed to the buddy allocator (free or allocated from it). */
  managed_pages = 0;
  /** NR_FREE_PAGES. */
  free_pages = 0;
  /** free_area[order].nr_free. */
  readonly nr_free: Float64Array = new Float64Array(NR_PAGE_ORDERS);
  /** _watermark[WMARK_MIN..WMARK_PROMO], in pages. */
  readonly watermark: Float64Array = new Float64Array(4);
  /** lowmem_reserve[highest_zoneidx]: pages kept back from requests that could use a higher zone. */
  readonly lowmem_reserve: Float64Array = new Float64Array(MAX_NR_ZONES);
  /** Pages allocated from this zone (pgalloc_<zone>). */
  pgalloc = 0;
  /** Free MAX_PAGE_ORDER blocks. */
  readonly runs = new BlockRuns();
  /** Split blocks with their order 0..9 free blocks. */
  readonly split = new SplitBlocks();

  constructor(
    /** Node id. */
    readonly nid: number,
    /** Zone index (ZONE_DMA..ZONE_MOVABLE). */
    readonly idx: number,
  ) {}

  /** zone->name. */
  get name(): string {
    return ZONE_NAMES[this.idx]!;
  }

  /** zone_end_pfn(). */
  get zone_end_pfn(): number {
    return this.zone_start_pfn + this.spanned_pages;
  }

  /** populated_zone(). */
  get populated(): boolean {
    return this.present_pages !== 0;
  }

  /** zone_spans_pfn(). */
  spans(pfn: number): boolean {
    return pfn >= this.zone_start_pfn && pfn < this.zone_start_pfn + this.spanned_pages;
  }

  /** min_wmark_pages(). */
  get wmark_min(): number {
    return this.watermark[WMARK_MIN]!;
  }

  /** low_wmark_pages(). */
  get wmark_low(): number {
    return this.watermark[WMARK_LOW]!;
  }

  /** high_wmark_pages(). */
  get wmark_high(): number {
    return this.watermark[WMARK_HIGH]!;
  }

  /**
   * __rmqueue_smallest(): take the smallest free block of at least `order`,
   * split it with expand(); returns the pfn or -1. Counters are updated here.
   */
  rmqueue(order: number): number {
    const split = this.split;
    for (let o = order; o < MAX_PAGE_ORDER; o++) {
      if (this.nr_free[o] === 0) continue;
      const s = split.top(o);
      const off = split.takeLowest(s, o);
      this.nr_free[o]--;
      if (o !== order) this.expand(s, off, order, o);
      else if (split.isEmpty(s)) split.release(s);
      this.free_pages -= 1 << order;
      return split.blk[s]! * BLOCK_PAGES + off;
    }
    const b = this.runs.popLowest();
    if (b < 0) return -1;
    this.nr_free[MAX_PAGE_ORDER]--;
    if (order !== MAX_PAGE_ORDER) {
      // expand() from a whole block: the slot is empty, so fill it directly.
      split.setBuddiesOfFirst(split.create(b), order);
      const nr_free = this.nr_free;
      for (let k = order; k < MAX_PAGE_ORDER; k++) nr_free[k]++;
    }
    this.free_pages -= 1 << order;
    return b * BLOCK_PAGES;
  }

  /**
   * expand(): the block at `off` of order `high` was taken for a request of
   * order `low`; hand the upper halves back, largest first, as Linux does.
   */
  private expand(s: number, off: number, low: number, high: number): void {
    while (high > low) {
      high--;
      this.split.set(s, off + (1 << high), high);
      this.nr_free[high]++;
    }
  }

  /**
   * __free_one_page(): free the 2^order block at pfn (aligned, inside this zone,
   * checked by the caller) and merge it with free buddies up to MAX_PAGE_ORDER.
   * Throws on a double free (any frame of the block already free).
   */
  free_one_page(pfn: number, order: number): void {
    const b = Math.floor(pfn / BLOCK_PAGES);
    if (order === MAX_PAGE_ORDER) {
      // A split block holds a free sub-block, so some frame of this one is already free.
      const s = this.split.lookup(b);
      if ((s >= 0 && !this.split.isEmpty(s)) || !this.runs.add(b, b + 1)) badPage(pfn, order, 'already free (double free)');
      this.nr_free[MAX_PAGE_ORDER]++;
      this.free_pages += BLOCK_PAGES;
      return;
    }
    const split = this.split;
    let off = pfn - b * BLOCK_PAGES;
    let s = split.lookup(b);
    if (s < 0 || split.isEmpty(s)) {
      if (this.runs.contains(b)) badPage(pfn, order, 'already free (double free)');
      if (s < 0) s = split.create(b);
    } else if (this.overlapsFree(s, off, order)) {
      badPage(pfn, order, 'already free (double free)');
    }
    this.free_pages += 1 << order;
    while (order < MAX_PAGE_ORDER) {
      const buddy = off ^ (1 << order);
      if (!split.takeBuddy(s, buddy, order)) break;
      this.nr_free[order]--;
      off &= buddy;
      order++;
    }
    if (order === MAX_PAGE_ORDER) {
      split.release(s);
      this.runs.add(b, b + 1);
      this.nr_free[MAX_PAGE_ORDER]++;
    } else {
      split.set(s, off, order);
      this.nr_free[order]++;
    }
  }

  /** True when any frame of the 2^order block at off of slot s is inside a free block. */
  private overlapsFree(s: number, off: number, order: number): boolean {
    const split = this.split;
    // Only orders the slot holds a free block of can overlap.
    let m = split.orderMask(s);
    for (let o = 0; m !== 0; o++, m >>>= 1) {
      if ((m & 1) === 0) continue;
      if (o >= order ? split.test(s, off & ~((1 << o) - 1), o) : split.anyIn(s, off, 1 << order, o)) return true;
    }
    return false;
  }

  /**
   * Free the whole blocks [b, e) (block indices) at once: the boot and
   * contig-range fast path. Throws if any of them is already free.
   */
  free_blocks(b: number, e: number): void {
    if (e <= b) return;
    const slots = this.split.slotsIn(b, e);
    if (slots.length > 0) badPage(this.split.blk[slots[0]!]! * BLOCK_PAGES, MAX_PAGE_ORDER, 'already free (double free)');
    if (!this.runs.add(b, e)) badPage(b * BLOCK_PAGES, MAX_PAGE_ORDER, 'already free (double free)');
    this.nr_free[MAX_PAGE_ORDER] += e - b;
    this.free_pages += (e - b) * BLOCK_PAGES;
  }

  /**
   * __free_pages_memory() for [s, e) inside this zone: the largest naturally
   * aligned blocks, whole order-10 blocks as one run, so the cost is O(20)
   * whatever the size.
   */
  free_range(s: number, e: number): void {
    const firstBlk = Math.ceil(s / BLOCK_PAGES);
    const lastBlk = Math.floor(e / BLOCK_PAGES);
    if (firstBlk >= lastBlk) {
      this.free_chunks(s, e);
      return;
    }
    this.free_chunks(s, firstBlk * BLOCK_PAGES);
    this.free_blocks(firstBlk, lastBlk);
    this.free_chunks(lastBlk * BLOCK_PAGES, e);
  }

  /** Free [s, e) (less than two order-10 blocks' worth) as naturally aligned chunks. */
  private free_chunks(s: number, e: number): void {
    while (s < e) {
      const r = s % BLOCK_PAGES;
      let order = r === 0 ? MAX_PAGE_ORDER : 31 - Math.clz32(r & -r);
      while (s + (1 << order) > e) order--;
      this.free_one_page(s, order);
      s += 1 << order;
    }
  }

  /** The free block (pfn, order) containing pfn, or undefined when pfn is not free. */
  free_block_containing(pfn: number): { pfn: number; order: number } | undefined {
    const b = Math.floor(pfn / BLOCK_PAGES);
    if (this.runs.contains(b)) return { pfn: b * BLOCK_PAGES, order: MAX_PAGE_ORDER };
    const s = this.split.lookup(b);
    if (s < 0) return undefined;
    const off = pfn - b * BLOCK_PAGES;
    for (let o = 0; o < MAX_PAGE_ORDER; o++) {
      const head = off & ~((1 << o) - 1);
      if (this.split.test(s, head, o)) return { pfn: b * BLOCK_PAGES + head, order: o };
    }
    return undefined;
  }

  /** Remove the free block (pfn, order) from the free lists (del_page_from_free_list). */
  del_free_block(pfn: number, order: number): void {
    const b = Math.floor(pfn / BLOCK_PAGES);
    if (order === MAX_PAGE_ORDER) {
      this.runs.take(b);
    } else {
      const s = this.split.lookup(b);
      this.split.clear(s, pfn - b * BLOCK_PAGES, order);
      if (this.split.isEmpty(s)) this.split.release(s);
    }
    this.nr_free[order]--;
    this.free_pages -= 1 << order;
  }

  /**
   * take_page_off_buddy(): pull the single free frame pfn out of the free block
   * holding it and hand the rest back, halving as break_down_buddy_pages() does.
   * Returns false when pfn is not free.
   */
  take_page_off_buddy(pfn: number): boolean {
    const blk = this.free_block_containing(pfn);
    if (!blk) return false;
    this.del_free_block(blk.pfn, blk.order);
    if (blk.order === 0) return true;
    const b = Math.floor(pfn / BLOCK_PAGES);
    const target = pfn - b * BLOCK_PAGES;
    let off = blk.pfn - b * BLOCK_PAGES;
    let s = this.split.lookup(b);
    if (s < 0) s = this.split.create(b);
    for (let high = blk.order - 1; high >= 0; high--) {
      const size = 1 << high;
      let buddy = off + size;
      if (target >= off + size) {
        buddy = off;
        off += size;
      }
      this.split.set(s, buddy, high);
      this.nr_free[high]++;
      this.free_pages += size;
    }
    return true;
  }

  /** Every free block as (pfn, order); order-10 runs are enumerated block by block. */
  forEachFreeBlock(cb: (pfn: number, order: number) => void): void {
    this.split.forEach(cb);
    for (const [s, e] of this.runs.runs()) {
      for (let b = s; b < e; b++) cb(b * BLOCK_PAGES, MAX_PAGE_ORDER);
    }
  }
}

/** bad_page(): the kernel reports "BUG: Bad page state"; the model throws. */
export function badPage(pfn: number, order: number, reason: string): never {
  throw new Error(`BUG: Bad page state: pfn:0x${pfn.toString(16)} order:${order} ${reason}`);
}

/**
 * The zoned buddy page allocator of one host (mm/page_alloc.c:
 * get_page_from_freelist, __alloc_pages, __free_pages, alloc_contig_pages,
 * free_contig_range, adjust_managed_page_count, free_reserved_area,
 * take_page_off_buddy, build_zonelists; mm/mm_init.c and mm/memblock.c:
 * memblock_free_all → __free_pages_memory → __free_pages_core). /proc/buddyinfo
 * is rendered in kernel/proc/buddyinfo.ts.
 *
 * Simplifications, all deliberate:
 *  - One migratetype, no per-cpu page lists, no reclaim/compaction/OOM killer:
 *    a request that fails the min watermark in every zone returns -1.
 *  - Free MAX_PAGE_ORDER blocks are handed out lowest address first (Linux frees
 *    boot memory with FPI_TO_TAIL in ascending order, so early allocations look
 *    the same; later Linux reuses recently freed order-10 blocks first).
 *  - alloc_contig_pages only takes ranges that are already free (no migration).
 */
import { BLOCK_PAGES } from './buddy.ts';
import { PAGES_PER_SECTION } from './mem_section.ts';
import { __GFP_HIGH, __GFP_MEMALLOC, __GFP_THISNODE, GFP_HIGHUSER_MOVABLE, gfp_zone } from './gfp.ts';
import {
  MAX_NR_ZONES, MAX_PAGE_ORDER, NR_NUMA_STAT_ITEMS, NR_PAGE_ORDERS, NUMA_FOREIGN, NUMA_HIT, NUMA_LOCAL,
  NUMA_MISS, NUMA_OTHER, WMARK_LOW, WMARK_MIN, ZONE_NORMAL, Zone, badPage,
} from './mmzone.ts';
import {
  DEFAULT_LOWMEM_RESERVE_RATIO, DEFAULT_WATERMARK_SCALE_FACTOR, calculate_min_free_kbytes,
  calculate_totalreserve_pages, setup_per_zone_lowmem_reserve, setup_per_zone_wmarks,
} from './page_alloc_wmark.ts';

export * from './gfp.ts';
export {
  MAX_PAGE_ORDER, NR_PAGE_ORDERS, MAX_NR_ZONES, MAX_ORDER_NR_PAGES, ZONE_DMA, ZONE_DMA32, ZONE_NORMAL,
  ZONE_MOVABLE, ZONE_NAMES, NUMA_HIT, NUMA_MISS, NUMA_FOREIGN, NUMA_LOCAL, NUMA_OTHER, NR_NUMA_STAT_ITEMS, Zone,
} from './mmzone.ts';

/** A zone's span as free_area_init set it. */
interface BootSpan {
  readonly zone: Zone;
  readonly start: number;
  readonly end: number;
}

/** No watermark check at all (ALLOC_NO_WATERMARKS, __GFP_MEMALLOC). */
const ALLOC_NO_WATERMARKS = -1;

/** The page allocator of one host: every node's zones, zonelists and counters. */
export class PageAllocator {
  /** node_zones[] of each node. */
  readonly nodes: Zone[][] = [];
  /** Boot spans of the zones, sorted by start pfn, for page_zone() of boot memory (frozen: hot-plug grows zones past them). */
  private spanned: BootSpan[] = [];
  private lastZone: BootSpan | undefined;
  /**
   * page_zone() of sections onlined or offlined after boot (memory_hotplug.ts): Linux keeps the
   * zone in every struct page's flags; the model links whole sections. null = offline, no zone.
   * Such sections take precedence over the boot spans, since hot-plugged zones may overlap.
   */
  readonly section_zone = new Map<number, Zone | null>();
  private readonly nodeOrder: number[][] = [];
  /** ZONELIST_FALLBACK filtered per highest zone index: [nid][highest_zoneidx]. */
  private fallback: Zone[][][] = [];
  /** ZONELIST_NOFALLBACK (__GFP_THISNODE): [nid][highest_zoneidx]. */
  private nofallback: Zone[][][] = [];
  private zonelistsDirty = true;
  private nrFree = 0;
  private totalram = 0;
  /** vm.min_free_kbytes (0 until init_per_zone_wmark_min runs). */
  min_free_kbytes = 0;
  /** Value written through the sysctl, preferred over the computed one when larger (-1: none). */
  user_min_free_kbytes = -1;
  /** vm.watermark_scale_factor. */
  watermark_scale_factor = DEFAULT_WATERMARK_SCALE_FACTOR;
  /** vm.lowmem_reserve_ratio. */
  readonly lowmem_reserve_ratio: number[] = [...DEFAULT_LOWMEM_RESERVE_RATIO];
  /** totalreserve_pages (used by MemAvailable). */
  totalreserve_pages = 0;
  /** NUMA counters, NR_NUMA_STAT_ITEMS per node. */
  readonly numa_stat: Float64Array;
  /** Requests that failed in every zone (a real kernel would reclaim or OOM here). */
  alloc_failures = 0;

  constructor(readonly nr_node_ids: number) {
    if (!Number.isInteger(nr_node_ids) || nr_node_ids < 1) throw new Error(`PageAllocator: bad node count ${nr_node_ids}`);
    for (let nid = 0; nid < nr_node_ids; nid++) {
      const zones: Zone[] = [];
      for (let idx = 0; idx < MAX_NR_ZONES; idx++) zones.push(new Zone(nid, idx));
      this.nodes.push(zones);
      // Default node order: local first, then the others by id (all distances equal).
      const order = [nid];
      for (let n = 0; n < nr_node_ids; n++) if (n !== nid) order.push(n);
      this.nodeOrder.push(order);
    }
    this.numa_stat = new Float64Array(nr_node_ids * NR_NUMA_STAT_ITEMS);
  }

  /** Set a zone's span [start_pfn, end_pfn) and present pages (free_area_init_core). */
  init_zone(nid: number, idx: number, start_pfn: number, end_pfn: number, present_pages: number): Zone {
    const zone = this.zone(nid, idx);
    if (!(Number.isSafeInteger(start_pfn) && Number.isSafeInteger(end_pfn) && start_pfn >= 0 && end_pfn >= start_pfn)) {
      throw new Error(`init_zone: bad span [${start_pfn}, ${end_pfn})`);
    }
    if (present_pages < 0 || present_pages > end_pfn - start_pfn) throw new Error(`init_zone: bad present_pages ${present_pages}`);
    if (zone.managed_pages !== 0) throw new Error(`init_zone: node ${nid} zone ${zone.name} already has managed pages`);
    for (const { zone: z } of this.spanned) {
      if (z !== zone && start_pfn < z.zone_end_pfn && z.zone_start_pfn < end_pfn) {
        throw new Error(`init_zone: node ${nid} zone ${zone.name} overlaps node ${z.nid} zone ${z.name}`);
      }
    }
    zone.zone_start_pfn = start_pfn;
    zone.spanned_pages = end_pfn - start_pfn;
    zone.present_pages = present_pages;
    this.spanned = this.nodes
      .flat()
      .filter((z) => z.spanned_pages > 0)
      .sort((a, b) => a.zone_start_pfn - b.zone_start_pfn)
      .map((z) => ({ zone: z, start: z.zone_start_pfn, end: z.zone_end_pfn }));
    this.lastZone = undefined;
    this.zonelistsDirty = true;
    return zone;
  }

  /** The node order of nid's fallback zonelist (find_next_best_node's result). */
  set_node_order(nid: number, nodes: readonly number[]): void {
    this.zone(nid, 0);
    const seen = new Set<number>();
    for (const n of nodes) {
      if (!Number.isInteger(n) || n < 0 || n >= this.nr_node_ids || seen.has(n)) throw new Error(`set_node_order: bad node list ${nodes.join(',')}`);
      seen.add(n);
    }
    this.nodeOrder[nid] = [...nodes];
    this.zonelistsDirty = true;
  }

  /** build_all_zonelists(): per node and highest zone, populated zones from the highest allowed down, node by node. */
  build_all_zonelists(): void {
    const build = (order: readonly number[]): Zone[][] => {
      const lists: Zone[][] = [];
      for (let hz = 0; hz < MAX_NR_ZONES; hz++) {
        const list: Zone[] = [];
        for (const n of order) for (let idx = hz; idx >= 0; idx--) if (this.nodes[n]![idx]!.populated) list.push(this.nodes[n]![idx]!);
        lists.push(list);
      }
      return lists;
    };
    this.fallback = this.nodeOrder.map((order) => build(order));
    this.nofallback = this.nodes.map((_, nid) => build([nid]));
    this.zonelistsDirty = false;
  }

  /** The zonelist alloc_pages walks for (gfp, nid): zones in fallback order. */
  zonelist(gfp: number, nid: number): readonly Zone[] {
    if (this.zonelistsDirty) this.build_all_zonelists();
    const lists = ((gfp & __GFP_THISNODE) !== 0 ? this.nofallback : this.fallback)[nid];
    if (lists === undefined) throw new Error(`zonelist: no node ${nid}`);
    return lists[gfp_zone(gfp)]!;
  }

  /** A node's zone. */
  zone(nid: number, idx: number): Zone {
    const z = this.nodes[nid]?.[idx];
    if (!z) throw new Error(`no zone ${idx} on node ${nid}`);
    return z;
  }

  /** node_zones[] of nid (all MAX_NR_ZONES, populated or not). */
  zones(nid: number): readonly Zone[] {
    const zs = this.nodes[nid];
    if (!zs) throw new Error(`no node ${nid}`);
    return zs;
  }

  /** page_zone(): the zone spanning pfn, or undefined. */
  zone_of(pfn: number): Zone | undefined {
    if (this.section_zone.size !== 0) {
      const hz = this.section_zone.get(Math.floor(pfn / PAGES_PER_SECTION));
      if (hz !== undefined) return hz ?? undefined;
    }
    const last = this.lastZone;
    if (last !== undefined && pfn >= last.start && pfn < last.end) return last.zone;
    const zs = this.spanned;
    let lo = 0;
    let hi = zs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (zs[mid]!.end <= pfn) lo = mid + 1;
      else hi = mid;
    }
    const z = zs[lo];
    if (z === undefined || pfn < z.start) return undefined;
    this.lastZone = z;
    return z.zone;
  }

  /**
   * alloc_pages(): a naturally aligned block of 2^order frames, following nid's
   * zonelist (only nid with __GFP_THISNODE; only nodes in nodemask if given).
   * Returns the first pfn, or -1. The frames are not zeroed.
   */
  alloc_pages(gfp: number, order: number, nid: number, nodemask?: readonly number[]): number {
    if (!(order >= 0 && order <= MAX_PAGE_ORDER)) return -1; // WARN_ON_ONCE_GFP(order > MAX_PAGE_ORDER)
    if (this.zonelistsDirty) this.build_all_zonelists();
    if (nid < 0) nid = 0; // NUMA_NO_NODE: numa_node_id() of the boot CPU
    const hz = gfp_zone(gfp);
    const lists = ((gfp & __GFP_THISNODE) !== 0 ? this.nofallback : this.fallback)[nid];
    if (lists === undefined) throw new Error(`alloc_pages: no node ${nid}`);
    const zl = lists[hz]!;
    // Fast path: ALLOC_WMARK_LOW.
    let pfn = this.get_page_from_freelist(zl, order, hz, WMARK_LOW, false, nodemask, nid);
    if (pfn >= 0) return pfn;
    // Slow path: ALLOC_WMARK_MIN (half of it for __GFP_HIGH); __GFP_MEMALLOC ignores watermarks.
    const mark = (gfp & __GFP_MEMALLOC) !== 0 ? ALLOC_NO_WATERMARKS : WMARK_MIN;
    pfn = this.get_page_from_freelist(zl, order, hz, mark, (gfp & __GFP_HIGH) !== 0, nodemask, nid);
    if (pfn < 0) this.alloc_failures++;
    return pfn;
  }

  /**
   * alloc_pages_bulk() for order 0, as the fault path would take the pages one by
   * one: up to nr pages from the zone alloc_pages(gfp, 0, nid, nodemask) would use
   * now, only as many as would each still pass its low-watermark fast path, each
   * the page that call would return in turn. Returns how many went to out[at..];
   * the caller takes the rest one by one (other zones, the slow path, failure).
   */
  alloc_pages_bulk(gfp: number, nid: number, nodemask: readonly number[] | undefined, nr: number, out: Float64Array, at: number): number {
    if (this.zonelistsDirty) this.build_all_zonelists();
    if (nid < 0) nid = 0;
    const hz = gfp_zone(gfp);
    const zl = ((gfp & __GFP_THISNODE) !== 0 ? this.nofallback : this.fallback)[nid]?.[hz];
    if (zl === undefined) return 0;
    let preferred: Zone | undefined;
    for (let i = 0; i < zl.length; i++) {
      const z = zl[i]!;
      if (nodemask !== undefined && !nodemask.includes(z.nid)) continue;
      if (preferred === undefined) preferred = z;
      // Page k of the run passes the fast path while free_pages - k > low + lowmem_reserve.
      const room = z.free_pages - (z.watermark[WMARK_LOW]! + z.lowmem_reserve[hz]!);
      if (room <= 0) continue;
      let got = 0;
      for (const want = Math.min(nr, room); got < want; got++) {
        const pfn = z.rmqueue(0);
        if (pfn < 0) break;
        out[at + got] = pfn;
      }
      if (got === 0) continue;
      this.nrFree -= got;
      z.pgalloc += got;
      this.zone_statistics(preferred, z, nid, got);
      return got;
    }
    return 0;
  }

  /** get_page_from_freelist(): the first zone passing __zone_watermark_ok that has a block. */
  private get_page_from_freelist(
    zl: readonly Zone[],
    order: number,
    hz: number,
    mark: number,
    minReserve: boolean,
    nodemask: readonly number[] | undefined,
    nid: number,
  ): number {
    let preferred: Zone | undefined;
    for (let i = 0; i < zl.length; i++) {
      const z = zl[i]!;
      if (nodemask !== undefined && !nodemask.includes(z.nid)) continue;
      if (preferred === undefined) preferred = z;
      if (mark !== ALLOC_NO_WATERMARKS) {
        let min = z.watermark[mark]!;
        if (minReserve) min -= Math.floor(min / 2);
        if (z.free_pages - ((1 << order) - 1) <= min + z.lowmem_reserve[hz]!) continue;
        if (order > 0 && !hasFreeOrder(z, order)) continue;
      }
      const pfn = z.rmqueue(order);
      if (pfn < 0) continue;
      const n = 1 << order;
      this.nrFree -= n;
      z.pgalloc += n;
      this.zone_statistics(preferred, z, nid, n);
      return pfn;
    }
    return -1;
  }

  /** zone_statistics(): numa_hit/miss/foreign against the preferred zone, local/other against nid. */
  private zone_statistics(preferred: Zone, z: Zone, nid: number, n: number): void {
    const st = this.numa_stat;
    const zb = z.nid * NR_NUMA_STAT_ITEMS;
    if (z.nid !== preferred.nid) {
      st[zb + NUMA_MISS] += n;
      st[preferred.nid * NR_NUMA_STAT_ITEMS + NUMA_FOREIGN] += n;
    } else {
      st[zb + NUMA_HIT] += n;
    }
    st[zb + (z.nid === nid ? NUMA_LOCAL : NUMA_OTHER)] += n;
  }

  /** __free_pages(): give back a block from alloc_pages (or any aligned part of one). */
  __free_pages(pfn: number, order: number): void {
    if (!(Number.isInteger(order) && order >= 0 && order <= MAX_PAGE_ORDER)) badPage(pfn, order, 'bad order');
    if (!Number.isSafeInteger(pfn) || pfn < 0 || pfn % (1 << order) !== 0) badPage(pfn, order, 'pfn not aligned to order (bad_range)');
    const z = this.zone_of(pfn);
    if (z === undefined) badPage(pfn, order, 'outside any zone');
    if (pfn + (1 << order) > z.zone_end_pfn) badPage(pfn, order, `crosses the end of zone ${z.name} (bad_range)`);
    z.free_one_page(pfn, order);
    this.nrFree += 1 << order;
  }

  /** free_pages(): alias of __free_pages taking a pfn. */
  free_pages(pfn: number, order: number): void {
    this.__free_pages(pfn, order);
  }

  /**
   * memblock_free_all() for one free memblock range [start_pfn, end_pfn):
   * __free_pages_memory splits it into naturally aligned blocks, each handed to
   * __free_pages_core, which adds it to managed_pages and frees it. Whole
   * order-10 blocks go in as one run, so the cost is O(zones + 20). Returns the
   * pages released.
   */
  memblock_free_pages(start_pfn: number, end_pfn: number): number {
    return this.free_range(start_pfn, end_pfn, 'memblock_free_pages');
  }

  /** free_reserved_area(): reserved frames (e.g. vmemmap freed by HVO) become managed and free. */
  free_reserved_pages(start_pfn: number, end_pfn: number): number {
    return this.free_range(start_pfn, end_pfn, 'free_reserved_pages');
  }

  /** adjust_managed_page_count(): frames leave (delta < 0) or join the zone's managed pages. */
  adjust_managed_page_count(pfn: number, delta: number): void {
    const z = this.zone_of(pfn);
    if (z === undefined) badPage(pfn, 0, 'adjust_managed_page_count outside any zone');
    z.managed_pages += delta;
    this.totalram += delta;
  }

  /** Release [start, end) into the buddy lists, adding it to managed pages; throws if a frame is outside every zone. */
  private free_range(start: number, end: number, who: string): number {
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && end >= start)) {
      throw new Error(`${who}: bad range [${start}, ${end})`);
    }
    const parts = this.split_by_zone(start, end, who);
    for (const [z, s, e] of parts) {
      z.managed_pages += e - s;
      this.totalram += e - s;
      z.free_range(s, e);
      this.nrFree += e - s;
    }
    return end - start;
  }

  /** [start, end) cut at zone boundaries; throws when part of it is in no zone. */
  private split_by_zone(start: number, end: number, who: string): [Zone, number, number][] {
    const parts: [Zone, number, number][] = [];
    let pfn = start;
    while (pfn < end) {
      const z = this.zone_of(pfn);
      if (z === undefined) badPage(pfn, 0, `${who}: pfn outside any zone`);
      const e = Math.min(end, z.zone_end_pfn);
      parts.push([z, pfn, e]);
      pfn = e;
    }
    return parts;
  }

  /**
   * alloc_contig_pages(): nr_pages contiguous frames aligned to nr_pages (a power
   * of two) or to MAX_ORDER_NR_PAGES, from the first zone of nid's zonelist
   * where such a range is entirely free. Returns the first pfn or -1.
   */
  alloc_contig_pages(nr_pages: number, nid: number, nodemask?: readonly number[], gfp = GFP_HIGHUSER_MOVABLE): number {
    if (!Number.isSafeInteger(nr_pages) || nr_pages < 1) return -1;
    const pow2 = 2 ** Math.round(Math.log2(nr_pages)) === nr_pages;
    if (nr_pages < BLOCK_PAGES && !pow2) return -1;
    if (nr_pages >= BLOCK_PAGES && nr_pages % BLOCK_PAGES !== 0) return -1;
    for (const z of this.zonelist(gfp, nid < 0 ? 0 : nid)) {
      if (nodemask !== undefined && !nodemask.includes(z.nid)) continue;
      let pfn: number;
      if (nr_pages < BLOCK_PAGES) {
        pfn = z.rmqueue(Math.log2(nr_pages));
      } else {
        const nb = nr_pages / BLOCK_PAGES;
        const b = z.runs.takeAligned(nb, pow2 ? nb : 1);
        if (b < 0) continue;
        z.nr_free[MAX_PAGE_ORDER] -= nb;
        z.free_pages -= nr_pages;
        pfn = b * BLOCK_PAGES;
      }
      if (pfn < 0) continue;
      this.nrFree -= nr_pages;
      return pfn;
    }
    return -1;
  }

  /** free_contig_range(): give back [pfn, pfn + nr_pages) (any alignment; parts may be freed separately). */
  free_contig_range(pfn: number, nr_pages: number): void {
    if (!(Number.isSafeInteger(pfn) && Number.isSafeInteger(nr_pages) && pfn >= 0 && nr_pages >= 0)) {
      throw new Error(`free_contig_range: bad range ${pfn}+${nr_pages}`);
    }
    for (const [z, s, e] of this.split_by_zone(pfn, pfn + nr_pages, 'free_contig_range')) {
      z.free_range(s, e);
      this.nrFree += e - s;
    }
  }

  /** take_page_off_buddy(): remove one free frame (memory_failure); false if it is not free. */
  take_page_off_buddy(pfn: number): boolean {
    const z = this.zone_of(pfn);
    if (z === undefined || !z.take_page_off_buddy(pfn)) return false;
    this.nrFree--;
    return true;
  }

  /**
   * __offline_isolated_pages(): take every free block in [start_pfn, end_pfn) (MAX_PAGE_ORDER
   * aligned) off the free lists; returns the pages taken. Memory hotplug checks first that all
   * of them are free (test_pages_isolated); managed pages are adjusted by the caller.
   */
  __offline_isolated_pages(start_pfn: number, end_pfn: number): number {
    let taken = 0;
    for (let b = start_pfn / BLOCK_PAGES; b < end_pfn / BLOCK_PAGES; b++) {
      const z = this.zone_of(b * BLOCK_PAGES);
      if (z === undefined) continue;
      for (let pfn = b * BLOCK_PAGES; pfn < (b + 1) * BLOCK_PAGES; ) {
        const blk = z.free_block_containing(pfn);
        if (blk === undefined) {
          pfn++;
          continue;
        }
        z.del_free_block(blk.pfn, blk.order);
        taken += 1 << blk.order;
        pfn = blk.pfn + (1 << blk.order);
      }
    }
    this.nrFree -= taken;
    return taken;
  }

  /** is_free_buddy_page(): true when pfn lies in a free buddy block. */
  is_free_buddy_page(pfn: number): boolean {
    const z = this.zone_of(pfn);
    return z !== undefined && z.free_block_containing(pfn) !== undefined;
  }

  /** NR_FREE_PAGES summed over all zones. */
  nr_free_pages(): number {
    return this.nrFree;
  }

  /** totalram_pages(): managed pages of all zones. */
  totalram_pages(): number {
    return this.totalram;
  }

  /** Free pages of one node. */
  node_free_pages(nid: number): number {
    let n = 0;
    for (const z of this.zones(nid)) n += z.free_pages;
    return n;
  }

  /** Managed pages of one node. */
  node_managed_pages(nid: number): number {
    let n = 0;
    for (const z of this.zones(nid)) n += z.managed_pages;
    return n;
  }

  /** nr_free_buffer_pages(): managed pages above the high watermark in zones up to ZONE_NORMAL (node 0's zonelist). */
  nr_free_buffer_pages(): number {
    if (this.zonelistsDirty) this.build_all_zonelists();
    let sum = 0;
    for (const z of this.fallback[0]![ZONE_NORMAL]!) sum += Math.max(0, z.managed_pages - z.wmark_high);
    return sum;
  }

  /** init_per_zone_wmark_min(): min_free_kbytes, then watermarks, lowmem reserves and totalreserve_pages. */
  init_per_zone_wmark_min(): void {
    this.min_free_kbytes = calculate_min_free_kbytes(this.nr_free_buffer_pages(), this.user_min_free_kbytes, this.min_free_kbytes);
    this.setup_per_zone_wmarks();
  }

  /** setup_per_zone_wmarks() + setup_per_zone_lowmem_reserve(), after a sysctl write or a managed-pages change. */
  setup_per_zone_wmarks(): void {
    setup_per_zone_wmarks(this.nodes.flat(), this.min_free_kbytes, this.watermark_scale_factor);
    let total = 0;
    for (const node of this.nodes) {
      setup_per_zone_lowmem_reserve(node, this.lowmem_reserve_ratio);
      total += calculate_totalreserve_pages(node);
    }
    this.totalreserve_pages = total;
  }

  /** Write /proc/sys/vm/min_free_kbytes (min_free_kbytes_sysctl_handler). */
  set_min_free_kbytes(kbytes: number): void {
    this.min_free_kbytes = kbytes;
    this.user_min_free_kbytes = kbytes;
    this.setup_per_zone_wmarks();
  }
}

/** __zone_watermark_ok()'s high-order check: some free_area of order >= `order` is non-empty. */
function hasFreeOrder(z: Zone, order: number): boolean {
  for (let o = order; o < NR_PAGE_ORDERS; o++) if (z.nr_free[o]! > 0) return true;
  return false;
}

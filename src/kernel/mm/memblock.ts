/**
 * The boot-time memory manager (mm/memblock.c, include/linux/memblock.h).
 *
 * Two region arrays, "memory" (what exists) and "reserved" (what is taken);
 * the per-array algorithms live in memblock_type.ts. Free memory is memory
 * minus reserved, walked with the two-cursor iterators of __next_mem_range /
 * __next_mem_range_rev. Allocation finds a free range top-down (default) or
 * bottom-up below current_limit and reserves it, falling back to other nodes
 * and from mirrored to any memory as memblock_alloc_range_nid() does.
 *
 * phys_addr_t is a JS number, so PHYS_ADDR_MAX is 2^53 - 1; allocators return
 * the physical address (the memblock_alloc* "virtual" variants too), 0 = failure.
 */
import type { KernelLog } from '../printk.ts';
import { PAGE_SIZE, alignDown, alignUp, hex } from '../../lib/size.ts';
import type { MemblockRegion } from './memblock_type.ts';
import {
  MAX_NUMNODES,
  MEMBLOCK_HOTPLUG,
  MEMBLOCK_MIRROR,
  MEMBLOCK_NOMAP,
  MEMBLOCK_NONE,
  MemblockType,
  NUMA_NO_NODE,
  PHYS_ADDR_MAX,
  memblock_cap_size,
  numa_valid_node,
} from './memblock_type.ts';

export * from './memblock_type.ts';

/** Allocation end limits, as include/linux/memblock.h. */
export const MEMBLOCK_ALLOC_ANYWHERE = PHYS_ADDR_MAX;
export const MEMBLOCK_ALLOC_ACCESSIBLE = 0;
export const MEMBLOCK_ALLOC_NOLEAKTRACE = 1;
/** Default lower limit of memblock_alloc*(). */
export const MEMBLOCK_LOW_LIMIT = 0;
/** L1 cache line: the alignment used when a caller passes align 0. */
export const SMP_CACHE_BYTES = 64;

/** A free or memory range yielded by the iterators. */
export interface MemRange {
  start: number;
  end: number;
  nid: number;
}

/** struct memblock: the memory and reserved types plus the allocator policy. */
export class Memblock {
  readonly memory = new MemblockType('memory');
  readonly reserved = new MemblockType('reserved');
  /** memblock_set_bottom_up(): allocate from low addresses up instead of top-down. */
  bottom_up = false;
  /** memblock_set_current_limit(): MEMBLOCK_ALLOC_ACCESSIBLE allocations stay below this. */
  current_limit = MEMBLOCK_ALLOC_ANYWHERE;
  /** memblock=debug. */
  debug = false;
  private system_has_some_mirror = false;

  /** memblock_add_node(): add memory belonging to node `nid` with `flags`. */
  add_node(base: number, size: number, nid: number, flags = MEMBLOCK_NONE): number {
    return this.memory.add_range(base, size, nid, flags);
  }

  /** memblock_add(): add memory of no node yet (tagged MAX_NUMNODES until memblock_set_node). */
  add(base: number, size: number): number {
    return this.memory.add_range(base, size, MAX_NUMNODES, MEMBLOCK_NONE);
  }

  /** memblock_remove(): the range stops being memory at all. */
  remove(base: number, size: number): number {
    return this.memory.remove_range(base, size);
  }

  /** memblock_reserve(). */
  reserve(base: number, size: number): number {
    return this.reserved.add_range(base, size, MAX_NUMNODES, MEMBLOCK_NONE);
  }

  /** memblock_phys_free(): undo a reservation. */
  phys_free(base: number, size: number): number {
    return this.reserved.remove_range(base, size);
  }

  /** memblock_set_node(): assign `nid` to the regions of `type` in the range. */
  set_node(base: number, size: number, nid: number, type: 'memory' | 'reserved' = 'memory'): number {
    return (type === 'memory' ? this.memory : this.reserved).update_range(base, size, (r) => {
      r.nid = nid;
    });
  }

  /** memblock_setclr_flag() on memory. */
  private setclr_flag(base: number, size: number, set: boolean, flag: number): number {
    return this.memory.update_range(base, size, (r) => {
      r.flags = set ? r.flags | flag : r.flags & ~flag;
    });
  }

  /** memblock_mark_hotplug(). */
  mark_hotplug(base: number, size: number): number {
    return this.setclr_flag(base, size, true, MEMBLOCK_HOTPLUG);
  }

  /** memblock_clear_hotplug(). */
  clear_hotplug(base: number, size: number): number {
    return this.setclr_flag(base, size, false, MEMBLOCK_HOTPLUG);
  }

  /** memblock_mark_mirror(): also makes allocations prefer mirrored memory. */
  mark_mirror(base: number, size: number): number {
    this.system_has_some_mirror = true;
    return this.setclr_flag(base, size, true, MEMBLOCK_MIRROR);
  }

  /** memblock_mark_nomap(): keep the range out of the direct map and allocations. */
  mark_nomap(base: number, size: number): number {
    return this.setclr_flag(base, size, true, MEMBLOCK_NOMAP);
  }

  /** memblock_clear_nomap(). */
  clear_nomap(base: number, size: number): number {
    return this.setclr_flag(base, size, false, MEMBLOCK_NOMAP);
  }

  /** should_skip_region() for the memory type (reserved regions are never skipped). */
  private skip(m: MemblockRegion, nid: number, flags: number): boolean {
    if (numa_valid_node(nid) && nid !== m.nid) return true;
    if (flags & MEMBLOCK_MIRROR && !(m.flags & MEMBLOCK_MIRROR)) return true;
    if (!(flags & MEMBLOCK_NOMAP) && m.flags & MEMBLOCK_NOMAP) return true;
    return false;
  }

  /**
   * for_each_free_mem_range / _reverse: memory minus reserved, for node `nid`
   * (NUMA_NO_NODE = all), skipping NOMAP unless asked. Do not modify memblock
   * while iterating (as in C, the cursors are indices).
   */
  *free_mem_ranges(nid: number, reverse = false, flags = MEMBLOCK_NONE): Generator<MemRange> {
    const a = this.memory.regions;
    const b = this.reserved.regions;
    const gapStart = (ib: number): number => (ib ? b[ib - 1]!.base + b[ib - 1]!.size : 0);
    const gapEnd = (ib: number): number => (ib < b.length ? b[ib]!.base : PHYS_ADDR_MAX);
    if (!reverse) {
      let ib = 0;
      for (let ia = 0; ia < a.length; ia++) {
        const m = a[ia]!;
        if (this.skip(m, nid, flags)) continue;
        const mEnd = m.base + m.size;
        while (ib < b.length + 1) {
          const rStart = gapStart(ib);
          const rEnd = gapEnd(ib);
          if (rStart >= mEnd) break;
          if (m.base < rEnd) {
            yield { start: Math.max(m.base, rStart), end: Math.min(mEnd, rEnd), nid: m.nid };
            // The region which ends first is advanced for the next iteration.
            if (mEnd <= rEnd) break;
          }
          ib++;
        }
      }
    } else {
      let ib = b.length;
      for (let ia = a.length - 1; ia >= 0; ia--) {
        const m = a[ia]!;
        if (this.skip(m, nid, flags)) continue;
        const mEnd = m.base + m.size;
        while (ib >= 0) {
          const rStart = gapStart(ib);
          const rEnd = gapEnd(ib);
          if (rEnd <= m.base) break;
          if (mEnd > rStart) {
            yield { start: Math.max(m.base, rStart), end: Math.min(mEnd, rEnd), nid: m.nid };
            if (m.base >= rStart) break;
          }
          ib--;
        }
      }
    }
  }

  /** for_each_mem_range: memory regions of `nid` (NUMA_NO_NODE = all), NOMAP skipped. */
  *mem_ranges(nid: number, flags = MEMBLOCK_NONE): Generator<MemRange> {
    for (const m of this.memory.regions) {
      if (this.skip(m, nid, flags)) continue;
      yield { start: m.base, end: m.base + m.size, nid: m.nid };
    }
  }

  /** for_each_mem_pfn_range: whole-page pfn ranges of every memory region (NOMAP included). */
  *mem_pfn_ranges(nid: number): Generator<MemRange> {
    for (const r of this.memory.regions) {
      const s = Math.ceil(r.base / PAGE_SIZE);
      const e = Math.floor((r.base + r.size) / PAGE_SIZE);
      if (s >= e) continue;
      if (!numa_valid_node(nid) || nid === r.nid) yield { start: s, end: e, nid: r.nid };
    }
  }

  /** choose_memblock_flags(). */
  private choose_flags(): number {
    return this.system_has_some_mirror ? MEMBLOCK_MIRROR : MEMBLOCK_NONE;
  }

  /**
   * memblock_find_in_range_node(): a free, aligned [cand, cand+size) inside
   * [start, end) on `nid`, top-down or bottom-up. Returns 0 when none.
   */
  find_in_range_node(size: number, align: number, start: number, end: number, nid: number, flags: number): number {
    // pump up @end
    if (end === MEMBLOCK_ALLOC_ACCESSIBLE || end === MEMBLOCK_ALLOC_NOLEAKTRACE) end = this.current_limit;
    // avoid allocating the first page
    start = Math.max(start, PAGE_SIZE);
    end = Math.max(start, end);
    const clamp = (x: number): number => Math.min(Math.max(x, start), end);
    if (this.bottom_up) {
      for (const r of this.free_mem_ranges(nid, false, flags)) {
        const ts = clamp(r.start);
        const te = clamp(r.end);
        const cand = alignUp(ts, align);
        if (cand < te && te - cand >= size) return cand;
      }
    } else {
      for (const r of this.free_mem_ranges(nid, true, flags)) {
        const ts = clamp(r.start);
        const te = clamp(r.end);
        if (te < size) continue;
        const cand = alignDown(te - size, align);
        if (cand >= ts) return cand;
      }
    }
    return 0;
  }

  /**
   * memblock_alloc_range_nid(): find and reserve; falls back to any node unless
   * exact_nid, and from mirrored to any memory. Returns the address or 0.
   */
  alloc_range_nid(
    size: number,
    align: number,
    start: number,
    end: number,
    nid: number,
    exact_nid: boolean,
    log?: KernelLog,
  ): number {
    if (!Number.isSafeInteger(size) || size < 0) return 0;
    let flags = this.choose_flags();
    if (nid === MAX_NUMNODES) nid = NUMA_NO_NODE; // "Usage of MAX_NUMNODES is deprecated"
    if (!align) align = SMP_CACHE_BYTES; // Linux dump_stack()s here
    for (;;) {
      let found = this.find_in_range_node(size, align, start, end, nid, flags);
      if (found && !this.reserve(found, size)) return found;
      if (numa_valid_node(nid) && !exact_nid) {
        found = this.find_in_range_node(size, align, start, end, NUMA_NO_NODE, flags);
        if (found && !this.reserve(found, size)) return found;
      }
      if (!(flags & MEMBLOCK_MIRROR)) return 0;
      flags &= ~MEMBLOCK_MIRROR;
      log?.warn(`Could not allocate ${hex(size, 16)} bytes of mirrored memory`);
    }
  }

  /** memblock_phys_alloc_range(). */
  phys_alloc_range(size: number, align: number, start: number, end: number): number {
    return this.alloc_range_nid(size, align, start, end, NUMA_NO_NODE, false);
  }

  /** memblock_phys_alloc(): anywhere below current_limit. */
  phys_alloc(size: number, align: number): number {
    return this.phys_alloc_range(size, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE);
  }

  /** memblock_phys_alloc_try_nid(). */
  phys_alloc_try_nid(size: number, align: number, nid: number): number {
    return this.alloc_range_nid(size, align, 0, MEMBLOCK_ALLOC_ACCESSIBLE, nid, false);
  }

  /** memblock_alloc_internal(): clamp to current_limit, then retry without min_addr. */
  private alloc_internal(size: number, align: number, min: number, max: number, nid: number, exact: boolean): number {
    if (max > this.current_limit) max = this.current_limit;
    let alloc = this.alloc_range_nid(size, align, min, max, nid, exact);
    if (!alloc && min) alloc = this.alloc_range_nid(size, align, 0, max, nid, exact);
    return alloc;
  }

  /** memblock_alloc_try_nid(): prefer `nid` and [min_addr, max_addr), then relax. */
  alloc_try_nid(size: number, align: number, min_addr: number, max_addr: number, nid: number): number {
    return this.alloc_internal(size, align, min_addr, max_addr, nid, false);
  }

  /** memblock_alloc_try_nid_raw() (no zeroing: the same here). */
  alloc_try_nid_raw(size: number, align: number, min_addr: number, max_addr: number, nid: number): number {
    return this.alloc_internal(size, align, min_addr, max_addr, nid, false);
  }

  /** memblock_alloc_exact_nid_raw(): only from node `nid`. */
  alloc_exact_nid_raw(size: number, align: number, min_addr: number, max_addr: number, nid: number): number {
    return this.alloc_internal(size, align, min_addr, max_addr, nid, true);
  }

  /** memblock_alloc_node(). */
  alloc_node(size: number, align: number, nid: number): number {
    return this.alloc_try_nid(size, align, MEMBLOCK_LOW_LIMIT, MEMBLOCK_ALLOC_ACCESSIBLE, nid);
  }

  /** memblock_alloc(). */
  alloc(size: number, align: number): number {
    return this.alloc_try_nid(size, align, MEMBLOCK_LOW_LIMIT, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE);
  }

  /** memblock_phys_mem_size(). */
  phys_mem_size(): number {
    return this.memory.total_size;
  }

  /** memblock_reserved_size(). */
  reserved_size(): number {
    return this.reserved.total_size;
  }

  /** memblock_start_of_DRAM() (0 when there is no memory). */
  start_of_DRAM(): number {
    return this.memory.regions[0]?.base ?? 0;
  }

  /** memblock_end_of_DRAM() (0 when there is no memory). */
  end_of_DRAM(): number {
    const r = this.memory.regions[this.memory.regions.length - 1];
    return r ? r.base + r.size : 0;
  }

  /** memblock_is_memory(). */
  is_memory(addr: number): boolean {
    return this.memory.search(addr) !== -1;
  }

  /** memblock_is_map_memory(): memory and not NOMAP. */
  is_map_memory(addr: number): boolean {
    const i = this.memory.search(addr);
    return i !== -1 && !(this.memory.regions[i]!.flags & MEMBLOCK_NOMAP);
  }

  /** memblock_is_reserved(). */
  is_reserved(addr: number): boolean {
    return this.reserved.search(addr) !== -1;
  }

  /** memblock_is_region_memory(): is [base, base+size) inside one memory region? */
  is_region_memory(base: number, size: number): boolean {
    const idx = this.memory.search(base);
    const end = base + memblock_cap_size(base, size);
    if (idx === -1) return false;
    const r = this.memory.regions[idx]!;
    return r.base + r.size >= end;
  }

  /** memblock_is_region_reserved(): does [base, base+size) intersect a reservation? */
  is_region_reserved(base: number, size: number): boolean {
    return this.reserved.overlaps(base, size);
  }

  /** memblock_search_pfn_nid(): node and pfn span of the region holding pfn, or undefined. */
  search_pfn_nid(pfn: number): { nid: number; startPfn: number; endPfn: number } | undefined {
    const i = this.memory.search(pfn * PAGE_SIZE);
    if (i === -1) return undefined;
    const r = this.memory.regions[i]!;
    return { nid: r.nid, startPfn: Math.floor(r.base / PAGE_SIZE), endPfn: Math.floor((r.base + r.size) / PAGE_SIZE) };
  }

  /** memblock_trim_memory(): shrink every memory region to `align` boundaries. */
  trim_memory(align: number): void {
    const rs = this.memory.regions;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!;
      const start = alignUp(r.base, align);
      const end = alignDown(r.base + r.size, align);
      if (start === r.base && end === r.base + r.size) continue;
      if (start < end) {
        // Linux leaves total_size stale here; we keep it equal to the sum of regions.
        this.memory.total_size -= r.size - (end - start);
        r.base = start;
        r.size = end - start;
      } else {
        this.memory.remove_region(i--);
      }
    }
  }

  /** memblock_enforce_memory_limit(): keep only the first `limit` bytes of memory. */
  enforce_memory_limit(limit: number): void {
    if (!limit) return;
    let max_addr = PHYS_ADDR_MAX;
    for (const r of this.memory.regions) {
      if (limit <= r.size) {
        max_addr = r.base + limit;
        break;
      }
      limit -= r.size;
    }
    if (max_addr === PHYS_ADDR_MAX) return;
    this.memory.remove_range(max_addr, PHYS_ADDR_MAX);
    this.reserved.remove_range(max_addr, PHYS_ADDR_MAX);
  }

  /** early_param("memblock"): "debug" turns on memblock_dump_all(). */
  early_memblock(p: string | undefined): number {
    if (p !== undefined && p.includes('debug')) this.debug = true;
    return 0;
  }

  /** __memblock_dump_all(): the `MEMBLOCK configuration:` block, unconditionally. */
  dump(log: KernelLog): void {
    log.info('MEMBLOCK configuration:');
    log.info(` memory size = ${hex(this.memory.total_size, 16)} reserved size = ${hex(this.reserved.total_size, 16)}`);
    this.memory.dump(log);
    this.reserved.dump(log);
  }

  /** memblock_dump_all(): dump only with memblock=debug. */
  dump_all(log: KernelLog): void {
    if (this.debug) this.dump(log);
  }
}

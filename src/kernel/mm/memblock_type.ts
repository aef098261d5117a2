/**
 * struct memblock_type and the algorithms that work on one region array
 * (mm/memblock.c: memblock_add_range, memblock_isolate_range,
 * memblock_remove_range, memblock_merge_regions, memblock_search,
 * memblock_dump; constants from include/linux/memblock.h).
 *
 * The array is sorted and minimal: neighbours that touch merge when their nid
 * and flags match. An empty type has cnt 0 (Linux >= 6.10, no dummy entry).
 */
import type { KernelLog } from '../printk.ts';
import { hex } from '../../lib/size.ts';

/** No node preference / "any node". */
export const NUMA_NO_NODE = -1;
/** 1 << CONFIG_NODES_SHIFT (6 on x86-64 defconfig); memblock_add() tags regions with it. */
export const MAX_NUMNODES = 64;

/** enum memblock_flags. */
export const MEMBLOCK_NONE = 0x0;
export const MEMBLOCK_HOTPLUG = 0x1;
export const MEMBLOCK_MIRROR = 0x2;
export const MEMBLOCK_NOMAP = 0x4;
export const MEMBLOCK_DRIVER_MANAGED = 0x8;

/** Largest representable physical address: stands in for (phys_addr_t)~0 (x86-64 stays below 2^52). */
export const PHYS_ADDR_MAX = Number.MAX_SAFE_INTEGER;

const EINVAL = 22;

/** struct memblock_region. */
export interface MemblockRegion {
  base: number;
  size: number;
  flags: number;
  nid: number;
}

/** numa_valid_node(): a real node id (not NUMA_NO_NODE, not MAX_NUMNODES). */
export function numa_valid_node(nid: number): boolean {
  return nid >= 0 && nid < MAX_NUMNODES;
}

/** memblock_cap_size(): keep base + size from overflowing. */
export function memblock_cap_size(base: number, size: number): number {
  return Math.min(size, PHYS_ADDR_MAX - base);
}

/** What cannot be a phys_addr_t (the C types make these impossible); such calls are refused. */
export function memblock_bad_args(base: number, size: number): boolean {
  return !Number.isSafeInteger(base) || base < 0 || Number.isNaN(size) || size < 0;
}

/** struct memblock_type: a sorted, minimal array of regions and their total size. */
export class MemblockType {
  regions: MemblockRegion[] = [];
  total_size = 0;
  constructor(readonly name: string) {}

  /** Number of regions. */
  get cnt(): number {
    return this.regions.length;
  }

  /** memblock_insert_region(). */
  insert_region(idx: number, base: number, size: number, nid: number, flags: number): void {
    this.regions.splice(idx, 0, { base, size, flags, nid });
    this.total_size += size;
  }

  /** memblock_remove_region(). */
  remove_region(r: number): void {
    this.total_size -= this.regions[r]!.size;
    this.regions.splice(r, 1);
  }

  /** memblock_merge_regions(): merge neighbours that touch and share nid and flags. */
  merge_regions(): void {
    const rs = this.regions;
    let i = 0;
    while (i < rs.length - 1) {
      const a = rs[i]!;
      const b = rs[i + 1]!;
      if (a.base + a.size !== b.base || a.nid !== b.nid || a.flags !== b.flags) {
        if (a.base + a.size > b.base) throw new Error(`BUG: memblock ${this.name} regions overlap`);
        i++;
        continue;
      }
      a.size += b.size;
      rs.splice(i + 1, 1);
    }
  }

  /**
   * memblock_add_range(): add [base, base+size); overlaps don't affect the
   * regions already there, only the uncovered pieces are inserted.
   */
  add_range(base: number, size: number, nid: number, flags: number): number {
    if (memblock_bad_args(base, size)) return -EINVAL;
    size = memblock_cap_size(base, size);
    if (!size) return 0;
    const end = base + size;
    let idx = 0;
    for (; idx < this.regions.length; idx++) {
      const rgn = this.regions[idx]!;
      const rbase = rgn.base;
      const rend = rbase + rgn.size;
      if (rbase >= end) break;
      if (rend <= base) continue;
      // @rgn overlaps. If it separates the lower part of the new area, insert that
      // portion (Linux WARNs if nid/flags differ from @rgn's; the existing region wins).
      if (rbase > base) this.insert_region(idx++, base, rbase - base, nid, flags);
      // area below @rend is dealt with, forget about it
      base = Math.min(rend, end);
    }
    if (base < end) this.insert_region(idx, base, end - base, nid, flags);
    this.merge_regions();
    return 0;
  }

  /**
   * memblock_isolate_range(): split regions crossing base or base+size so that
   * whole regions cover the range; returns [start_rgn, end_rgn).
   */
  isolate_range(base: number, size: number): [number, number] {
    if (memblock_bad_args(base, size)) return [0, 0];
    size = memblock_cap_size(base, size);
    if (!size) return [0, 0];
    const end = base + size;
    let startRgn = 0;
    let endRgn = 0;
    for (let idx = 0; idx < this.regions.length; idx++) {
      const rgn = this.regions[idx]!;
      const rbase = rgn.base;
      const rend = rbase + rgn.size;
      if (rbase >= end) break;
      if (rend <= base) continue;
      if (rbase < base) {
        // @rgn intersects from below: split and continue with the top half.
        rgn.base = base;
        rgn.size -= base - rbase;
        this.total_size -= base - rbase;
        this.insert_region(idx, rbase, base - rbase, rgn.nid, rgn.flags);
      } else if (rend > end) {
        // @rgn intersects from above: split and redo the bottom half.
        rgn.base = end;
        rgn.size -= end - rbase;
        this.total_size -= end - rbase;
        this.insert_region(idx--, rbase, end - rbase, rgn.nid, rgn.flags);
      } else {
        // @rgn is fully contained, record it
        if (!endRgn) startRgn = idx;
        endRgn = idx + 1;
      }
    }
    return [startRgn, endRgn];
  }

  /** memblock_remove_range(). */
  remove_range(base: number, size: number): number {
    if (memblock_bad_args(base, size)) return -EINVAL;
    const [s, e] = this.isolate_range(base, size);
    for (let i = e - 1; i >= s; i--) this.remove_region(i);
    return 0;
  }

  /** Isolate the range, apply `fn` to each region inside it, then merge (set_node, setclr_flag). */
  update_range(base: number, size: number, fn: (r: MemblockRegion) => void): number {
    if (memblock_bad_args(base, size)) return -EINVAL;
    const [s, e] = this.isolate_range(base, size);
    for (let i = s; i < e; i++) fn(this.regions[i]!);
    this.merge_regions();
    return 0;
  }

  /** memblock_search(): index of the region containing addr, or -1. */
  search(addr: number): number {
    let left = 0;
    let right = this.regions.length;
    while (left < right) {
      const mid = Math.floor((left + right) / 2);
      const r = this.regions[mid]!;
      if (addr < r.base) right = mid;
      else if (addr >= r.base + r.size) left = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** memblock_overlaps_region(). */
  overlaps(base: number, size: number): boolean {
    size = memblock_cap_size(base, size);
    return this.regions.some((r) => base < r.base + r.size && r.base < base + size);
  }

  /** memblock_dump(): ` memory.cnt  = 0x2`, then one line per region. */
  dump(log: KernelLog): void {
    log.info(` ${this.name}.cnt  = ${hex(this.cnt)}`);
    this.regions.forEach((r, idx) => {
      const nidBuf = numa_valid_node(r.nid) ? ` on node ${r.nid}` : '';
      const range = `[${hex(r.base, 16)}-${hex(r.base + r.size - 1, 16)}]`;
      log.info(` ${this.name}[${hex(idx)}]\t${range}, ${hex(r.size, 16)} bytes${nidBuf} flags: ${hex(r.flags)}`);
    });
  }
}

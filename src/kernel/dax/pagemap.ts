/**
 * struct pages for device-dax memory (mm/memremap.c memremap_pages /
 * memunmap_pages with MEMORY_DEVICE_GENERIC, pagemap_range → arch_add_memory →
 * __add_pages → sparse_add_section; mm/sparse-vmemmap.c
 * vmemmap_populate_compound_pages, vmemmap_can_optimize, VMEMMAP_RESERVE_NR).
 *
 * vmemmap cost per range:
 *  - align 4K (no vmemmap_shift): 64 B per 4 KiB page (16 MiB per GiB);
 *  - align 2M/1G (compound pages, vmemmap_shift = 9/18): each compound page
 *    populates only its first VMEMMAP_RESERVE_NR = 2 vmemmap pages (head page and
 *    the first tail page); every further vmemmap page of the compound page maps
 *    that tail page again, and a compound page spanning several sections reuses
 *    the previous section's tail page (reuse_compound_section). So 2 pages per
 *    2 MiB (6 of 8 saved) and 2 pages per 1 GiB (4094 of 4096 saved);
 *  - the pageless RFC (map=0): no memremap_pages at all, 0 bytes.
 * The page-table pages that map the vmemmap are not counted (as costs.md).
 *
 * The vmemmap pages come from the page allocator on the target node (what
 * vmemmap_alloc_block does after boot); the model takes them in blocks of up to
 * MAX_ORDER so a 16 TiB device costs thousands of allocations, not millions.
 * Each section's memmap bytes are recorded with sparse_add_section, so pfn_valid
 * is true for the device's frames while it is bound with struct pages.
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE } from '../../lib/size.ts';
import { GFP_KERNEL, type PageAllocator } from '../mm/page_alloc.ts';
import { STRUCT_PAGE_SIZE, type SparseMem } from '../mm/sparse.ts';
import type { DevDaxRange } from './api.ts';

/** VMEMMAP_RESERVE_NR: vmemmap pages each optimized compound page keeps. */
export const VMEMMAP_RESERVE_NR = 2;
/** Largest block the page allocator hands out (MAX_PAGE_ORDER). */
const MAX_ORDER = 10;

/** Bytes of vmemmap memremap_pages populates for `bytes` of device memory at `align` (0 when map=0). */
export function vmemmap_bytes(bytes: number, align: number, map: boolean): number {
  if (!map) return 0;
  if (align <= PAGE_SIZE) return (bytes / PAGE_SIZE) * STRUCT_PAGE_SIZE;
  return (bytes / align) * VMEMMAP_RESERVE_NR * PAGE_SIZE;
}

/** struct dev_pagemap as device_dax holds it: the ranges it covers and the vmemmap it took. */
export class DevPagemap {
  /** First pfn and order of each vmemmap block taken from the page allocator. */
  private readonly blocks: number[] = [];
  /** Bytes of vmemmap populated. */
  vmemmapBytes = 0;
  /** The pgmap's reference count (get_dev_pagemap / pin_user_pages on its pages). */
  refs = 0;

  constructor(
    readonly ranges: readonly { start: number; end: number }[],
    readonly vmemmap_shift: number,
  ) {}

  /** memremap_pages(): populate the vmemmap of every range and add its sections; ENOMEM when out of memory. */
  memremap_pages(buddy: PageAllocator, sparse: SparseMem, nid: number, align: number): void {
    const added: { start: number; end: number }[] = [];
    try {
      for (const r of this.ranges) {
        const len = r.end - r.start + 1;
        const bytes = vmemmap_bytes(len, align, true);
        this.alloc(buddy, nid, bytes / PAGE_SIZE);
        const rc = sparse.sparse_add_section(nid, r.start / PAGE_SIZE, len / PAGE_SIZE, bytes);
        if (rc < 0) throw new Errno(rc === -17 ? 'EEXIST' : 'EINVAL');
        added.push(r);
        this.vmemmapBytes += bytes;
      }
    } catch (e) {
      for (const r of added) sparse.sparse_remove_section(r.start / PAGE_SIZE, (r.end - r.start + 1) / PAGE_SIZE);
      this.free(buddy);
      this.vmemmapBytes = 0;
      throw e;
    }
  }

  /** memunmap_pages(): remove the sections and give the vmemmap back. */
  memunmap_pages(buddy: PageAllocator, sparse: SparseMem): void {
    for (const r of this.ranges) sparse.sparse_remove_section(r.start / PAGE_SIZE, (r.end - r.start + 1) / PAGE_SIZE);
    this.free(buddy);
    this.vmemmapBytes = 0;
  }

  private alloc(buddy: PageAllocator, nid: number, pages: number): void {
    let left = pages;
    while (left > 0) {
      let order = Math.min(MAX_ORDER, Math.floor(Math.log2(left)));
      let pfn = -1;
      for (; order >= 0; order--) {
        pfn = buddy.alloc_pages(GFP_KERNEL, order, nid);
        if (pfn >= 0) break;
      }
      if (pfn < 0) throw new Errno('ENOMEM');
      this.blocks.push(pfn, order);
      left -= 2 ** order;
    }
  }

  private free(buddy: PageAllocator): void {
    for (let i = 0; i < this.blocks.length; i += 2) buddy.__free_pages(this.blocks[i]!, this.blocks[i + 1]!);
    this.blocks.length = 0;
  }

  /** Pages of vmemmap held. */
  get vmemmapPages(): number {
    return this.vmemmapBytes / PAGE_SIZE;
  }
}

/** A pgmap over a device's ranges (dev_dax_probe's pgmap->ranges, vmemmap_shift from the align). */
export function dev_dax_pgmap(ranges: readonly DevDaxRange[], align: number): DevPagemap {
  return new DevPagemap(ranges.map((r) => ({ start: r.start, end: r.end })), align > PAGE_SIZE ? Math.log2(align / PAGE_SIZE) : 0);
}

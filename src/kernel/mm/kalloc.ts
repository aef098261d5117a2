/**
 * Kernel memory for subsystem metadata: kvzalloc/kvfree (mm/util.c) over
 * kmalloc (mm/slub.c) and vmalloc (mm/vmalloc.c), with every page taken from
 * the page allocator and counted where Linux counts it — kmalloc'd memory in
 * Slab/SUnreclaim, vmalloc'd memory in VmallocUsed.
 *
 * Simplification: no slab packing. A kmalloc takes whole pages of its own
 * (sized to the request's power-of-two size class), so small objects cost a
 * page; the counters still show exactly the pages taken.
 */
import { PAGE_SIZE } from '../../lib/size.ts';
import type { KernelAlloc } from '../dmem/api.ts';
import type { Kmem } from './kmem.ts';
import { GFP_KERNEL } from './page_alloc.ts';
import { NR_SLAB_UNRECLAIMABLE_B, NR_VMALLOC } from './vmstat.ts';

/** KMALLOC_MAX_CACHE_SIZE with SLUB on x86-64: larger kvzalloc requests use vmalloc. */
export const KMALLOC_MAX_CACHE_SIZE = 2 * PAGE_SIZE;

interface Allocation {
  nid: number;
  /** Frames taken (order-0 pages for vmalloc; one block for kmalloc). */
  pfns: number[];
  order: number;
  vmalloc: boolean;
}

/** kvzalloc/kvfree for one host. */
export class KernelAllocator implements KernelAlloc {
  private readonly live = new Map<number, Allocation>();
  private nextHandle = 1;

  constructor(private readonly kmem: Kmem) {}

  /** kvzalloc: zeroed kernel memory of `bytes` on node nid; a handle, or -1. */
  kvzalloc(bytes: number, nid: number): number {
    if (!(bytes > 0)) return -1;
    const k = this.kmem;
    let a: Allocation;
    if (bytes <= KMALLOC_MAX_CACHE_SIZE) {
      const order = bytes <= PAGE_SIZE ? 0 : 1;
      const pfn = k.buddy.alloc_pages(GFP_KERNEL, order, nid);
      if (pfn < 0) return -1;
      a = { nid: k.pfnToNid(pfn), pfns: [pfn], order, vmalloc: false };
      k.vmstat.mod(a.nid, NR_SLAB_UNRECLAIMABLE_B, PAGE_SIZE * 2 ** order);
    } else {
      const n = Math.ceil(bytes / PAGE_SIZE);
      const pfns: number[] = [];
      for (let i = 0; i < n; i++) {
        const pfn = k.buddy.alloc_pages(GFP_KERNEL, 0, nid);
        if (pfn < 0) {
          for (const p of pfns) k.buddy.__free_pages(p, 0);
          return -1;
        }
        pfns.push(pfn);
      }
      a = { nid, pfns, order: 0, vmalloc: true };
      k.vmstat.mod(nid, NR_VMALLOC, n);
    }
    for (const p of a.pfns) k.dram.clear_pages(p, 2 ** a.order);
    const h = this.nextHandle++;
    this.live.set(h, a);
    return h;
  }

  /** kvfree. Freeing an unknown handle is a kernel bug. */
  kvfree(handle: number): void {
    const a = this.live.get(handle);
    if (!a) throw new Error(`kvfree: bad handle ${handle}`);
    this.live.delete(handle);
    const k = this.kmem;
    for (const p of a.pfns) k.buddy.__free_pages(p, a.order);
    if (a.vmalloc) k.vmstat.mod(a.nid, NR_VMALLOC, -a.pfns.length);
    else k.vmstat.mod(a.nid, NR_SLAB_UNRECLAIMABLE_B, -PAGE_SIZE * 2 ** a.order);
  }
}

/**
 * The dmem pool's interface to its users (the original series' include/linux/dmem.h):
 * dmemfs allocates and frees dpages through it; memory failure and VFIO use the
 * rest. The pool (pool.ts) implements it; dmemfs depends only on this file.
 */
import type { MmStruct } from '../mm/mm_types.ts';
import type { VmArea } from '../mm/vm_area.ts';

/** A run of contiguous dpages handed out by one allocation. */
export interface DpageRun {
  /** Physical address of the first dpage. */
  phys: number;
  /** Number of dpages (1..try_max). */
  nr: number;
}

/** What dmemfs (and later memory failure and VFIO) need of the pool. */
export interface DmemPool {
  /** Bytes reserved by dmem= (0 when nothing was reserved). */
  readonly registeredBytes: number;
  /** log2 of the dpage size, fixed by the first dmem_alloc_init; 0 while no user holds the pool. */
  readonly dpage_shift: number;

  /**
   * dmem_alloc_init: a new user (a dmemfs mount) of the pool with this dpage size.
   * The first user fixes the size and allocates the allocation bitmaps (counted
   * kernel memory). Throws Errno EBUSY when users exist with another size;
   * ENOMEM when there is no reserved memory or the bitmaps cannot be allocated.
   */
  dmem_alloc_init(dpage_shift: number): void;
  /** dmem_alloc_uinit: a user leaves; the last one frees the bitmaps. */
  dmem_alloc_uinit(): void;

  /**
   * dmem_alloc_pages_vma: up to try_max contiguous free dpages for a fault at
   * addr in vma, from the node its memory policy (vma's, else the mm's task policy,
   * else local to mm.homeNid) and the fallback lists choose. null when none is free.
   */
  dmem_alloc_pages_vma(mm: MmStruct, vma: VmArea, addr: number, try_max: number): DpageRun | null;
  /** dmem_alloc_pages_nodemask: the same from node nid, restricted to nodemask when given. */
  dmem_alloc_pages_nodemask(nid: number, nodemask: readonly number[] | undefined, try_max: number): DpageRun | null;
  /** dmem_free_pages: return nr dpages starting at phys (each must be allocated). */
  dmem_free_pages(phys: number, nr: number): void;

  /** is_dmem_pfn: does this frame belong to a dmem region? */
  is_dmem_pfn(pfn: number): boolean;
  /** Extra references on an allocated dpage (v2's per-dpage refcount, for VFIO pins). */
  dmem_get_page(phys: number): void;
  /** Drop one; returns true when the dpage's count fell back to its owner's single reference. */
  dmem_put_page(phys: number): boolean;

  /** Has this frame a recorded hardware error (its bit in the region's error bitmap)? */
  is_poisoned(pfn: number): boolean;
  /** Does the dpage starting at phys hold any frame with a hardware error? */
  dpage_poisoned(phys: number): boolean;
  /** Does any frame of the pool have a recorded hardware error? (Absent: assume so.) */
  has_errors?(): boolean;

  /** Totals in dpages (all nodes, or one). */
  total_dpages(nid?: number): number;
  free_dpages(nid?: number): number;
}

/**
 * Kernel memory for metadata (kvzalloc/kvfree in the original): pages taken from
 * the page allocator and counted, so bitmaps show up in /proc/meminfo (Slab:).
 * Returns a handle, or -1 when the memory cannot be had.
 */
export interface KernelAlloc {
  kvzalloc(bytes: number, nid: number): number;
  kvfree(handle: number): void;
}

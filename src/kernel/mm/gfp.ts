/**
 * GFP flags and the zone a request may use (include/linux/gfp_types.h,
 * include/linux/gfp.h: gfp_zone, GFP_ZONE_TABLE).
 *
 * Bit values are those of the ___GFP_*_BIT enum with CONFIG_KASAN_HW_TAGS,
 * CONFIG_LOCKDEP and CONFIG_SLAB_OBJ_EXT off, so they stay below 2^31 and `|`/`&`
 * are exact.
 */
import { ZONE_DMA, ZONE_DMA32, ZONE_MOVABLE, ZONE_NORMAL } from './mmzone.ts';

/** Allocate from ZONE_DMA. */
export const __GFP_DMA = 0x01;
/** Highmem allowed; on x86-64 (no ZONE_HIGHMEM) it only matters together with __GFP_MOVABLE. */
export const __GFP_HIGHMEM = 0x02;
/** Allocate from ZONE_DMA32. */
export const __GFP_DMA32 = 0x04;
/** The page is movable (may come from ZONE_MOVABLE when __GFP_HIGHMEM is also set). */
export const __GFP_MOVABLE = 0x08;
/** The page is reclaimable (slab with SLAB_RECLAIM_ACCOUNT). */
export const __GFP_RECLAIMABLE = 0x10;
/** High priority: may dip into half of the min watermark reserve. */
export const __GFP_HIGH = 0x20;
/** May start physical IO. */
export const __GFP_IO = 0x40;
/** May call into the filesystem. */
export const __GFP_FS = 0x80;
/** Return zeroed memory. The model's allocator never touches Dram: callers zero. */
export const __GFP_ZERO = 0x100;
/** May enter direct reclaim. */
export const __GFP_DIRECT_RECLAIM = 0x400;
/** May wake kswapd. */
export const __GFP_KSWAPD_RECLAIM = 0x800;
/** The caller will write the page (dirty accounting). */
export const __GFP_WRITE = 0x1000;
/** Do not warn on failure. */
export const __GFP_NOWARN = 0x2000;
/** Retry hard but may fail. */
export const __GFP_RETRY_MAYFAIL = 0x4000;
/** Never fail (not modelled: the model has no reclaim/OOM killer to make it true). */
export const __GFP_NOFAIL = 0x8000;
/** Do not retry. */
export const __GFP_NORETRY = 0x10000;
/** Allow access to all memory reserves. */
export const __GFP_MEMALLOC = 0x20000;
/** Set up a compound page (metadata only; the allocator itself ignores it). */
export const __GFP_COMP = 0x40000;
/** Forbid access to memory reserves. */
export const __GFP_NOMEMALLOC = 0x80000;
/** Enforce the cpuset hardwall. */
export const __GFP_HARDWALL = 0x100000;
/** Only the requested node, no fallback (ZONELIST_NOFALLBACK). */
export const __GFP_THISNODE = 0x200000;
/** Charge to the memory cgroup. */
export const __GFP_ACCOUNT = 0x400000;

/** Both reclaim bits. */
export const __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;

/** Atomic context: cannot sleep, may use part of the reserves. */
export const GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
/** Typical kernel allocation. */
export const GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
/** Kernel allocation charged to the memory cgroup. */
export const GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT;
/** Cannot sleep, no reserves. */
export const GFP_NOWAIT = __GFP_KSWAPD_RECLAIM;
/** No IO. */
export const GFP_NOIO = __GFP_RECLAIM;
/** No filesystem recursion. */
export const GFP_NOFS = __GFP_RECLAIM | __GFP_IO;
/** User-space allocation that the kernel also accesses directly. */
export const GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL;
/** ZONE_DMA allocation. */
export const GFP_DMA = __GFP_DMA;
/** ZONE_DMA32 allocation. */
export const GFP_DMA32 = __GFP_DMA32;
/** User-space page that may live in highmem. */
export const GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM;
/** Anonymous/page-cache user page: may come from ZONE_MOVABLE. */
export const GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE;
/** THP allocation that does not enter direct reclaim. */
export const GFP_TRANSHUGE_LIGHT = (GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC | __GFP_NOWARN) & ~__GFP_RECLAIM;
/** THP allocation (defrag): light plus direct reclaim. */
export const GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM;

/** The zone-modifier bits gfp_zone() looks at. */
export const GFP_ZONEMASK = __GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE;

/**
 * GFP_ZONE_TABLE for x86-64 (OPT_ZONE_HIGHMEM = ZONE_NORMAL), indexed by the
 * four zone bits; -1 marks GFP_ZONE_BAD combinations (DMA with DMA32, ...).
 */
const GFP_ZONE_TABLE: Int8Array = (() => {
  const t = new Int8Array(16).fill(-1);
  t[0] = ZONE_NORMAL;
  t[__GFP_DMA] = ZONE_DMA;
  t[__GFP_HIGHMEM] = ZONE_NORMAL;
  t[__GFP_DMA32] = ZONE_DMA32;
  t[__GFP_MOVABLE] = ZONE_NORMAL;
  t[__GFP_MOVABLE | __GFP_DMA] = ZONE_DMA;
  t[__GFP_MOVABLE | __GFP_HIGHMEM] = ZONE_MOVABLE;
  t[__GFP_MOVABLE | __GFP_DMA32] = ZONE_DMA32;
  return t;
})();

/** gfp_zone(): the highest zone index a request with these flags may use. */
export function gfp_zone(gfp: number): number {
  const z = GFP_ZONE_TABLE[gfp & GFP_ZONEMASK]!;
  if (z < 0) throw new Error(`BUG: gfp_zone: bad zone modifiers in gfp 0x${(gfp & GFP_ZONEMASK).toString(16)}`);
  return z;
}

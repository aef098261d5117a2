/**
 * Zone watermarks and lowmem reserves (mm/page_alloc.c: calculate_min_free_kbytes,
 * __setup_per_zone_wmarks, setup_per_zone_lowmem_reserve,
 * calculate_totalreserve_pages). Pure functions over zones so the arithmetic can
 * be checked against the kernel's own examples.
 */
import { PAGE_SHIFT } from '../../lib/size.ts';
import { MAX_NR_ZONES, WMARK_HIGH, WMARK_LOW, WMARK_MIN, WMARK_PROMO, ZONE_MOVABLE, type Zone } from './mmzone.ts';

/** Default /proc/sys/vm/watermark_scale_factor (0.1% of the zone). */
export const DEFAULT_WATERMARK_SCALE_FACTOR = 10;
/** sysctl_lowmem_reserve_ratio[] defaults for DMA, DMA32, Normal, Movable. */
export const DEFAULT_LOWMEM_RESERVE_RATIO: readonly number[] = [256, 256, 32, 0];
/** SWAP_CLUSTER_MAX, the floor of the highmem/movable min watermark. */
const SWAP_CLUSTER_MAX = 32;

/** int_sqrt(): floor of the square root, exact for any safe integer. */
export function int_sqrt(x: number): number {
  let r = Math.floor(Math.sqrt(x));
  while (r * r > x) r--;
  while ((r + 1) * (r + 1) <= x) r++;
  return r;
}

/** mult_frac(x, n, d) without overflow, as include/linux/math.h computes it. */
function mult_frac(x: number, n: number, d: number): number {
  const q = Math.floor(x / d);
  const r = x - q * d;
  return q * n + Math.floor((r * n) / d);
}

/**
 * calculate_min_free_kbytes(): min_free_kbytes = int_sqrt(lowmem_kbytes * 16)
 * clamped to 128..262144, unless the user's sysctl value is at least as large.
 */
export function calculate_min_free_kbytes(nr_free_buffer_pages: number, user_min_free_kbytes: number, current: number): number {
  const lowmem_kbytes = nr_free_buffer_pages * (2 ** (PAGE_SHIFT - 10));
  const new_min_free_kbytes = int_sqrt(lowmem_kbytes * 16);
  if (new_min_free_kbytes > user_min_free_kbytes) return Math.min(Math.max(new_min_free_kbytes, 128), 262144);
  return current;
}

/**
 * __setup_per_zone_wmarks(): split min_free_kbytes over the non-movable zones
 * by managed pages; low = min + max(min/4, managed * scale / 10000), high and
 * promo one more step each.
 */
export function setup_per_zone_wmarks(zones: readonly Zone[], min_free_kbytes: number, watermark_scale_factor: number): void {
  const pages_min = Math.floor(min_free_kbytes / 2 ** (PAGE_SHIFT - 10));
  let lowmem_pages = 0;
  for (const zone of zones) if (zone.idx !== ZONE_MOVABLE) lowmem_pages += zone.managed_pages;

  for (const zone of zones) {
    let tmp = lowmem_pages === 0 ? 0 : Math.floor((pages_min * zone.managed_pages) / lowmem_pages);
    if (zone.idx === ZONE_MOVABLE) {
      // __GFP_HIGH and PF_MEMALLOC allocations rarely need movable pages: cap min small.
      const min_pages = Math.floor(zone.managed_pages / 1024);
      zone.watermark[WMARK_MIN] = Math.min(Math.max(min_pages, SWAP_CLUSTER_MAX), 128);
    } else {
      zone.watermark[WMARK_MIN] = tmp;
    }
    // Distance between watermarks: scale factor of the zone, at least min/4 on small systems.
    tmp = Math.max(Math.floor(tmp / 4), mult_frac(zone.managed_pages, watermark_scale_factor, 10000));
    zone.watermark[WMARK_LOW] = zone.watermark[WMARK_MIN]! + tmp;
    zone.watermark[WMARK_HIGH] = zone.watermark[WMARK_LOW]! + tmp;
    zone.watermark[WMARK_PROMO] = zone.watermark[WMARK_HIGH]! + tmp;
  }
}

/**
 * setup_per_zone_lowmem_reserve(): zone i keeps back (managed pages of zones
 * i+1..j) / ratio[i] from requests whose highest zone is j.
 */
export function setup_per_zone_lowmem_reserve(node: readonly Zone[], ratio: readonly number[]): void {
  for (let i = 0; i < MAX_NR_ZONES - 1; i++) {
    const zone = node[i]!;
    const r = ratio[i]!;
    const clear = r === 0 || zone.managed_pages === 0;
    let managed_pages = 0;
    for (let j = i + 1; j < MAX_NR_ZONES; j++) {
      managed_pages += node[j]!.managed_pages;
      zone.lowmem_reserve[j] = clear ? 0 : Math.floor(managed_pages / r);
    }
  }
}

/**
 * calculate_totalreserve_pages(): per zone, the largest lowmem reserve plus
 * the high watermark, capped at managed pages; summed per node.
 */
export function calculate_totalreserve_pages(node: readonly Zone[]): number {
  let total = 0;
  for (let i = 0; i < MAX_NR_ZONES; i++) {
    const zone = node[i]!;
    let max = 0;
    for (let j = i; j < MAX_NR_ZONES; j++) if (zone.lowmem_reserve[j]! > max) max = zone.lowmem_reserve[j]!;
    max += zone.watermark[WMARK_HIGH]!;
    if (max > zone.managed_pages) max = zone.managed_pages;
    total += max;
  }
  return total;
}

/**
 * HugeTLB reservations: reserve maps, subpools and the mmap-time reservation
 * (mm/hugetlb.c: struct resv_map, region_chg, region_add, region_del,
 * region_count, hugepage_new_subpool, hugepage_put_subpool,
 * hugepage_subpool_get_pages, hugepage_subpool_put_pages, hugetlb_reserve_pages,
 * hugetlb_unreserve_pages, __vma_reservation_common (vma_needs_reservation,
 * vma_commit_reservation, vma_end_reservation), hugetlb_dup_vma_private).
 *
 * Shared mappings keep their reservations in the inode's map: an index is in
 * the map when it is reserved or has a page in the page cache. A private
 * mapping's map (owned by the VMA that created it) has the opposite meaning:
 * an index is in it once the reservation for it was consumed.
 *
 * Not modelled: hugetlb cgroups, region_chg/region_add's two-phase
 * "regions_needed" cache (the model is single-threaded, so region_chg followed
 * by region_add never races and region_abort has nothing to undo).
 */
import { Errno } from '../../lib/errno.ts';
import type { Hstate, HugetlbPools } from '../hugetlb/api.ts';
import type { VmArea } from './vm_area.ts';
import { VM_MAYSHARE, VM_NORESERVE } from './vm_area.ts';

/** struct resv_map: sorted, disjoint, non-adjacent [from, to) ranges of huge page indices. */
export class ResvMap {
  /** Flattened [from0, to0, from1, to1, ...]. */
  private r: number[] = [];
  /** kref: the VMAs (private) or the inode (shared) holding it. */
  refs = 1;

  constructor(
    /** The mm whose VMA created the (private) map: HPAGE_RESV_OWNER (null for inode maps). */
    readonly owner: object | null = null,
  ) {}

  /** region_count: indices of [f, t) in the map. */
  region_count(f: number, t: number): number {
    let n = 0;
    const r = this.r;
    for (let i = 0; i < r.length; i += 2) {
      const a = Math.max(f, r[i]!);
      const b = Math.min(t, r[i + 1]!);
      if (b > a) n += b - a;
    }
    return n;
  }

  /** region_chg: indices of [f, t) not in the map yet (what region_add would add). */
  region_chg(f: number, t: number): number {
    return t - f - this.region_count(f, t);
  }

  /** region_add: put [f, t) in the map; returns how many indices were added. */
  region_add(f: number, t: number): number {
    const added = this.region_chg(f, t);
    if (added === 0) return 0;
    const out: number[] = [];
    let nf = f;
    let nt = t;
    let placed = false;
    const r = this.r;
    for (let i = 0; i < r.length; i += 2) {
      const a = r[i]!;
      const b = r[i + 1]!;
      if (b < nf) out.push(a, b);
      else if (a > nt) {
        if (!placed) out.push(nf, nt);
        placed = true;
        out.push(a, b);
      } else {
        nf = Math.min(nf, a);
        nt = Math.max(nt, b);
      }
    }
    if (!placed) out.push(nf, nt);
    this.r = out;
    return added;
  }

  /** region_del: remove [f, t) (t may be Infinity: LONG_MAX); returns how many indices were removed. */
  region_del(f: number, t: number): number {
    const out: number[] = [];
    let del = 0;
    const r = this.r;
    for (let i = 0; i < r.length; i += 2) {
      const a = r[i]!;
      const b = r[i + 1]!;
      if (b <= f || a >= t) {
        out.push(a, b);
        continue;
      }
      del += Math.min(b, t) - Math.max(a, f);
      if (a < f) out.push(a, f);
      if (b > t) out.push(t, b);
    }
    this.r = out;
    return del;
  }

  /** The ranges, for tests and debugging. */
  ranges(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.r.length; i += 2) out.push([this.r[i]!, this.r[i + 1]!]);
    return out;
  }
}

/** struct hugepage_subpool: a hugetlbfs mount's size= quota and min_size= reservation. */
export class HugepageSubpool {
  /** References: the superblock (count). */
  count = 1;
  used_hpages = 0;
  rsv_hpages: number;

  constructor(
    readonly pools: HugetlbPools,
    readonly hstate: Hstate,
    /** -1: no maximum. */
    readonly max_hpages: number,
    /** -1: no minimum. */
    readonly min_hpages: number,
  ) {
    this.rsv_hpages = min_hpages;
  }
}

/**
 * hugepage_new_subpool(): the min_size= pages are reserved at once
 * (hugetlb_acct_memory), which fails the mount with ENOMEM when the pool
 * cannot cover them.
 */
export function hugepage_new_subpool(pools: HugetlbPools, h: Hstate, max_hpages: number, min_hpages: number): HugepageSubpool {
  const spool = new HugepageSubpool(pools, h, max_hpages, min_hpages);
  if (min_hpages !== -1) pools.hugetlb_acct_memory(h, min_hpages);
  return spool;
}

/** subpool_is_free(). */
function subpool_is_free(spool: HugepageSubpool): boolean {
  if (spool.count) return false;
  if (spool.max_hpages !== -1) return spool.used_hpages === 0;
  if (spool.min_hpages !== -1) return spool.rsv_hpages === spool.min_hpages;
  return true;
}

/** unlock_or_release_subpool(): the last user gives back the min_size reservation. */
function unlock_or_release_subpool(spool: HugepageSubpool): void {
  if (subpool_is_free(spool) && spool.min_hpages !== -1) spool.pools.hugetlb_acct_memory(spool.hstate, -spool.min_hpages);
}

/** hugepage_put_subpool(): the superblock lets go (put_super). */
export function hugepage_put_subpool(spool: HugepageSubpool): void {
  spool.count--;
  unlock_or_release_subpool(spool);
}

/**
 * hugepage_subpool_get_pages(): take `delta` pages from the subpool. Returns
 * how many must come from (be reserved in) the global pool — fewer than delta
 * when the subpool's min_size reservation covers some — or -1 (-ENOMEM) when
 * size= would be exceeded. A null subpool passes delta through.
 */
export function hugepage_subpool_get_pages(spool: HugepageSubpool | null, delta: number): number {
  let ret = delta;
  if (!spool) return ret;
  if (spool.max_hpages !== -1) {
    if (spool.used_hpages + delta <= spool.max_hpages) spool.used_hpages += delta;
    else return -1;
  }
  if (spool.min_hpages !== -1 && spool.rsv_hpages) {
    if (delta > spool.rsv_hpages) {
      ret = delta - spool.rsv_hpages;
      spool.rsv_hpages = 0;
    } else {
      ret = 0;
      spool.rsv_hpages -= delta;
    }
  }
  return ret;
}

/**
 * hugepage_subpool_put_pages(): give `delta` pages back. Returns how many
 * global reservations the caller should drop: fewer than delta while the
 * subpool refills its min_size reservation.
 */
export function hugepage_subpool_put_pages(spool: HugepageSubpool | null, delta: number): number {
  let ret = delta;
  if (!spool) return delta;
  if (spool.max_hpages !== -1) spool.used_hpages -= delta;
  if (spool.min_hpages !== -1 && spool.used_hpages < spool.min_hpages) {
    if (spool.rsv_hpages + delta <= spool.min_hpages) ret = 0;
    else ret = spool.rsv_hpages + delta - spool.min_hpages;
    spool.rsv_hpages += delta;
    if (spool.rsv_hpages > spool.min_hpages) spool.rsv_hpages = spool.min_hpages;
  }
  unlock_or_release_subpool(spool);
  return ret;
}

/** What the reservation code needs of a hugetlbfs inode. */
export interface HugetlbResvInode {
  readonly h: Hstate;
  readonly pools: HugetlbPools;
  /** subpool_inode(): the mount's subpool, or null (no size=/min_size=). */
  readonly spool: HugepageSubpool | null;
  /** inode_resv_map(): the shared reservations. */
  readonly resv_map: ResvMap;
}

/** The private reservation map of a VMA (vma_resv_map for !VM_MAYSHARE), if it owns one. */
export function vma_private_resv(vma: VmArea): ResvMap | null {
  const p = vma.private_data;
  return p instanceof ResvMap ? p : null;
}

/**
 * hugetlb_reserve_pages(inode, from, to, vma, vm_flags): reserve huge pages
 * [from, to) of the file for a new mapping (vma) or a new file (vma null).
 * Throws Errno ENOMEM when the subpool or the pool cannot cover them, leaving
 * every count as it was. VM_NORESERVE reserves nothing.
 */
export function hugetlb_reserve_pages(inode: HugetlbResvInode, from: number, to: number, vma: VmArea | null, vm_flags: number): void {
  if (from > to) throw new Error('hugetlb_reserve_pages called with a negative range');
  // Only apply hugepage reservation if asked: VM_NORESERVE faults allocate without.
  if (vm_flags & VM_NORESERVE) return;
  const shared = !vma || (vm_flags & VM_MAYSHARE) !== 0;
  let resv_map: ResvMap;
  let chg: number;
  if (shared) {
    resv_map = inode.resv_map;
    chg = resv_map.region_chg(from, to);
  } else {
    resv_map = new ResvMap(vma!.vm_mm);
    chg = to - from;
  }
  const gbl_reserve = hugepage_subpool_get_pages(inode.spool, chg);
  if (gbl_reserve < 0) throw new Errno('ENOMEM', 'hugetlb: subpool size= exceeded');
  try {
    inode.pools.hugetlb_acct_memory(inode.h, gbl_reserve);
  } catch (e) {
    // out_put_pages: put back original number of pages, chg.
    hugepage_subpool_put_pages(inode.spool, chg);
    throw e;
  }
  if (shared) resv_map.region_add(from, to);
  else vma!.private_data = resv_map;
}

/**
 * hugetlb_unreserve_pages(inode, start, end, freed): pages [start, end) left
 * the file (truncate, hole punch, evict) and `freed` of them had pages in the
 * page cache; the rest were reservations, which go back.
 */
export function hugetlb_unreserve_pages(inode: HugetlbResvInode, start: number, end: number, freed: number): void {
  const chg = inode.resv_map.region_del(start, end);
  // Pages in the page cache were counted when freed (free_huge_folio's subpool put).
  const gbl_reserve = hugepage_subpool_put_pages(inode.spool, chg - freed);
  inode.pools.hugetlb_acct_memory(inode.h, -gbl_reserve);
}

/** Huge page index of addr in the file (vma_hugecache_offset). */
export function vma_hugecache_offset(h: Hstate, vma: VmArea, addr: number): number {
  return Math.floor((addr - vma.start) / h.size) + Math.floor(vma.pgoff / (h.size / 4096));
}

/**
 * vma_needs_reservation(): 1 when a page at addr has no reservation to
 * consume, 0 when it has one. Shared: is the index in the inode's map?
 * Private owner: has the index's reservation not been consumed yet? A private
 * VMA without its own map (a child after fork) never has one.
 */
export function vma_needs_reservation(inode: HugetlbResvInode, vma: VmArea, addr: number): number {
  const idx = vma_hugecache_offset(inode.h, vma, addr);
  if (vma.flags & VM_MAYSHARE) return inode.resv_map.region_chg(idx, idx + 1);
  const resv = vma_private_resv(vma);
  if (!resv) return 1;
  return resv.region_chg(idx, idx + 1) > 0 ? 0 : 1;
}

/** vma_commit_reservation(): record that addr's page was allocated (shared: reserved/in cache; private: consumed). */
export function vma_commit_reservation(inode: HugetlbResvInode, vma: VmArea, addr: number): void {
  const idx = vma_hugecache_offset(inode.h, vma, addr);
  if (vma.flags & VM_MAYSHARE) inode.resv_map.region_add(idx, idx + 1);
  else vma_private_resv(vma)?.region_add(idx, idx + 1);
}

/**
 * hugetlb_vm_op_close's reservation half: a private VMA that owns reservations
 * gives back those it did not consume.
 */
export function hugetlb_vma_release_reserves(inode: HugetlbResvInode, vma: VmArea): void {
  const resv = vma_private_resv(vma);
  if (!resv) return;
  const start = vma_hugecache_offset(inode.h, vma, vma.start);
  const end = vma_hugecache_offset(inode.h, vma, vma.end);
  const reserve = end - start - resv.region_count(start, end);
  if (reserve) {
    const gbl_reserve = hugepage_subpool_put_pages(inode.spool, reserve);
    inode.pools.hugetlb_acct_memory(inode.h, -gbl_reserve);
  }
  resv.refs--;
  vma.private_data = null;
}

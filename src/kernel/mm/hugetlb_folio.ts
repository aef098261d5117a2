/**
 * In-use HugeTLB folios and the hugetlbfs page cache as the fault path sees
 * them (mm/hugetlb.c: alloc_hugetlb_folio's folio state, folio_put →
 * free_huge_folio's subpool half, hugetlb_add_to_page_cache,
 * filemap_lock_hugetlb_folio, hugetlb_delete_from_page_cache,
 * HPageRestoreReserve; include/linux/hugetlb.h hugetlb_folio_subpool).
 *
 * A folio here is one in-use huge page with its references: one for the page
 * cache (shared file pages) and one per page-table entry mapping it, plus the
 * mapcount hugetlb_wp needs to decide between reuse and copy. The pool side
 * (HugetlbPools) owns free pages; a folio whose last reference goes is handed
 * back with free_huge_folio. One record per huge page, never per 4K.
 */
import type { Hstate, HugetlbPools } from '../hugetlb/api.ts';
import { hugepage_subpool_put_pages, type HugepageSubpool, type HugetlbResvInode } from './hugetlb_resv.ts';
import type { MmStruct } from './mm_types.ts';
import type { AddressSpace } from './vm_area.ts';

/** One in-use huge page. */
export interface HugetlbFolio {
  readonly head: number;
  readonly h: Hstate;
  /** folio_ref_count: page cache + mappings. */
  refs: number;
  /** folio_mapcount: page-table entries mapping it. */
  mapcount: number;
  /** folio_test_anon: a private page (not in any page cache). */
  anon: boolean;
  /** HPageRestoreReserve: freeing it gives its reservation back. */
  restoreReserve: boolean;
  /** hugetlb_folio_subpool: the mount it was charged to. */
  spool: HugepageSubpool | null;
}

/** What hugetlb needs of the host (one per host). */
export interface HugetlbEnv {
  readonly pools: HugetlbPools;
  /** Physical memory: zeroing new folios, COW copies, read(2). */
  readonly dram: {
    clear_pages(pfn: number, nr: number): void;
    copy_pages(dst: number, src: number, nr: number): void;
    read(phys: number, len: number): Uint8Array;
    fill(phys: number, len: number, byte: number): void;
  };
  /** current->mm (fallocate allocates on its node). */
  current_mm(): MmStruct | null;
  /** In-use folios by head pfn. */
  readonly folios: Map<number, HugetlbFolio>;
  /** pr_warn. */
  warn(msg: string): void;
  /** current->pid, for messages. */
  current_pid?(): number;
}

/** The page cache and reservation state of one hugetlbfs inode. */
export interface HugetlbInode extends HugetlbResvInode {
  readonly env: HugetlbEnv;
  /** The page cache: huge page index → head pfn. */
  readonly cache: Map<number, number>;
  /** i_size in bytes. */
  i_size(): number;
  /** inode->i_blocks += nr * blocks_per_huge_page (nr may be negative). */
  add_blocks(nr: number): void;
}

const inodes = new WeakMap<AddressSpace, HugetlbInode>();

/** Attach hugetlb state to a hugetlbfs inode's mapping (hugetlbfs_get_inode). */
export function set_hugetlb_inode(mapping: AddressSpace, hi: HugetlbInode): void {
  inodes.set(mapping, hi);
}

/** The hugetlb state of a mapping, or undefined when it is not a hugetlbfs file. */
export function hugetlb_inode(mapping: AddressSpace): HugetlbInode | undefined {
  return inodes.get(mapping);
}

/** A new in-use folio (alloc_hugetlb_folio's result: one reference, the caller's). */
export function new_folio(env: HugetlbEnv, h: Hstate, head: number, restoreReserve: boolean, spool: HugepageSubpool | null): HugetlbFolio {
  const f: HugetlbFolio = { head, h, refs: 1, mapcount: 0, anon: false, restoreReserve, spool };
  env.folios.set(head, f);
  return f;
}

/**
 * folio_put(): drop a reference; the last one frees the page
 * (free_huge_folio: the subpool takes the page back, and a subpool below its
 * minimum keeps it as a reservation: restore_reserve is forced then).
 */
export function folio_put(env: HugetlbEnv, f: HugetlbFolio): void {
  if (f.refs <= 0) throw new Error(`hugetlb: folio_put on a free folio ${f.head}`);
  if (--f.refs > 0) return;
  env.folios.delete(f.head);
  let restore = f.restoreReserve;
  if (!restore && hugepage_subpool_put_pages(f.spool, 1) === 0) restore = true;
  env.pools.free_huge_folio(f.head, restore);
}

/** hugetlb_add_to_page_cache(): the folio becomes page `idx` of the file (a reference for the cache). */
export function hugetlb_add_to_page_cache(hi: HugetlbInode, f: HugetlbFolio, idx: number): void {
  hi.cache.set(idx, f.head);
  f.refs++;
  // A page in the page cache keeps its reservation in the inode's map: not restored on free.
  f.restoreReserve = false;
  hi.add_blocks(1);
}

/** filemap_lock_hugetlb_folio(): the folio at index idx of the file, or null. */
export function filemap_hugetlb_folio(hi: HugetlbInode, idx: number): HugetlbFolio | null {
  const head = hi.cache.get(idx);
  if (head === undefined) return null;
  return hi.env.folios.get(head) ?? null;
}

/** hugetlb_delete_from_page_cache() + the cache's folio_put. */
export function hugetlb_delete_from_page_cache(hi: HugetlbInode, idx: number): void {
  const f = filemap_hugetlb_folio(hi, idx);
  hi.cache.delete(idx);
  if (!f) return;
  hi.add_blocks(-1);
  folio_put(hi.env, f);
}

/**
 * HugeTLB faults and mappings (mm/hugetlb.c: alloc_hugetlb_folio (the VMA and
 * reservation half), hugetlb_fault, hugetlb_no_page, hugetlb_wp,
 * unmap_ref_private, __unmap_hugepage_range, copy_hugetlb_page_range,
 * hugetlb_vm_op_open, hugetlb_vm_op_close, hugetlb_vm_op_split,
 * hugetlb_vm_op_pagesize, hugetlb_vm_ops, make_huge_pte).
 *
 * A hugetlb page is mapped by one PMD (2M) or PUD (1G) leaf pointing at a page
 * with struct pages (not _PAGE_SPECIAL, so GUP and KVM see a normal page and
 * KVM maps it at the same size). Hugetlb pages are not counted in the mm's RSS
 * counters (Linux counts them in hugetlb_usage only, which is not modelled).
 *
 * Knowingly different: the vma lock / fault mutex and PMD sharing are not
 * modelled (single-threaded); alloc failures after the reservation was taken
 * restore it by freeing the folio with HPageRestoreReserve, without
 * restore_reserve_on_error's map fix-ups (the model's only such failure is a
 * page-table page allocation).
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE, PUD_SIZE, alignDown } from '../../lib/size.ts';
import type { Hstate } from '../hugetlb/api.ts';
import {
  filemap_hugetlb_folio,
  folio_put,
  hugetlb_add_to_page_cache,
  hugetlb_inode,
  new_folio,
  type HugetlbFolio,
  type HugetlbInode,
} from './hugetlb_folio.ts';
import {
  hugepage_subpool_get_pages,
  hugepage_subpool_put_pages,
  hugetlb_vma_release_reserves,
  vma_commit_reservation,
  vma_hugecache_offset,
  vma_needs_reservation,
  vma_private_resv,
} from './hugetlb_resv.ts';
import { policy_node } from './mempolicy.ts';
import { is_hwpoison_entry } from './memory_failure.ts';
import type { MmStruct } from './mm_types.ts';
import { vm_page_prot } from './page_prot.ts';
import { PMD_LEVEL, PUD_LEVEL, _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_PSE, _PAGE_RW, mk_entry, pte_flags, pte_pfn } from './pgtable.ts';
import {
  FAULT_FLAG_WRITE,
  VM_FAULT_HWPOISON_LARGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_SHARED,
  type VmArea,
  type VmFault,
  type VmOperations,
} from './vm_area.ts';

/** The hugetlb state of a VM_HUGETLB VMA's file. */
export function vma_hugetlb_inode(vma: VmArea): HugetlbInode {
  const mapping = (vma.file as { f_mapping?: Parameters<typeof hugetlb_inode>[0] } | null)?.f_mapping;
  const hi = mapping ? hugetlb_inode(mapping) : undefined;
  if (!hi) throw new Error('BUG: hugetlb VMA without a hugetlbfs file');
  return hi;
}

/** hstate_vma(). */
export function hstate_vma(vma: VmArea): Hstate {
  return vma_hugetlb_inode(vma).h;
}

/** The page-table level of a huge page size. */
export function hstate_level(h: Hstate): number {
  return h.size === PUD_SIZE ? PUD_LEVEL : PMD_LEVEL;
}

/** make_huge_pte(): a huge leaf for the folio, writable when asked (and VM_WRITE). */
function make_huge_pte(vma: VmArea, head: number, writable: boolean): number {
  return mk_entry(head, vm_page_prot(vma, writable) | _PAGE_PSE);
}

/** Private VMAs whose pages were taken away by unmap_ref_private (HPAGE_RESV_UNMAPPED). */
const resvUnmapped = new WeakSet<VmArea>();

/**
 * alloc_hugetlb_folio(vma, addr, cow_from_owner): a page for addr, consuming
 * the VMA's (or inode's) reservation when there is one; otherwise the subpool
 * is charged and an unreserved page taken. Null stands for ERR_PTR(-ENOSPC).
 * The page is not zeroed. `mm` gives the memory policy (current->mm for
 * fallocate's pseudo VMA).
 */
export function alloc_hugetlb_folio(hi: HugetlbInode, vma: VmArea, addr: number, cow_from_owner: boolean, mm: MmStruct | null): HugetlbFolio | null {
  const h = hi.h;
  const map_chg = vma_needs_reservation(hi, vma, addr);
  let gbl_chg = map_chg;
  // Processes that did not create the mapping have no reserves: check the subpool limit.
  if (map_chg || cow_from_owner) {
    gbl_chg = hugepage_subpool_get_pages(hi.spool, 1);
    if (gbl_chg < 0) return null;
  }
  const policy = mm ? policy_node(mm, vma, addr, Math.log2(h.size / PAGE_SIZE)) : { nid: 0, nodemask: undefined };
  const head = hi.pools.alloc_hugetlb_folio(h, policy, gbl_chg === 0);
  if (head < 0) {
    // out_subpool_put: the subpool gets its page back; a global reservation is
    // dropped only if the subpool's min_size reserve was used (gbl_chg 0), as
    // Linux ≥ 6.13 does (earlier kernels also dropped one that was never taken).
    if (map_chg || cow_from_owner) {
      const gbl_reserve = hugepage_subpool_put_pages(hi.spool, 1);
      if (gbl_chg === 0) hi.pools.hugetlb_acct_memory(h, -gbl_reserve);
    }
    return null;
  }
  const f = new_folio(hi.env, h, head, gbl_chg === 0, hi.spool);
  // commit() is only needed if the map_chg is not enforced (cow_from_owner).
  if (!cow_from_owner) vma_commit_reservation(hi, vma, addr);
  return f;
}

/** The reference and mapcount one more page-table entry holds (hugetlb_add_file_rmap / folio_get). */
function folio_map(f: HugetlbFolio): void {
  f.refs++;
  f.mapcount++;
}

/**
 * hugetlb_fault(): the whole fault of a VM_HUGETLB VMA. vmf.address is the
 * faulting address (any alignment).
 */
export function hugetlb_fault(vmf: VmFault): number {
  const vma = vmf.vma;
  const mm = vma.vm_mm as MmStruct;
  const hi = vma_hugetlb_inode(vma);
  const h = hi.h;
  const haddr = alignDown(vmf.address, h.size);
  const entry = mm.pgtables.walk(haddr);
  if (entry !== 0) {
    // A hwpoison entry left by memory failure.
    if (is_hwpoison_entry(entry)) return VM_FAULT_HWPOISON_LARGE;
    if (vmf.flags & FAULT_FLAG_WRITE && !(pte_flags(entry) & _PAGE_RW)) return hugetlb_wp(mm, vma, hi, haddr, entry);
    return 0;
  }
  return hugetlb_no_page(mm, vma, hi, haddr, vmf.flags);
}

/** hugetlb_no_page(): nothing is mapped at haddr. */
function hugetlb_no_page(mm: MmStruct, vma: VmArea, hi: HugetlbInode, haddr: number, flags: number): number {
  const h = hi.h;
  // Currently, we are forced to kill the process in this case.
  if (resvUnmapped.has(vma)) {
    hi.env.warn(`PID ${hi.env.current_pid?.() ?? 0} killed due to inadequate hugepage pool`);
    return VM_FAULT_SIGBUS;
  }
  const idx = vma_hugecache_offset(h, vma, haddr);
  let f = filemap_hugetlb_folio(hi, idx);
  let temp = false;
  let anon = false;
  if (!f) {
    const size = Math.floor(hi.i_size() / h.size);
    if (idx >= size) return VM_FAULT_SIGBUS;
    f = alloc_hugetlb_folio(hi, vma, haddr, false, mm);
    // Returning error will result in faulting task being sent SIGBUS (vmf_error(-ENOSPC)).
    if (!f) return VM_FAULT_SIGBUS;
    temp = true;
    hi.env.dram.clear_pages(f.head, h.size / PAGE_SIZE);
    if (vma.flags & VM_MAYSHARE) hugetlb_add_to_page_cache(hi, f, idx);
    else {
      // vmf_anon_prepare
      vma.anon_vma ??= {};
      anon = true;
    }
  } else if (hi.pools.folio_hwpoisoned(f.head)) {
    // A memory error hit the page since it was last mapped here.
    return VM_FAULT_HWPOISON_LARGE;
  }
  const e = make_huge_pte(vma, f.head, (vma.flags & VM_SHARED) !== 0);
  if (!mm.pgtables.set_leaf(haddr, hstate_level(h), e)) {
    if (temp) folio_put(hi.env, f);
    return VM_FAULT_OOM;
  }
  folio_map(f);
  if (anon) {
    // hugetlb_add_new_anon_rmap: mapped, so no reservation to restore any more.
    f.anon = true;
    f.restoreReserve = false;
  }
  if (temp) folio_put(hi.env, f);
  // Optimization, do the COW without a second fault.
  if (flags & FAULT_FLAG_WRITE && !(vma.flags & VM_SHARED)) return hugetlb_wp(mm, vma, hi, haddr, e);
  return 0;
}

/**
 * hugetlb_wp(): a write to a read-only huge entry. Shared mappings just become
 * writable; a private page mapped once and ours is reused; otherwise the whole
 * huge page is copied into a new one. When the owner of a private mapping's
 * reservations cannot get a page, the page is taken from the children that
 * share it (unmap_ref_private) and reused.
 */
function hugetlb_wp(mm: MmStruct, vma: VmArea, hi: HugetlbInode, haddr: number, entry: number): number {
  const h = hi.h;
  const level = hstate_level(h);
  const env = hi.env;
  if (vma.flags & VM_MAYSHARE) {
    mm.pgtables.update_leaf(haddr, level, make_huge_pte(vma, pte_pfn(entry), true) | _PAGE_DIRTY);
    return 0;
  }
  const old = env.folios.get(pte_pfn(entry));
  if (!old) throw new Error(`BUG: hugetlb entry at ${haddr.toString(16)} maps no folio`);
  const reuse = (): number => {
    mm.pgtables.update_leaf(haddr, level, make_huge_pte(vma, old.head, true));
    return 0;
  };
  if (old.mapcount === 1 && old.anon) return reuse();
  const idx = vma_hugecache_offset(h, vma, haddr);
  const cow_from_owner = vma_private_resv(vma) !== null && old !== filemap_hugetlb_folio(hi, idx);
  old.refs++; // folio_get(old_folio)
  const nf = alloc_hugetlb_folio(hi, vma, haddr, cow_from_owner, mm);
  if (!nf) {
    if (cow_from_owner) {
      unmap_ref_private(vma, old, haddr);
      folio_put(env, old);
      // The page is now exclusively owned by the owner: retry.
      if (old.mapcount === 1 && old.anon) return reuse();
      return VM_FAULT_SIGBUS;
    }
    folio_put(env, old);
    return VM_FAULT_SIGBUS;
  }
  vma.anon_vma ??= {};
  if (hi.pools.folio_hwpoisoned(old.head)) {
    folio_put(env, nf);
    folio_put(env, old);
    return VM_FAULT_HWPOISON_LARGE;
  }
  env.dram.copy_pages(nf.head, old.head, h.size / PAGE_SIZE);
  // The frame behind haddr changes: secondary MMUs must drop the old one.
  mm.mmu_notifier_invalidate_range_start(haddr, haddr + h.size);
  mm.pgtables.update_leaf(haddr, level, make_huge_pte(vma, nf.head, true));
  folio_map(nf);
  nf.anon = true;
  nf.restoreReserve = false;
  folio_put(env, nf); // the allocation's reference: the entry holds one now
  old.mapcount--;
  folio_put(env, old); // hugetlb_remove_rmap's entry reference
  folio_put(env, old); // folio_get above
  return 0;
}

/**
 * unmap_ref_private(): the owner of a private mapping could not COW a page it
 * shares with children; unmap that page from every other private VMA of the
 * file at the same offset that does not own reserves, and mark those VMAs so
 * a later fault there kills the task (HPAGE_RESV_UNMAPPED).
 */
function unmap_ref_private(vma: VmArea, f: HugetlbFolio, haddr: number): void {
  const pgoff = vma.pgoffOf(haddr);
  const mapping = (vma.file as { f_mapping: { i_mmap: Set<VmArea> } }).f_mapping;
  for (const iter of [...mapping.i_mmap]) {
    if (iter === vma || iter.flags & VM_MAYSHARE || vma_private_resv(iter)) continue;
    if (pgoff < iter.pgoff || pgoff >= iter.pgoff + iter.size / PAGE_SIZE) continue;
    const addr = iter.start + (pgoff - iter.pgoff) * PAGE_SIZE;
    const imm = iter.vm_mm as MmStruct | null;
    if (!imm) continue;
    const e = imm.pgtables.walk(addr);
    if (e === 0 || !(pte_flags(e) & _PAGE_PRESENT) || pte_pfn(e) !== f.head) continue;
    imm.zap_vma_range(iter, addr, addr + f.h.size, true);
    resvUnmapped.add(iter);
  }
}

/** __unmap_hugepage_range's per-entry half: the entry's folio reference and mapcount go. */
function hugetlb_zap_leaf(vma: VmArea, _level: number, entry: number): void {
  if (!(pte_flags(entry) & _PAGE_PRESENT)) return; // a hwpoison entry holds nothing
  const env = vma_hugetlb_inode(vma).env;
  const f = env.folios.get(pte_pfn(entry));
  if (!f) throw new Error(`BUG: zapping a hugetlb entry of a free page ${pte_pfn(entry)}`);
  f.mapcount--;
  folio_put(env, f);
}

/**
 * copy_hugetlb_page_range(): fork shares every entry; in a private writable
 * mapping both sides lose write permission so either side's write copies.
 */
function copy_hugetlb_page_range(dst: VmArea, src: VmArea): void {
  const dstMm = dst.vm_mm as MmStruct;
  const srcMm = src.vm_mm as MmStruct;
  const env = vma_hugetlb_inode(src).env;
  const cow = (src.flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
  if (cow) srcMm.mmu_notifier_invalidate_range_start(src.start, src.end);
  srcMm.pgtables.for_each_leaf(src.start, src.end, (va, level, entry) => {
    let e = entry;
    if (pte_flags(entry) & _PAGE_PRESENT) {
      const f = env.folios.get(pte_pfn(entry));
      if (!f) throw new Error('BUG: fork of a hugetlb entry without a folio');
      folio_map(f);
      if (cow && pte_flags(entry) & _PAGE_RW) {
        e = entry - _PAGE_RW;
        srcMm.pgtables.update_leaf(va, level, e);
      }
    }
    if (!dstMm.pgtables.set_leaf(va, level, e)) throw new Errno('ENOMEM', 'fork: out of page-table memory');
  });
}

/**
 * hugetlb_vm_op_open(): a split piece shares its sibling's private
 * reservation map; a VMA copied by fork does not own reserves
 * (hugetlb_dup_vma_private).
 */
function hugetlb_vm_op_open(vma: VmArea): void {
  const resv = vma_private_resv(vma);
  if (!resv) return;
  if (resv.owner !== vma.vm_mm) vma.private_data = null;
  else resv.refs++;
}

/** hugetlb_vm_op_close(): a private owner gives back the reservations it did not consume. */
function hugetlb_vm_op_close(vma: VmArea): void {
  hugetlb_vma_release_reserves(vma_hugetlb_inode(vma), vma);
}

/** hugetlb_vm_op_split(): a hugetlb VMA splits only at a huge page boundary. */
function hugetlb_vm_op_split(vma: VmArea, addr: number): void {
  if (addr % hstate_vma(vma).size) throw new Errno('EINVAL');
}

/**
 * mremap of a hugetlb VMA. Linux moves aligned, non-growing hugetlb mappings
 * (move_hugetlb_page_tables); the model refuses every move with EINVAL
 * (knowingly: its mremap moves page tables without hugetlb's reservation maps).
 */
function hugetlb_vm_op_mremap(): void {
  throw new Errno('EINVAL');
}

/** hugetlb_vm_ops. ->fault is never called: handle_mm_fault hands VM_HUGETLB faults to hugetlb_fault. */
export const hugetlb_vm_ops: VmOperations = {
  name: 'hugetlb',
  open: hugetlb_vm_op_open,
  close: hugetlb_vm_op_close,
  may_split: hugetlb_vm_op_split,
  mremap: hugetlb_vm_op_mremap,
  pagesize: (vma) => hstate_vma(vma).size,
  fault: () => VM_FAULT_SIGBUS,
  hugetlb_fault,
  zap_leaf: hugetlb_zap_leaf,
  copy_page_range: copy_hugetlb_page_range,
};

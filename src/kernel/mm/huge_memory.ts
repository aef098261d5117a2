/**
 * Transparent huge pages for anonymous memory, and splitting of huge entries
 * (mm/huge_memory.c: __thp_vma_allowable_orders, transhuge_vma_suitable,
 * do_huge_pmd_anonymous_page, do_huge_pmd_wp_page, do_huge_zero_wp_pmd,
 * __split_huge_pmd_locked, __split_huge_zero_page_pmd, __split_huge_pud_locked).
 */
import { PAGE_SIZE, PMD_SIZE, PUD_SIZE, PAGES_PER_PMD, alignDown } from '../../lib/size.ts';
import { _PAGE_ANON, vm_page_prot } from './page_prot.ts';
import { policy_node } from './mempolicy.ts';
import { MM_ANONPAGES, type MmStruct } from './mm_types.ts';
import { PMD_LEVEL, PTE_LEVEL, PUD_LEVEL, USER_VA_END, _PAGE_PSE, _PAGE_RW, _PAGE_DIRTY, _PAGE_SPECIAL, mk_entry, pte_flags, pte_pfn } from './pgtable.ts';
import { THP_FAULT_ALLOC, THP_FAULT_FALLBACK, THP_SPLIT_PMD, THP_SPLIT_PUD, PGREUSE } from './vmstat.ts';
import {
  FAULT_FLAG_WRITE,
  VM_FAULT_FALLBACK,
  VM_FAULT_OOM,
  VM_HUGEPAGE,
  VM_NOHUGEPAGE,
  VM_SHARED,
  VM_SPECIAL,
  type VmArea,
} from './vm_area.ts';

/**
 * transhuge_vma_suitable + the anonymous-VMA checks of __thp_vma_allowable_orders:
 * may a huge entry of `size` cover address in vma? File and pfn VMAs with a
 * huge_fault handler decide for themselves (like DAX); anonymous VMAs follow
 * /sys/kernel/mm/transparent_hugepage/enabled and MADV_(NO)HUGEPAGE.
 */
export function thp_vma_suitable(mm: MmStruct, vma: VmArea, address: number, size: number): boolean {
  const haddr = alignDown(address, size);
  if (haddr < vma.start || haddr + size > vma.end) return false;
  if (vma.flags & VM_NOHUGEPAGE) return false;
  if (!vma.isAnonymous()) {
    // The file offset must line up with the virtual address at this size.
    return (vma.pgoffOf(haddr) * PAGE_SIZE) % size === 0;
  }
  if (size !== PMD_SIZE || vma.flags & (VM_SPECIAL | VM_SHARED)) return false;
  const mode = mm.kmem.thp.enabled;
  return mode === 'always' || (mode === 'madvise' && (vma.flags & VM_HUGEPAGE) !== 0);
}

/** do_huge_pmd_anonymous_page: a 2M page (or the huge zero page for a read) for an anonymous fault. */
export function do_huge_pmd_anonymous_page(mm: MmStruct, vma: VmArea, address: number, flags: number): number {
  const k = mm.kmem;
  const haddr = alignDown(address, PMD_SIZE);
  if (!(flags & FAULT_FLAG_WRITE) && k.thp.use_zero_page) {
    const zero = k.hugeZero(mm.homeNid);
    if (zero < 0) {
      k.vmstat.count(THP_FAULT_FALLBACK);
      return VM_FAULT_FALLBACK;
    }
    const e = mk_entry(zero, vm_page_prot(vma, false) | _PAGE_PSE | _PAGE_SPECIAL);
    return mm.pgtables.set_leaf(haddr, PMD_LEVEL, e) ? 0 : VM_FAULT_OOM;
  }
  const { nid, nodemask } = policy_node(mm, vma, haddr, 9);
  const pfn = k.allocUser(9, nid, nodemask);
  if (pfn < 0) {
    k.vmstat.count(THP_FAULT_FALLBACK);
    return VM_FAULT_FALLBACK;
  }
  k.clear(pfn, 9);
  if (!mm.pgtables.set_leaf(haddr, PMD_LEVEL, mk_entry(pfn, vm_page_prot(vma, true) | _PAGE_PSE | _PAGE_ANON))) {
    k.freeUser(pfn, 9);
    return VM_FAULT_OOM;
  }
  vma.anon_vma ??= {};
  k.anon.newThp(pfn);
  mm.rss[MM_ANONPAGES]! += PAGES_PER_PMD;
  k.vmstat.count(THP_FAULT_ALLOC);
  return 0;
}

/**
 * do_huge_pmd_wp_page: a write to a read-only PMD leaf. The huge zero page is
 * replaced by a fresh THP when one can be had (do_huge_zero_wp_pmd); an
 * anonymous THP mapped only here is reused; otherwise the PMD is split and the
 * fault falls back to 4K copy-on-write (Linux ≥ 5.8).
 */
export function do_huge_pmd_wp_page(mm: MmStruct, vma: VmArea, address: number, flags: number, entry: number): number {
  const k = mm.kmem;
  const haddr = alignDown(address, PMD_SIZE);
  const pfn = pte_pfn(entry);
  const f = pte_flags(entry);
  if (f & _PAGE_SPECIAL && pfn === k.hugeZeroPfn && vma.isAnonymous()) {
    const { nid, nodemask } = policy_node(mm, vma, haddr, 9);
    const page = k.allocUser(9, nid, nodemask);
    if (page >= 0) {
      k.clear(page, 9);
      // do_huge_zero_wp_pmd: the huge zero page is replaced under an mmu_notifier range.
      mm.mmu_notifier_invalidate_range_start(haddr, haddr + PMD_SIZE);
      mm.pgtables.update_leaf(haddr, PMD_LEVEL, mk_entry(page, vm_page_prot(vma, true) | _PAGE_PSE | _PAGE_ANON));
      vma.anon_vma ??= {};
      k.anon.newThp(page);
      mm.rss[MM_ANONPAGES]! += PAGES_PER_PMD;
      k.vmstat.count(THP_FAULT_ALLOC);
      return 0;
    }
    k.vmstat.count(THP_FAULT_FALLBACK);
  } else if (f & _PAGE_ANON && k.anon.mapcount(pfn) === 1) {
    k.vmstat.count(PGREUSE);
    mm.pgtables.update_leaf(haddr, PMD_LEVEL, mk_entry(pfn, f | _PAGE_RW | _PAGE_DIRTY));
    return 0;
  }
  void flags;
  split_huge_pmd(mm, vma, haddr);
  return VM_FAULT_FALLBACK;
}

/**
 * __split_huge_pmd: turn a PMD leaf into a PTE table. Anonymous THPs become 512
 * PTEs onto their subpages; the huge zero page becomes 512 entries of the 4K
 * zero page; file and pfn mappings are simply dropped (they refault).
 */
export function split_huge_pmd(mm: MmStruct, vma: VmArea, address: number): void {
  const k = mm.kmem;
  const haddr = alignDown(address, PMD_SIZE);
  const entry = mm.pgtables.walk(haddr);
  if (entry === 0 || mm.pgtables.lastLevel !== PMD_LEVEL) return;
  const f = pte_flags(entry);
  const pfn = pte_pfn(entry);
  // __split_huge_pmd notifies the whole huge range: secondary MMUs drop their huge mapping.
  mm.mmu_notifier_invalidate_range_start(haddr, haddr + PMD_SIZE);
  k.vmstat.count(THP_SPLIT_PMD);
  if (f & _PAGE_ANON) {
    if (!mm.pgtables.split_huge_pmd(haddr)) throw new Error('split_huge_pmd: out of page-table memory');
    k.anon.splitPmd(pfn);
    return;
  }
  mm.pgtables.clear_leaf(haddr, PMD_LEVEL);
  if (f & _PAGE_SPECIAL && pfn === k.hugeZeroPfn) {
    const zero = mk_entry(k.zeroPfn, (f & ~_PAGE_PSE) | _PAGE_SPECIAL);
    for (let i = 0; i < PAGES_PER_PMD; i++) mm.pgtables.set_leaf(haddr + i * PAGE_SIZE, PTE_LEVEL, zero);
    return;
  }
  void vma;
}

/** __split_huge_pud: PUD leaves exist only for file/pfn mappings, which are dropped and refault. */
export function split_huge_pud(mm: MmStruct, _vma: VmArea, address: number): void {
  const haddr = alignDown(address, PUD_SIZE);
  if (mm.pgtables.walk(haddr) === 0 || mm.pgtables.lastLevel !== PUD_LEVEL) return;
  mm.mmu_notifier_invalidate_range_start(haddr, haddr + PUD_SIZE);
  mm.kmem.vmstat.count(THP_SPLIT_PUD);
  mm.pgtables.clear_leaf(haddr, PUD_LEVEL);
}

/** split_huge_pmd_if_needed / split_huge_pud_if_needed: split a huge leaf that covers addr without starting there. */
export function split_huge_at(mm: MmStruct, vma: VmArea, addr: number): void {
  if (!(addr > 0 && addr < USER_VA_END)) return;
  const pt = mm.pgtables;
  if (pt.walk(addr) === 0) return;
  if (pt.lastLevel === PUD_LEVEL && addr % PUD_SIZE !== 0) split_huge_pud(mm, vma, addr);
  if (pt.walk(addr) !== 0 && pt.lastLevel === PMD_LEVEL && addr % PMD_SIZE !== 0) split_huge_pmd(mm, vma, addr);
}

/**
 * vma_adjust_trans_huge: [start, end) of vma is about to become (part of) a VMA
 * of its own, through __split_vma or a merge; split the huge entries that
 * straddle either boundary, so every huge entry stays inside one VMA.
 */
export function vma_adjust_trans_huge(mm: MmStruct, vma: VmArea, start: number, end: number): void {
  split_huge_at(mm, vma, start);
  split_huge_at(mm, vma, end);
}

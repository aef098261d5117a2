/**
 * A hardware error in an in-use HugeTLB page (mm/memory-failure.c:
 * try_memory_failure_hugetlb, hwpoison_user_mappings for hugetlb folios,
 * try_to_unmap_one's TTU_HWPOISON branch; kill_procs' si_addr_lsb =
 * huge_page_shift).
 *
 * The pool marked the folio poisoned (HugetlbPools.hugetlb_memory_failure).
 * Every entry mapping it, in every address space, becomes a hwpoison entry
 * (the next access: SIGBUS BUS_MCEERR_AR with si_addr_lsb 21 or 30); the
 * entry's folio reference goes, so a private page is freed (and dissolved by
 * the pool) at once, and a page-cache page when the file lets it go. A fault
 * on the page's offset never maps it again (hugetlb_no_page's
 * folio_test_hwpoison check).
 */
import { PAGE_SIZE, ilog2 } from '../../../lib/size.ts';
import { hugetlb_vm_ops } from '../../mm/hugetlb_fault.ts';
import { folio_put, type HugetlbEnv } from '../../mm/hugetlb_folio.ts';
import { make_hwpoison_entry } from '../../mm/memory_failure.ts';
import type { MmStruct } from '../../mm/mm_types.ts';
import { _PAGE_PRESENT, pte_flags, pte_pfn } from '../../mm/pgtable.ts';

/** One mapping of the poisoned page. */
export interface HugetlbMapper {
  mm: MmStruct;
  /** The bad 4K frame's user address. */
  addr: number;
  /** si_addr_lsb: huge_page_shift. */
  lsb: number;
}

/**
 * Unmap the in-use huge page holding pfn from every address space in `mms`,
 * leaving hwpoison entries; returns who mapped it (for the caller to signal).
 */
export function hugetlb_unmap_poisoned(env: HugetlbEnv, mms: Iterable<MmStruct>, pfn: number): HugetlbMapper[] {
  const page = env.pools.page_hstate(pfn);
  if (!page) return [];
  const { h, head } = page;
  const out: HugetlbMapper[] = [];
  for (const mm of mms) {
    if (mm.dead) continue;
    for (const vma of [...mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)]) {
      if (vma.vm_ops !== hugetlb_vm_ops) continue;
      const hits: [number, number][] = [];
      mm.pgtables.for_each_leaf(vma.start, vma.end, (va, level, entry) => {
        if (pte_flags(entry) & _PAGE_PRESENT && pte_pfn(entry) === head) hits.push([va, level]);
      });
      for (const [va, level] of hits) {
        // try_to_unmap_one runs under an mmu_notifier range: KVM drops its mapping first.
        mm.mmu_notifier_invalidate_range_start(va, va + h.size);
        mm.pgtables.update_leaf(va, level, make_hwpoison_entry(head));
        const f = env.folios.get(head);
        if (f) {
          f.mapcount--;
          folio_put(env, f);
        }
        out.push({ mm, addr: va + (pfn - head) * PAGE_SIZE, lsb: ilog2(h.size) });
      }
    }
  }
  return out;
}

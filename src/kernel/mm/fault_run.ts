/**
 * The 4K fault path once the PTE table exists (mm/memory.c: handle_pte_fault →
 * do_anonymous_page / do_fault for a pte_none entry), taken with the table in
 * hand instead of walking from the PGD for every step, and runs of such faults
 * over one table (what MADV_POPULATE_*, MAP_POPULATE and KVM's sequential EPT
 * faults do page after page).
 *
 * Linux takes the same path: when the PMD points at a PTE table, __handle_mm_fault
 * never looks at huge pages and handle_pte_fault sees a none entry. So every result
 * and counter here is the one handle_mm_fault gives, page by page, in the same
 * order (test/kvm/mmu_run.test.ts compares the two). Linux has no batched
 * anonymous fault (fault-around is for file pages); the runs are the model's
 * shortcut, not a behaviour.
 */
import { GiB } from '../../lib/size.ts';
import { do_fault } from './memory.ts';
import { policy_node } from './mempolicy.ts';
import { MM_ANONPAGES, type MmStruct } from './mm_types.ts';
import { _PAGE_ANON, vm_page_prot } from './page_prot.ts';
import { _PAGE_ACCESSED, _PAGE_PRESENT, _PAGE_SPECIAL, _PAGE_USER, mk_entry } from './pgtable.ts';
import type { PtPage } from './pgtable_core.ts';
import { PGFAULT } from './vmstat.ts';
import { FAULT_FLAG_WRITE, VM_FAULT_ERROR, VM_FAULT_OOM, type VmArea } from './vm_area.ts';

/**
 * Off switch for every shortcut built on this module (the handle_mm_fault
 * shortcut, populate's and KVM's runs): tests turn it off to get the page-by-page
 * path and compare.
 */
export const fault_runs = {
  enabled: true,
  /** Pages handled by KVM runs (for tests). */
  kvmRunPages: 0,
  /** Host faults a driver's VmOperations.fault_run resolved for KVM runs (for tests). */
  driverRunPages: 0,
};

/** Slot of va in its PTE table. */
export function pte_index(va: number): number {
  // As pgtable_core's walk: bit operations on the offset inside the GiB (no float modulo).
  return ((va - Math.floor(va / GiB) * GiB) >>> 12) & 511;
}

/**
 * handle_mm_fault for the 4K page at va whose entry, slot i of the PTE table pt,
 * is none (pt = mm.pgtables.pte_page(va); vma is not hugetlb). Returns vm_fault_t.
 */
export function handle_pte_none_fault(mm: MmStruct, vma: VmArea, pt: PtPage, i: number, va: number, flags: number, prealloc = -1): number {
  mm.kmem.vmstat.count(PGFAULT);
  const ret = vma.isAnonymous() ? do_anonymous_pte(mm, vma, pt, i, va, flags, prealloc) : do_fault(mm, vma, va, flags);
  if (!(ret & VM_FAULT_ERROR)) {
    mm.minflt++;
    // handle_mm_fault's per-level count: the leaf the fault left is a PTE (or none).
    if (pt.entries[i] !== 0) mm.faultsByLevel[1]!++;
  }
  return ret;
}

/**
 * do_anonymous_page into slot i of pt: the zero page for reads, a fresh zeroed
 * page for writes — `prealloc` when the caller took it already with
 * prealloc_anon_run (the page this fault's alloc_pages would have returned,
 * already cleared there).
 */
function do_anonymous_pte(mm: MmStruct, vma: VmArea, pt: PtPage, i: number, va: number, flags: number, prealloc: number): number {
  const k = mm.kmem;
  if (!(flags & FAULT_FLAG_WRITE)) {
    mm.pgtables.set_pte(pt, i, mk_entry(k.zeroPfn, _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_SPECIAL));
    return 0;
  }
  let pfn = prealloc;
  if (pfn < 0) {
    const { nid, nodemask } = policy_node(mm, vma, va, 0);
    pfn = k.allocUser(0, nid, nodemask);
  }
  if (pfn < 0) return VM_FAULT_OOM;
  if (prealloc < 0) k.clear(pfn, 0);
  mm.pgtables.set_pte(pt, i, mk_entry(pfn, vm_page_prot(vma, true) | _PAGE_ANON));
  vma.anon_vma ??= {};
  k.anon.newPage(pfn);
  mm.rss[MM_ANONPAGES]!++;
  return 0;
}

/**
 * Take, in one go, the pages the next nr write faults on none entries of an
 * anonymous VMA would allocate one by one (alloc_pages_bulk), and clear them as
 * those faults would (clear_user_highpage), one clear_pages per physically
 * consecutive stretch. Only for the default/local policy, whose choice does not
 * depend on the address; returns how many went to out[at..] (the faults after
 * those allocate for themselves). Each must go to handle_pte_none_fault's
 * `prealloc`, which does not clear it again.
 */
export function prealloc_anon_run(mm: MmStruct, vma: VmArea, va: number, nr: number, out: Float64Array, at: number): number {
  if (!vma.isAnonymous() || nr <= 0) return 0;
  const choice = policy_node(mm, vma, va, 0);
  if (choice !== mm.localChoice) return 0;
  const got = mm.kmem.allocUserBulk(choice.nid, choice.nodemask, nr, out, at);
  const dram = mm.kmem.dram;
  for (let s = at; s < at + got; ) {
    let e = s + 1;
    while (e < at + got && out[e] === out[e - 1]! + 1) e++;
    dram.clear_pages(out[s]!, e - s);
    s = e;
  }
  return got;
}

/**
 * handle_mm_fault's shortcut: when va's PTE table exists and its entry is none,
 * resolve the fault through it; otherwise -1 (take the general path).
 */
export function try_pte_none_fault(mm: MmStruct, vma: VmArea, va: number, flags: number): number {
  if (!fault_runs.enabled || vma.vm_ops?.hugetlb_fault) return -1;
  const pt = mm.pgtables.pte_page(va);
  if (pt === null) return -1;
  const i = pte_index(va);
  if (pt.entries[i] !== 0) return -1;
  return handle_pte_none_fault(mm, vma, pt, i, va, flags);
}

/**
 * The page-fault core and page-table teardown (mm/memory.c: handle_mm_fault,
 * __handle_mm_fault, handle_pte_fault, do_anonymous_page, do_fault,
 * do_read_fault, do_cow_fault, do_shared_fault, do_wp_page, wp_page_copy,
 * vmf_insert_pfn, zap_page_range_single, unmap_vmas).
 *
 * Entries carry one model-only software bit, _PAGE_ANON (see page_prot.ts).
 */
import { PAGE_SIZE, PMD_SIZE, PUD_SIZE, alignDown } from '../../lib/size.ts';
import { do_huge_pmd_anonymous_page, do_huge_pmd_wp_page, split_huge_pmd, split_huge_pud, thp_vma_suitable } from './huge_memory.ts';
import { pte_index, try_pte_none_fault } from './fault_run.ts';
import { policy_node } from './mempolicy.ts';
import { _PAGE_ANON, vm_page_prot } from './page_prot.ts';
import { MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, type MmStruct } from './mm_types.ts';
import {
  PMD_LEVEL,
  PTE_LEVEL,
  PUD_LEVEL,
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_PSE,
  _PAGE_RW,
  _PAGE_SPECIAL,
  _PAGE_USER,
  USER_PGTABLES_CEILING,
  mk_entry,
  pte_flags,
  pte_pfn,
} from './pgtable.ts';
import { is_hwpoison_entry } from './memory_failure.ts';
import { PGFAULT, PGREUSE } from './vmstat.ts';
import {
  FAULT_FLAG_WRITE,
  VM_FAULT_ERROR,
  VM_FAULT_FALLBACK,
  VM_FAULT_HWPOISON,
  VM_FAULT_HWPOISON_LARGE,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_MAYSHARE,
  VM_MIXEDMAP,
  VM_PFNMAP,
  VM_SHARED,
  type VmArea,
  type VmFault,
} from './vm_area.ts';

/** mm_counter_file: page-cache pages of shmem (tmpfs, memfd, shared anonymous) count as RssShmem. */
export function mm_counter_file(vma: VmArea): number {
  return vma.vm_ops?.name === 'shmem' ? MM_SHMEMPAGES : MM_FILEPAGES;
}

/** Flags of a leaf at PMD/PUD level add _PAGE_PSE. */
function huge(flags: number): number {
  return flags | _PAGE_PSE;
}

/**
 * handle_mm_fault: resolve a fault at `address` in `vma` (the caller checked
 * access rights). Returns vm_fault_t bits; 0 or VM_FAULT_NOPAGE mean mapped.
 */
export function handle_mm_fault(mm: MmStruct, vma: VmArea, address: number, flags: number): number {
  // A none entry in an existing PTE table: handle_pte_fault at once, without walks (fault_run.ts).
  const quick = try_pte_none_fault(mm, vma, address, flags);
  if (quick >= 0) return quick;
  mm.kmem.vmstat.count(PGFAULT);
  const ret = __handle_mm_fault(mm, vma, address, flags);
  if (!(ret & VM_FAULT_ERROR)) {
    mm.minflt++;
    mm.pgtables.walk(address);
    const level = mm.pgtables.lastLevel;
    if (level >= PTE_LEVEL && level <= PUD_LEVEL) mm.faultsByLevel[level]!++;
  }
  return ret;
}

function newVmf(vma: VmArea, address: number, flags: number, size: number): VmFault {
  const addr = alignDown(address, size);
  return { vma, address: addr, pgoff: vma.pgoffOf(addr), flags, pfn: -1 };
}

function __handle_mm_fault(mm: MmStruct, vma: VmArea, address: number, flags: number): number {
  // is_vm_hugetlb_page: hugetlb_fault does the whole fault (mm/hugetlb_fault.ts).
  if (vma.vm_ops?.hugetlb_fault) return vma.vm_ops.hugetlb_fault({ vma, address, pgoff: vma.pgoffOf(address), flags, pfn: -1 });
  const pt = mm.pgtables;
  const write = (flags & FAULT_FLAG_WRITE) !== 0;
  const entry = pt.walk(address);
  const level = pt.lastLevel;
  if (entry !== 0) {
    // A hwpoison entry left by memory_failure: the access gets SIGBUS (BUS_MCEERR_AR).
    if (is_hwpoison_entry(entry)) return level === PTE_LEVEL ? VM_FAULT_HWPOISON : VM_FAULT_HWPOISON_LARGE;
    if (!write || pte_flags(entry) & _PAGE_RW) return 0; // spurious: already mapped as needed
    if (level === PUD_LEVEL) {
      // wp_huge_pud: only file/pfn mappings have PUD leaves; let the driver decide, else split.
      if (vma.vm_ops?.huge_fault) {
        const r = vma.vm_ops.huge_fault(newVmf(vma, address, flags, PUD_SIZE), 18);
        if (!(r & VM_FAULT_FALLBACK)) return r;
      }
      split_huge_pud(mm, vma, address);
      return __handle_mm_fault(mm, vma, address, flags);
    }
    if (level === PMD_LEVEL) {
      const r = do_huge_pmd_wp_page(mm, vma, address, flags, entry);
      if (!(r & VM_FAULT_FALLBACK)) return r;
      return __handle_mm_fault(mm, vma, address, flags);
    }
    return do_wp_page(mm, vma, address, entry);
  }

  // Cheap VMA checks first: most faults are 4K and never look at the upper levels.
  if (vma.vm_ops?.huge_fault && thp_vma_suitable(mm, vma, address, PUD_SIZE) && pt.is_none(address, PUD_LEVEL)) {
    const r = vma.vm_ops.huge_fault(newVmf(vma, address, flags, PUD_SIZE), 18);
    if (!(r & VM_FAULT_FALLBACK)) return r;
  }
  if (thp_vma_suitable(mm, vma, address, PMD_SIZE) && pt.is_none(address, PMD_LEVEL)) {
    let r = VM_FAULT_FALLBACK;
    if (vma.isAnonymous()) r = do_huge_pmd_anonymous_page(mm, vma, address, flags);
    else if (vma.vm_ops?.huge_fault) r = vma.vm_ops.huge_fault(newVmf(vma, address, flags, PMD_SIZE), 9);
    if (!(r & VM_FAULT_FALLBACK)) return r;
  }
  return vma.isAnonymous() ? do_anonymous_page(mm, vma, address, flags) : do_fault(mm, vma, address, flags);
}

/** Install a 4K leaf, or undo the allocation that preceded it: VM_FAULT_OOM if no table page. */
function install(mm: MmStruct, address: number, entry: number): boolean {
  return mm.pgtables.set_leaf(alignDown(address, PAGE_SIZE), PTE_LEVEL, entry);
}

/** do_anonymous_page: the zero page for reads, a fresh zeroed page for writes. */
function do_anonymous_page(mm: MmStruct, vma: VmArea, address: number, flags: number): number {
  const k = mm.kmem;
  if (!(flags & FAULT_FLAG_WRITE)) {
    const e = mk_entry(k.zeroPfn, _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_SPECIAL);
    return install(mm, address, e) ? 0 : VM_FAULT_OOM;
  }
  const { nid, nodemask } = policy_node(mm, vma, address, 0);
  const pfn = k.allocUser(0, nid, nodemask);
  if (pfn < 0) return VM_FAULT_OOM;
  k.clear(pfn, 0);
  if (!install(mm, address, mk_entry(pfn, vm_page_prot(vma, true) | _PAGE_ANON))) {
    k.freeUser(pfn, 0);
    return VM_FAULT_OOM;
  }
  vma.anon_vma ??= {};
  k.anon.newPage(pfn);
  mm.rss[MM_ANONPAGES]!++;
  return 0;
}

/** __do_fault: ask the file for the page at vmf.pgoff. */
function __do_fault(vmf: VmFault): number {
  const ops = vmf.vma.vm_ops;
  if (!ops?.fault) return VM_FAULT_SIGBUS;
  return ops.fault(vmf);
}

/** do_fault: read, copy-on-write or shared fault on a file mapping. */
export function do_fault(mm: MmStruct, vma: VmArea, address: number, flags: number): number {
  const vmf = newVmf(vma, address, flags, PAGE_SIZE);
  const write = (flags & FAULT_FLAG_WRITE) !== 0;
  if (write && !(vma.flags & VM_SHARED)) return do_cow_fault(mm, vmf);
  const ret = __do_fault(vmf);
  if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) return ret;
  if (write && vma.vm_ops?.page_mkwrite) {
    const r = vma.vm_ops.page_mkwrite(vmf);
    if (r & VM_FAULT_ERROR) return r;
  }
  // finish_fault: shared writable mappings get a writable entry at once (no dirty tracking in tmpfs).
  const shared = (vma.flags & VM_SHARED) !== 0;
  const e = mk_entry(vmf.pfn, vm_page_prot(vma, shared));
  if (!install(mm, address, e)) return VM_FAULT_OOM;
  mm.rss[mm_counter_file(vma)]!++;
  return 0;
}

/** do_cow_fault: a write to a private file mapping gets an anonymous copy of the page. */
function do_cow_fault(mm: MmStruct, vmf: VmFault): number {
  const k = mm.kmem;
  const { nid, nodemask } = policy_node(mm, vmf.vma, vmf.address, 0);
  const pfn = k.allocUser(0, nid, nodemask);
  if (pfn < 0) return VM_FAULT_OOM;
  const ret = __do_fault(vmf);
  if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) {
    k.freeUser(pfn, 0);
    return ret;
  }
  k.dram.copy_pages(pfn, vmf.pfn, 1);
  if (!install(mm, vmf.address, mk_entry(pfn, vm_page_prot(vmf.vma, true) | _PAGE_ANON))) {
    k.freeUser(pfn, 0);
    return VM_FAULT_OOM;
  }
  vmf.vma.anon_vma ??= {};
  k.anon.newPage(pfn);
  mm.rss[MM_ANONPAGES]!++;
  return 0;
}

/** do_wp_page: a write to a present, read-only 4K entry. */
function do_wp_page(mm: MmStruct, vma: VmArea, address: number, entry: number): number {
  const k = mm.kmem;
  const flags = pte_flags(entry);
  const pfn = pte_pfn(entry);
  const va = alignDown(address, PAGE_SIZE);
  if (vma.flags & (VM_SHARED | VM_MAYSHARE)) {
    // wp_page_shared / wp_pfn_shared: the page stays, the entry becomes writable.
    mm.pgtables.update_leaf(va, PTE_LEVEL, mk_entry(pfn, flags | _PAGE_RW | _PAGE_DIRTY));
    return 0;
  }
  if (flags & _PAGE_ANON && k.anon.mapcount(pfn) === 1) {
    // wp_page_reuse: our page alone; keep it.
    k.vmstat.count(PGREUSE);
    mm.pgtables.update_leaf(va, PTE_LEVEL, mk_entry(pfn, flags | _PAGE_RW | _PAGE_DIRTY));
    return 0;
  }
  // wp_page_copy: from the zero page a zeroed page, otherwise a copy of the old one.
  const { nid, nodemask } = policy_node(mm, vma, address, 0);
  const copy = k.allocUser(0, nid, nodemask);
  if (copy < 0) return VM_FAULT_OOM;
  if (pfn === k.zeroPfn) k.clear(copy, 0);
  else k.dram.copy_pages(copy, pfn, 1);
  // wp_page_copy: the frame behind va changes; a secondary MMU must not keep the old one.
  mm.mmu_notifier_invalidate_range_start(va, va + PAGE_SIZE);
  mm.pgtables.update_leaf(va, PTE_LEVEL, mk_entry(copy, vm_page_prot(vma, true) | _PAGE_ANON));
  vma.anon_vma ??= {};
  k.anon.newPage(copy);
  if (flags & _PAGE_ANON) k.anon.putPte(pfn);
  else if (!(flags & _PAGE_SPECIAL)) mm.rss[mm_counter_file(vma)]!--;
  if (!(flags & _PAGE_ANON)) mm.rss[MM_ANONPAGES]!++;
  return 0;
}

/** vmf_insert_pfn: map a raw frame (no struct page) at a 4K address of a VM_PFNMAP VMA. */
export function vmf_insert_pfn(mm: MmStruct, vma: VmArea, addr: number, pfn: number): number {
  if (!(vma.flags & (VM_PFNMAP | VM_MIXEDMAP))) throw new Error('BUG: vmf_insert_pfn on a VMA without VM_PFNMAP|VM_MIXEDMAP');
  if (addr < vma.start || addr >= vma.end) return VM_FAULT_SIGBUS;
  // The PTE table in hand when there is one (every 4K fault of a pfn map but the first per 2M).
  const pt = mm.pgtables.pte_page(addr);
  if (pt !== null) {
    const i = pte_index(addr);
    if (pt.entries[i] !== 0) return VM_FAULT_NOPAGE;
    mm.pgtables.set_pte(pt, i, mk_entry(pfn, vm_page_prot(vma, (vma.flags & VM_SHARED) !== 0) | _PAGE_SPECIAL));
    return VM_FAULT_NOPAGE;
  }
  if (mm.pgtables.walk(addr) !== 0) return VM_FAULT_NOPAGE;
  const e = mk_entry(pfn, vm_page_prot(vma, (vma.flags & VM_SHARED) !== 0) | _PAGE_SPECIAL);
  return install(mm, addr, e) ? VM_FAULT_NOPAGE : VM_FAULT_OOM;
}

/** vmf_insert_pfn_pmd / vmf_insert_pfn_pud: map a raw, naturally aligned 2M or 1G frame range. */
export function vmf_insert_pfn_huge(mm: MmStruct, vma: VmArea, addr: number, pfn: number, level: number): number {
  const size = level === PUD_LEVEL ? PUD_SIZE : PMD_SIZE;
  const va = alignDown(addr, size);
  if (va < vma.start || va + size > vma.end) return VM_FAULT_FALLBACK;
  if (!mm.pgtables.is_none(va, level)) return VM_FAULT_NOPAGE;
  const e = mk_entry(pfn, huge(vm_page_prot(vma, (vma.flags & VM_SHARED) !== 0)) | _PAGE_SPECIAL);
  return mm.pgtables.set_leaf(va, level, e) ? VM_FAULT_NOPAGE : VM_FAULT_OOM;
}

/** Drop what one leaf held: put anonymous pages, uncount file pages. Special entries own nothing. */
export function zap_leaf(mm: MmStruct, vma: VmArea, level: number, entry: number): void {
  if (vma.vm_ops?.zap_leaf) return vma.vm_ops.zap_leaf(vma, level, entry);
  const f = pte_flags(entry);
  if (!(f & _PAGE_PRESENT)) return; // a hwpoison entry: the frame is isolated, not ours to put
  const pfn = pte_pfn(entry);
  const pages = level === PTE_LEVEL ? 1 : level === PMD_LEVEL ? 512 : 262144;
  if (f & _PAGE_ANON) {
    if (level === PMD_LEVEL) mm.kmem.anon.putPmd(pfn);
    else mm.kmem.anon.putPte(pfn);
    mm.rss[MM_ANONPAGES]! -= pages;
  } else if (!(f & _PAGE_SPECIAL)) {
    mm.rss[mm_counter_file(vma)]! -= pages;
  }
}

/**
 * zap_page_range_single / unmap_page_range: remove every entry of vma in
 * [start, end). Huge entries straddling an edge are split first (anonymous) or
 * dropped whole (file and pfn mappings, which refault), as zap_pmd_range does.
 */
export function zap_page_range_single(mm: MmStruct, vma: VmArea, start: number, end: number, _even_cows = true): void {
  zap_vma(mm, vma, start, end, false);
}

function zap_vma(mm: MmStruct, vma: VmArea, start: number, end: number, freeTables: boolean): void {
  start = Math.max(start, vma.start);
  end = Math.min(end, vma.end);
  if (start >= end) return;
  // unmap_vmas / zap_page_range_single: secondary MMUs (KVM) drop the range first.
  mm.mmu_notifier_invalidate_range_start(start, end);
  // hugetlb ranges are always huge-page aligned (hugetlb_vm_op_split, madvise): never split.
  if (!vma.vm_ops?.zap_leaf) {
    splitEdge(mm, vma, start);
    splitEdge(mm, vma, end);
  }
  // free_pgtables' floor and ceiling: tables shared with the neighbouring VMAs stay.
  const prev = freeTables ? mm.vmas.prev(vma) : undefined;
  const next = freeTables ? mm.vmas.next(vma) : undefined;
  mm.pgtables.zap_range(start, end, (_va, level, entry) => zap_leaf(mm, vma, level, entry), freeTables, prev?.end ?? 0, next?.start ?? USER_PGTABLES_CEILING);
}

/** If a huge leaf covers `addr` without starting there, split it (or drop it, for file/pfn maps). */
function splitEdge(mm: MmStruct, vma: VmArea, addr: number): void {
  const e = mm.pgtables.walk(addr);
  if (e === 0) return;
  const level = mm.pgtables.lastLevel;
  if (level === PUD_LEVEL && addr % PUD_SIZE !== 0) split_huge_pud(mm, vma, addr);
  if (mm.pgtables.walk(addr) !== 0 && mm.pgtables.lastLevel === PMD_LEVEL && addr % PMD_SIZE !== 0) split_huge_pmd(mm, vma, addr);
}

/** unmap_vmas + free_pgtables for a VMA's range that is leaving the address space (vma still in the tree). */
export function unmap_region(mm: MmStruct, vma: VmArea, start: number, end: number): void {
  zap_vma(mm, vma, start, end, true);
}

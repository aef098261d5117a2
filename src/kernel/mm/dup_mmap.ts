/**
 * Copying an address space at fork and tearing one down at exit
 * (kernel/fork.c dup_mmap / mm/mmap.c in ≥ 6.15; mm/memory.c copy_page_range,
 * copy_present_pte, vma_needs_copy; mm/huge_memory.c copy_huge_pmd;
 * mm/mmap.c exit_mmap).
 */
import { mm_counter_file } from './memory.ts';
import { MmStruct, MM_ANONPAGES } from './mm_types.ts';
import { remove_vma } from './mmap.ts';
import { _PAGE_ANON } from './page_prot.ts';
import { PMD_LEVEL, PTE_LEVEL, _PAGE_PRESENT, _PAGE_RW, _PAGE_SPECIAL, pte_flags, pte_pfn } from './pgtable.ts';
import { VM_DONTCOPY, VM_MAYWRITE, VM_MIXEDMAP, VM_PFNMAP, VM_SHARED, VM_WIPEONFORK, VmArea } from './vm_area.ts';

/** is_cow_mapping: private and possibly writable. */
function is_cow_mapping(flags: number): boolean {
  return (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
}

/** vma_needs_copy: must fork copy the entries, or can the child fault them in? */
function vma_needs_copy(dst: VmArea, src: VmArea): boolean {
  if (dst.flags & (VM_PFNMAP | VM_MIXEDMAP)) return true;
  return src.anon_vma !== null;
}

/** dup_mmap: the child's copy of every VMA not marked VM_DONTCOPY, sharing pages copy-on-write. */
export function dup_mmap(parent: MmStruct, childNid: number): MmStruct {
  const child = new MmStruct(parent.kmem, childNid);
  child.policy = parent.policy;
  for (const src of parent.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)) {
    if (src.flags & VM_DONTCOPY) continue;
    const dst = new VmArea(src.start, src.end, src.flags, src.pgoff, src.file, src.vm_ops, src.policy);
    dst.private_data = src.private_data;
    dst.name = src.name;
    dst.vm_mm = child;
    if (src.flags & VM_WIPEONFORK) {
      // The child gets fresh, empty anonymous memory here.
      child.vmas.insert(dst);
      continue;
    }
    dst.anon_vma = src.anon_vma;
    if (dst.file) {
      dst.file.get();
    }
    dst.vm_ops?.open?.(dst);
    child.vmas.insert(dst);
    if (vma_needs_copy(dst, src)) {
      if (src.vm_ops?.copy_page_range) src.vm_ops.copy_page_range(dst, src);
      else copy_page_range(child, parent, dst, src);
    }
  }
  return child;
}

/** copy_page_range: share present entries; private writable ones become read-only in both. */
function copy_page_range(dstMm: MmStruct, srcMm: MmStruct, dst: VmArea, src: VmArea): void {
  const cow = is_cow_mapping(src.flags);
  const anon = dstMm.kmem.anon;
  srcMm.pgtables.for_each_leaf(src.start, src.end, (va, level, entry) => {
    const f = pte_flags(entry);
    if (!(f & _PAGE_PRESENT)) {
      // copy_nonpresent_pte: a hwpoison entry is copied as it is; it owns nothing.
      if (!dstMm.pgtables.set_leaf(va, level, entry)) throw new Error('fork: out of page-table memory');
      return;
    }
    // copy_huge_pmd/pud skip what is not anonymous: file and pfn mappings refault.
    if (level > PTE_LEVEL && !(f & _PAGE_ANON) && !dst.isAnonymous()) return;
    if (f & _PAGE_ANON) {
      if (level === PMD_LEVEL) anon.dupPmd(pte_pfn(entry));
      else anon.dupPte(pte_pfn(entry));
      dstMm.rss[MM_ANONPAGES]! += level === PMD_LEVEL ? 512 : 1;
    } else if (!(f & _PAGE_SPECIAL)) {
      dstMm.rss[mm_counter_file(dst)]! += level === PMD_LEVEL ? 512 : 1;
    }
    const e = cow && f & _PAGE_RW ? entry - _PAGE_RW : entry;
    if (!dstMm.pgtables.set_leaf(va, level, e)) throw new Error('fork: out of page-table memory');
  });
  // The parent's private entries lose write permission too, so either side's write copies.
  // copy_page_range notifies the parent's COW range (MMU_NOTIFY_PROTECTION_PAGE): KVM must refault writes.
  if (cow) srcMm.mmu_notifier_invalidate_range_start(src.start, src.end);
  if (cow) srcMm.pgtables.change_protection(src.start, src.end, (entry) => (pte_flags(entry) & _PAGE_RW ? entry - _PAGE_RW : entry));
}

/** exit_mmap: unmap every VMA and free the page tables. */
export function exit_mmap(mm: MmStruct): void {
  if (mm.dead) return;
  for (const vma of [...mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)]) remove_vma(mm, vma);
  mm.pgtables.destroy();
  mm.dead = true;
}

/**
 * remap_pfn_range (mm/memory.c: remap_pfn_range, remap_pfn_range_notrack,
 * remap_pfn_range_internal, remap_p4d/pud/pmd/pte_range): map a physically
 * contiguous range of raw frames into a VMA up front, the way /dev/mem and
 * most drivers' ->mmap do.
 *
 * Every entry is a 4K special PTE: remap_pfn_range never installs huge
 * entries, however large and aligned the range is. There is no x86 PAT
 * tracking (track_pfn_remap) and no L1TF check (pfn_modify_allowed, which only
 * refuses PROT_NONE entries for high frames): both always succeed here.
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE, PMD_SIZE, alignUp, isAligned } from '../../lib/size.ts';
import { zap_page_range_single } from './memory.ts';
import type { MmStruct } from './mm_types.ts';
import { vm_page_prot } from './page_prot.ts';
import { PTE_LEVEL, _PAGE_SPECIAL, mk_entry } from './pgtable.ts';
import { VM_DONTDUMP, VM_DONTEXPAND, VM_IO, VM_MAYWRITE, VM_PFNMAP, VM_SHARED, type VmArea } from './vm_area.ts';

/** is_cow_mapping(): private and possibly writable. */
function is_cow_mapping(flags: number): boolean {
  return (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
}

/**
 * remap_pfn_range_internal(): the checks, the VMA flags, then one special PTE per
 * 4K page. Throws Errno EINVAL for an unaligned address or a partial COW
 * mapping, ENOMEM when a page-table page cannot be had (entries installed so far
 * stay: the caller zaps them).
 */
function remap_pfn_range_internal(mm: MmStruct, vma: VmArea, addr: number, pfn: number, size: number, prot: number): void {
  const end = addr + alignUp(size, PAGE_SIZE);
  if (!isAligned(addr, PAGE_SIZE)) throw new Errno('EINVAL');
  /*
   * Physically remapped pages are special: there is no struct page to count or
   * COW. A private writable mapping may only be remapped whole, and then
   * vm_pgoff records the first pfn so that COW can find the original frames.
   */
  if (is_cow_mapping(vma.flags)) {
    if (addr !== vma.start || end !== vma.end) throw new Errno('EINVAL');
    vma.pgoff = pfn;
  }
  vma.flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
  if (addr >= end) throw new Error('BUG: remap_pfn_range of an empty range');
  const pt = mm.pgtables;
  const flags = prot | _PAGE_SPECIAL;
  for (let va = addr, p = pfn; va < end; ) {
    // remap_pte_range(): BUG_ON(!pte_none(*pte)). The first entry of each PTE
    // table allocates the tables (pte_alloc_map_lock); the rest of the table is
    // filled directly, as remap_pte_range's loop does.
    if (pt.walk(va) !== 0) throw new Error(`BUG: remap_pfn_range over a present entry at 0x${va.toString(16)}`);
    if (!pt.set_leaf(va, PTE_LEVEL, mk_entry(p, flags))) throw new Errno('ENOMEM');
    va += PAGE_SIZE;
    p++;
    const table = va < end && va % PMD_SIZE !== 0 ? pt.pte_page(va) : null;
    if (!table) continue;
    const stop = Math.min(end, va - (va % PMD_SIZE) + PMD_SIZE);
    for (let i = (va % PMD_SIZE) / PAGE_SIZE; va < stop; va += PAGE_SIZE, p++, i++) {
      if (table.entries[i] !== 0) throw new Error(`BUG: remap_pfn_range over a present entry at 0x${va.toString(16)}`);
      pt.set_pte(table, i, mk_entry(p, flags));
    }
  }
}

/**
 * remap_pfn_range(vma, addr, pfn, size, prot): map frames [pfn, pfn + size/4K)
 * at [addr, addr + size) of vma (in mm) as special PTEs, setting
 * VM_IO|VM_PFNMAP|VM_DONTEXPAND|VM_DONTDUMP. `prot` defaults to the VMA's
 * vm_page_prot (writable for a shared writable mapping). On failure nothing
 * stays mapped: a partial pfn mapping is zapped before the error returns, as
 * remap_pfn_range_notrack does.
 */
export function remap_pfn_range(mm: MmStruct, vma: VmArea, addr: number, pfn: number, size: number, prot?: number): void {
  const p = prot ?? vm_page_prot(vma, (vma.flags & VM_SHARED) !== 0);
  try {
    remap_pfn_range_internal(mm, vma, addr, pfn, size, p);
  } catch (e) {
    if (e instanceof Errno && isAligned(addr, PAGE_SIZE)) zap_page_range_single(mm, vma, addr, addr + alignUp(size, PAGE_SIZE));
    throw e;
  }
}

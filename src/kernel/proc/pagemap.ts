/**
 * /proc/PID/pagemap (fs/proc/task_mmu.c: pagemap_read, pagemap_pte_hole,
 * pte_to_pagemap_entry, pagemap_pmd_range, pagemap_hugetlb_range;
 * Documentation/admin-guide/mm/pagemap.rst): one u64 per virtual page.
 *
 *   bits 0-54  PFN if present (0 without CAP_SYS_ADMIN); swap type (0-4) and
 *              offset (5-54) if swapped — for a hwpoison entry, SWP_HWPOISON and the pfn
 *   bit 55     soft-dirty          bit 56  page exclusively mapped
 *   bit 57     uffd-wp             bit 61  file page or shared anonymous
 *   bit 62     swapped             bit 63  present
 *
 * As Linux: the file position must be a multiple of 8 and so must the count
 * (EINVAL); a VM_PFNMAP VMA is a hole (walk_page_test skips it, so dmemfs and
 * device-dax map=0 memory reads as not present); the zero page and other
 * special entries have no page, so no file or exclusive bit; exclusive means
 * the page is mapped once (folio_precise_page_mapcount == 1).
 *
 * Knowingly simpler: bit 55 is never set (the model is built without
 * CONFIG_MEM_SOFT_DIRTY, as the development host's kernel is: no clear_refs),
 * nor bit 57 (no userfaultfd).
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE } from '../../lib/size.ts';
import { is_hwpoison_entry } from '../mm/memory_failure.ts';
import type { MmStruct } from '../mm/mm_types.ts';
import { TASK_SIZE } from '../mm/mmap.ts';
import { _PAGE_ANON } from '../mm/page_prot.ts';
import { LEVEL_SIZE, _PAGE_PRESENT, _PAGE_SPECIAL, pte_flags, pte_pfn } from '../mm/pgtable.ts';
import { VM_PFNMAP, type VmArea } from '../mm/vm_area.ts';

/** PM_ENTRY_BYTES. */
export const PM_ENTRY_BYTES = 8;
/** Flag bits of the high 32 bits (bit n of the entry is bit n − 32 here). */
export const PM_MMAP_EXCLUSIVE = 1 << (56 - 32);
export const PM_FILE = 1 << (61 - 32);
export const PM_SWAP = 1 << (62 - 32);
export const PM_PRESENT = (1 << (63 - 32)) >>> 0;
/** MAX_SWAPFILES_SHIFT: the swap type's bits below the offset. */
const MAX_SWAPFILES_SHIFT = 5;
/**
 * SWP_HWPOISON = MAX_SWAPFILES on x86-64 with CONFIG_DEVICE_PRIVATE and
 * CONFIG_MIGRATION: 32 − 3 device − 3 migration − 1 hwpoison − 1 marker = 24.
 */
const SWP_HWPOISON = 24;

/** How many page-table entries map the page behind a present, non-anonymous entry (its mapcount). */
export type FileMapcount = (vma: VmArea, va: number, pfn: number) => number;

/** A file page's mapcount: the entries that map it through the file's mappings (its i_mmap). */
export function file_mapcount(vma: VmArea, va: number, pfn: number): number {
  const mapping = vma.file?.f_mapping;
  if (!mapping) return 1;
  const pgoff = vma.pgoffOf(va);
  let n = 0;
  for (const v of mapping.i_mmap) {
    const mm = v.vm_mm as MmStruct | null;
    if (!mm || pgoff < v.pgoff || pgoff >= v.pgoff + v.size / PAGE_SIZE) continue;
    const a = v.start + (pgoff - v.pgoff) * PAGE_SIZE;
    const e = mm.pgtables.walk(a);
    if (!(pte_flags(e) & _PAGE_PRESENT)) continue;
    if (pte_pfn(e) + Math.floor((a % LEVEL_SIZE[mm.pgtables.lastLevel]!) / PAGE_SIZE) === pfn) n++;
  }
  return n;
}

/** One present or swap entry's u64 for the 4K page `idx` pages into the leaf at `va`. */
function encode(dv: DataView, at: number, entry: number, idx: number, vma: VmArea, va: number, showPfn: boolean, anonMapcount: (pfn: number) => number, fileMapcount: FileMapcount): void {
  const f = pte_flags(entry);
  let hi = 0;
  let frame = 0;
  if (f & _PAGE_PRESENT) {
    const pfn = pte_pfn(entry) + idx;
    hi = PM_PRESENT;
    if (showPfn) frame = pfn;
    // vm_normal_page: special entries (the zero page, remapped pfns) have no page.
    if (!(f & _PAGE_SPECIAL)) {
      const anon = (f & _PAGE_ANON) !== 0;
      if (!anon) hi |= PM_FILE;
      if ((anon ? anonMapcount(pfn) : fileMapcount(vma, va + idx * PAGE_SIZE, pfn)) === 1) hi |= PM_MMAP_EXCLUSIVE;
    }
  } else if (is_hwpoison_entry(entry)) {
    hi = PM_SWAP;
    if (showPfn) frame = SWP_HWPOISON + (pte_pfn(entry) + idx) * 2 ** MAX_SWAPFILES_SHIFT;
  }
  dv.setUint32(at, frame % 2 ** 32, true);
  dv.setUint32(at + 4, (hi | Math.floor(frame / 2 ** 32)) >>> 0, true);
}

/**
 * pagemap_read(): the entries for the pages from file position `pos` (a
 * multiple of 8) for `count` bytes (a multiple of 8), clipped at TASK_SIZE.
 */
export function pagemap_read(
  mm: MmStruct,
  pos: number,
  count: number,
  showPfn: boolean,
  anonMapcount: (pfn: number) => number,
  fileMapcount: FileMapcount,
): Uint8Array {
  if (pos % PM_ENTRY_BYTES || count % PM_ENTRY_BYTES) throw new Errno('EINVAL');
  const svpfn = pos / PM_ENTRY_BYTES;
  let start = svpfn * PAGE_SIZE;
  let end = TASK_SIZE;
  const want = start + (count / PM_ENTRY_BYTES) * PAGE_SIZE;
  if (want < TASK_SIZE) end = want;
  // Ensure the address is inside the task.
  if (start > TASK_SIZE) start = end;
  if (count === 0 || start >= end) return new Uint8Array(0);
  const out = new Uint8Array(((end - start) / PAGE_SIZE) * PM_ENTRY_BYTES);
  const dv = new DataView(out.buffer);
  // Holes and untouched pages stay 0 (pagemap_pte_hole: no soft-dirty here).
  for (const vma of mm.vmas.vmas_in(start, end)) {
    if (vma.flags & VM_PFNMAP) continue;
    const lo = Math.max(start, vma.start);
    const hi = Math.min(end, vma.end);
    mm.pgtables.for_each_leaf(lo, hi, (va, level, entry) => {
      const size = LEVEL_SIZE[level]!;
      const from = Math.max(lo, va);
      const to = Math.min(hi, va + size);
      for (let a = from; a < to; a += PAGE_SIZE) {
        encode(dv, ((a - start) / PAGE_SIZE) * PM_ENTRY_BYTES, entry, (a - va) / PAGE_SIZE, vma, va, showPfn, anonMapcount, fileMapcount);
      }
    });
  }
  return out;
}

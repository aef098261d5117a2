/**
 * The leaf flags a VMA's pages get (mm/mmap.c vm_get_page_prot, protection_map),
 * and the model's one extra software bit.
 */
import { _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_RW, _PAGE_USER } from './pgtable.ts';
import { VM_WRITE, type VmArea } from './vm_area.ts';

/**
 * Model-only software bit 11 (soft-dirty on real x86): the entry maps an
 * anonymous page. It stands for PageAnon() of the mapped page, which Linux reads
 * from struct page and we cannot, having none.
 */
export const _PAGE_ANON = 0x800;

/** Flags for a user leaf of vma; writable (and dirty) only when asked and VM_WRITE is set. */
export function vm_page_prot(vma: VmArea, write: boolean): number {
  let f = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
  if (write && vma.flags & VM_WRITE) f |= _PAGE_RW | _PAGE_DIRTY;
  return f;
}

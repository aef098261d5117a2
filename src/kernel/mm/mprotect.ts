/**
 * mprotect (mm/mprotect.c do_mprotect_pkey, mprotect_fixup, change_protection).
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE, alignUp, isAligned } from '../../lib/size.ts';
import { PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_READ, PROT_WRITE } from '../../uapi/mman.ts';
import { calc_vm_prot_bits } from './mmap.ts';
import type { MmStruct } from './mm_types.ts';
import { _PAGE_ANON } from './page_prot.ts';
import { _PAGE_RW, _PAGE_SPECIAL, pte_flags, pte_pfn } from './pgtable.ts';
import { VM_ACCOUNT, VM_EXEC, VM_READ, VM_SHARED, VM_WRITE, type VmArea } from './vm_area.ts';

const VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;

/** do_mprotect_pkey: change the protection of [start, start+len). */
export function do_mprotect(mm: MmStruct, start: number, len: number, prot: number): void {
  const grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  prot &= ~grows;
  if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) throw new Errno('EINVAL');
  if (!isAligned(start, PAGE_SIZE)) throw new Errno('EINVAL');
  if (len === 0) return;
  const plen = alignUp(len, PAGE_SIZE);
  const end = start + plen;
  if (end <= start) throw new Errno('ENOMEM');
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) throw new Errno('EINVAL');

  // First pass: everything Linux checks before changing anything.
  const vmas = [...mm.vmas.vmas_in(start, end)];
  if (vmas.length === 0 || vmas[0]!.start > start) throw new Errno('ENOMEM');
  let expect = start;
  const newprot = calc_vm_prot_bits(prot);
  for (const vma of vmas) {
    if (vma.start > expect) throw new Errno('ENOMEM');
    const newflags = newprot | (vma.flags & ~VM_ACCESS_FLAGS);
    // newflags >> 4 shifts VM_MAY* down onto VM_*: asking for what the mapping may not have.
    if ((newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS) throw new Errno('EACCES');
    vma.vm_ops?.mprotect?.(vma, Math.max(start, vma.start), Math.min(end, vma.end), newflags);
    expect = vma.end;
  }
  if (expect < end) throw new Errno('ENOMEM');
  for (const vma of vmas) mprotect_fixup(mm, vma, Math.max(start, vma.start), Math.min(end, vma.end), newprot | (vma.flags & ~VM_ACCESS_FLAGS));
}

/** mprotect_fixup: split/merge the VMA and rewrite its entries' write bit. */
function mprotect_fixup(mm: MmStruct, vma: VmArea, start: number, end: number, newflags: number): void {
  if (newflags === vma.flags) return;
  if (newflags & VM_WRITE && !(vma.flags & (VM_ACCOUNT | VM_SHARED))) newflags |= VM_ACCOUNT;
  mm.vmas.vma_modify(vma, start, end, { flags: newflags });
  const writable = (newflags & VM_WRITE) !== 0;
  const shared = (newflags & VM_SHARED) !== 0;
  mm.pgtables.change_protection(start, end, (entry) => {
    const f = pte_flags(entry);
    // Private pages stay read-only until a write fault decides on copy-on-write,
    // except anonymous pages we own outright (what can_change_pte_writable allows).
    let w = false;
    if (writable) {
      if (shared) w = true;
      else if (f & _PAGE_ANON && !(f & _PAGE_SPECIAL)) w = mm.kmem.anon.mapcount(pte_pfn(entry)) === 1;
    }
    const nf = w ? f | _PAGE_RW : f & ~_PAGE_RW;
    return entry - f + nf;
  });
}

/**
 * mprotect (mm/mprotect.c do_mprotect_pkey, mprotect_fixup, change_protection).
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE, alignUp, isAligned } from '../../lib/size.ts';
import { PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_READ, PROT_WRITE } from '../../uapi/mman.ts';
import { calc_vm_prot_bits } from './mmap.ts';
import type { MmStruct } from './mm_types.ts';
import { _PAGE_ANON } from './page_prot.ts';
import { _PAGE_RW, _PAGE_SPECIAL, _PAGE_USER, pte_flags, pte_pfn } from './pgtable.ts';
import { VM_ACCOUNT, VM_EXEC, VM_GROWSDOWN, VM_HUGETLB, VM_NORESERVE, VM_READ, VM_SHARED, VM_WRITE, type VmArea } from './vm_area.ts';
import { vma_adjust_trans_huge } from './huge_memory.ts';
import { is_hwpoison_entry } from './memory_failure.ts';

const VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;
/** PROT_SEM: accepted (and ignored) by the generic arch_validate_prot, which x86 uses. */
const PROT_SEM = 0x8;

/**
 * do_mprotect_pkey: change the protection of [start, start+len).
 *
 * As in Linux, the VMAs are changed one after another and the first failure
 * stops the walk: a hole (ENOMEM), a VMA that may not get the protection
 * (EACCES) or a driver's refusal leaves the VMAs before it already changed.
 * (The model used to check every VMA first and change nothing on failure,
 * which is not what Linux does.)
 */
export function do_mprotect(mm: MmStruct, start: number, len: number, prot: number): void {
  const grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  prot &= ~grows;
  if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) throw new Errno('EINVAL'); // can't be both
  if (!isAligned(start, PAGE_SIZE)) throw new Errno('EINVAL');
  if (len === 0) return;
  const plen = alignUp(len, PAGE_SIZE);
  const end = start + plen;
  if (end <= start) throw new Errno('ENOMEM');
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) throw new Errno('EINVAL'); // arch_validate_prot

  const first = mm.vmas.find_vma_intersection(start, end);
  if (!first) throw new Errno('ENOMEM');
  if (grows & PROT_GROWSDOWN) {
    if (first.start >= end) throw new Errno('ENOMEM');
    start = first.start;
    if (!(first.flags & VM_GROWSDOWN)) throw new Errno('EINVAL');
  } else {
    if (first.start > start) throw new Errno('ENOMEM');
    if (grows & PROT_GROWSUP) {
      // x86-64 has no VM_GROWSUP: PROT_GROWSUP always fails here.
      throw new Errno('EINVAL');
    }
  }

  const newprot = calc_vm_prot_bits(prot);
  let nstart = start;
  let tmp = first.start;
  while (nstart < end) {
    const vma = mm.vmas.find_vma(nstart);
    if (!vma || vma.start >= end) break;
    if (vma.start !== tmp) throw new Errno('ENOMEM');
    const newflags = newprot | (vma.flags & ~VM_ACCESS_FLAGS);
    // newflags >> 4 shifts VM_MAY* down onto VM_*: asking for what the mapping may not have.
    if ((newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS) throw new Errno('EACCES');
    tmp = Math.min(vma.end, end);
    vma.vm_ops?.mprotect?.(vma, nstart, tmp, newflags);
    mprotect_fixup(mm, vma, nstart, tmp, newflags);
    // Continue after the VMA that now covers the changed range (vma_iter_end): it
    // may have merged with the next one.
    tmp = mm.vmas.find_vma(tmp - 1)!.end;
    nstart = tmp;
  }
  if (tmp < end) throw new Errno('ENOMEM');
}

/** mprotect_fixup: split/merge the VMA and rewrite its entries' write bit. */
function mprotect_fixup(mm: MmStruct, vma: VmArea, start: number, end: number, newflags: number): void {
  const oldflags = vma.flags;
  if (newflags === oldflags) return;
  // Private writable memory is committed (VM_ACCOUNT); it is uncommitted again only
  // for anonymous memory that never had a page (no anon_vma), as Linux does.
  if (newflags & VM_WRITE) {
    if (!(oldflags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE))) newflags |= VM_ACCOUNT;
  } else if (oldflags & VM_ACCOUNT && vma.isAnonymous() && !vma.anon_vma) {
    newflags &= ~VM_ACCOUNT;
  }
  // __split_vma / commit_merge call vma_adjust_trans_huge: no huge entry may
  // straddle the new VMA boundaries (change_protection would refuse it, and fork
  // would copy it twice).
  vma_adjust_trans_huge(mm, vma, start, end);
  mm.vmas.vma_modify(vma, start, end, { flags: newflags });
  const writable = (newflags & VM_WRITE) !== 0;
  const shared = (newflags & VM_SHARED) !== 0;
  const accessible = (newflags & VM_ACCESS_FLAGS) !== 0;
  // change_protection: MMU_NOTIFY_PROTECTION_VMA, so KVM drops (and refaults) its write access.
  mm.mmu_notifier_invalidate_range_start(start, end);
  mm.pgtables.change_protection(start, end, (entry) => {
    const f = pte_flags(entry);
    if (is_hwpoison_entry(entry)) return entry; // change_pte_range leaves non-present entries alone
    // Private pages stay read-only until a write fault decides on copy-on-write,
    // except anonymous pages we own outright (what can_change_pte_writable allows).
    let w = false;
    if (writable) {
      if (shared) w = true;
      else if (f & _PAGE_ANON && !(f & _PAGE_SPECIAL)) w = mm.kmem.anon.mapcount(pte_pfn(entry)) === 1;
    }
    let nf = w ? f | _PAGE_RW : f & ~_PAGE_RW;
    // PROT_NONE: the entry stays (the page is still mapped and counted) but user
    // accesses must fault. Linux uses PAGE_NONE = _PAGE_PROTNONE|_PAGE_ACCESSED,
    // without _PAGE_USER; the model's pte_present() knows no _PAGE_PROTNONE, so it
    // keeps _PAGE_PRESENT and drops _PAGE_USER, which the CPU checks on every user
    // access. (The model used to leave PROT_NONE pages readable.)
    if (accessible) nf |= _PAGE_USER;
    else nf &= ~_PAGE_USER;
    return entry - f + nf;
  });
}

/**
 * mremap (mm/mremap.c: the mremap syscall, mremap_to, vma_to_resize,
 * vma_expandable, move_vma, move_page_tables).
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE, PMD_SIZE, PUD_SIZE, alignUp, isAligned } from '../../lib/size.ts';
import { MAP_FIXED, MAP_SHARED, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from '../../uapi/mman.ts';
import { split_huge_pmd, split_huge_pud } from './huge_memory.ts';
import { MAX_MAP_COUNT, TASK_SIZE, do_munmap, get_unmapped_area, type MmapFile } from './mmap.ts';
import type { MmStruct } from './mm_types.ts';
import { PMD_LEVEL, PUD_LEVEL } from './pgtable.ts';
import { VM_DONTEXPAND, VM_HUGETLB, VM_MAYSHARE, VM_PFNMAP, VM_SHARED, VmArea } from './vm_area.ts';

/**
 * The mremap system call (do_mremap: check_mremap_params, check_prep_vma, then
 * mremap_to or mremap_at). Returns the (possibly new) address.
 *
 * Every check on the arguments and on the VMA runs before anything changes, as
 * in Linux ≥ 6.16: in particular MREMAP_FIXED unmaps the destination only once
 * the source VMA is known to be movable (the model used to unmap it first and
 * then fail with EFAULT, and checked the overlap only after looking up the VMA).
 * Not modelled: moving several VMAs at once (MREMAP_FIXED with old_len ==
 * new_len across VMAs, Linux ≥ 6.17): it fails with EFAULT here, as before 6.17.
 */
export function do_mremap(mm: MmStruct, addr: number, oldLen: number, newLen: number, flags: number, newAddr: number): number {
  // check_mremap_params
  if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) throw new Errno('EINVAL');
  if (!isAligned(addr, PAGE_SIZE)) throw new Errno('EINVAL');
  oldLen = alignUp(oldLen, PAGE_SIZE);
  newLen = alignUp(newLen, PAGE_SIZE);
  // A zero old_len duplicates a shared mapping, but a zero new_len is nonsensical.
  if (newLen === 0) throw new Errno('EINVAL');
  const impliesNewAddr = (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;
  if (!impliesNewAddr) newAddr = 0;
  // Is the new length or address silly?
  if (newLen > TASK_SIZE || newAddr > TASK_SIZE - newLen) throw new Errno('EINVAL');
  if (impliesNewAddr) {
    if (!isAligned(newAddr, PAGE_SIZE)) throw new Errno('EINVAL');
    // A fixed address implies a move.
    if (!(flags & MREMAP_MAYMOVE)) throw new Errno('EINVAL');
    // MREMAP_DONTUNMAP does not allow resizing in the process.
    if (flags & MREMAP_DONTUNMAP && oldLen !== newLen) throw new Errno('EINVAL');
    // Ensure the old/new locations do not overlap.
    if (addr + oldLen > newAddr && newAddr + newLen > addr) throw new Errno('EINVAL');
    // move_vma needs us to stay 4 maps below the threshold.
    if (mm.vmas.map_count + 6 > MAX_MAP_COUNT) throw new Errno('ENOMEM');
  }

  const vma = mm.vmas.vma_lookup(addr);
  check_prep_vma(vma, addr, oldLen, newLen, flags, impliesNewAddr);
  if (impliesNewAddr) return mremap_to(mm, addr, oldLen, newAddr, newLen, flags);

  // mremap_at
  if (oldLen === newLen) return addr;
  // Always allow a shrinking remap: that just unmaps the unnecessary pages.
  if (oldLen > newLen) {
    do_munmap(mm, addr + newLen, oldLen - newLen);
    return addr;
  }
  const v = vma!;
  if (oldLen === v.end - addr && vma_expandable(mm, v, newLen - oldLen)) {
    // expand_vma_in_place: through the tree, so its gap bookkeeping follows (the
    // model used to bump vm_end directly, leaving the free-area search stale).
    mm.vmas.vma_set_range(v, v.start, v.end + newLen - oldLen, v.pgoff);
    return addr;
  }
  if (!(flags & MREMAP_MAYMOVE)) throw new Errno('ENOMEM');
  const pgoff = v.pgoff + (addr - v.start) / PAGE_SIZE;
  const dest = get_unmapped_area(mm, v.file as MmapFile | null, 0, newLen, pgoff, v.flags & VM_MAYSHARE ? MAP_SHARED : 0);
  return move_vma(mm, v, addr, oldLen, newLen, dest, flags);
}

/** check_prep_vma: may the VMA at addr be resized or moved from oldLen to newLen? Throws the errno. */
function check_prep_vma(vma: VmArea | null, addr: number, oldLen: number, newLen: number, flags: number, impliesNewAddr: boolean): asserts vma is VmArea {
  if (!vma) throw new Errno('EFAULT');
  if (vma.flags & VM_HUGETLB) throw new Errno('EINVAL');
  // Below only meaningful if we expand or move a VMA.
  if (!impliesNewAddr && newLen <= oldLen) return;
  // old_len 0 duplicates a shared mapping; for a private one it makes no sense.
  if (oldLen === 0 && !(vma.flags & (VM_SHARED | VM_MAYSHARE))) throw new Errno('EINVAL');
  if (flags & MREMAP_DONTUNMAP && vma.flags & (VM_DONTEXPAND | VM_PFNMAP)) throw new Errno('EINVAL');
  // We can't remap across vm area boundaries.
  if (oldLen > vma.end - addr) throw new Errno('EFAULT');
  if (newLen <= oldLen) return;
  if (vma.flags & (VM_DONTEXPAND | VM_PFNMAP)) throw new Errno('EFAULT');
}

/** vma_expandable: is the space after vma free for delta more bytes? */
function vma_expandable(mm: MmStruct, vma: VmArea, delta: number): boolean {
  const end = vma.end + delta;
  if (end < vma.end || end > TASK_SIZE) return false;
  const next = mm.vmas.find_vma(vma.end);
  return !next || next.start >= end;
}

/** mremap_to: MREMAP_FIXED or MREMAP_DONTUNMAP moves (the checks are done). */
function mremap_to(mm: MmStruct, addr: number, oldLen: number, newAddr: number, newLen: number, flags: number): number {
  if (flags & MREMAP_FIXED) do_munmap(mm, newAddr, newLen);
  if (oldLen > newLen) {
    do_munmap(mm, addr + newLen, oldLen - newLen);
    oldLen = newLen;
  }
  // Unmapping may have split the VMA: look it up again.
  const vma = mm.vmas.vma_lookup(addr);
  if (!vma) throw new Errno('EFAULT');
  let mapFlags = 0;
  if (flags & MREMAP_FIXED) mapFlags |= MAP_FIXED;
  if (vma.flags & VM_MAYSHARE) mapFlags |= MAP_SHARED;
  const pgoff = vma.pgoff + (addr - vma.start) / PAGE_SIZE;
  const dest = get_unmapped_area(mm, vma.file as MmapFile | null, newAddr, newLen, pgoff, mapFlags);
  return move_vma(mm, vma, addr, oldLen, newLen, dest, flags);
}

/**
 * move_vma: a new VMA at newAddr takes over the pages of [oldAddr, oldAddr+oldLen)
 * (their page-table entries move; no data is copied), then the old range is
 * unmapped unless MREMAP_DONTUNMAP.
 */
function move_vma(mm: MmStruct, vma: VmArea, oldAddr: number, oldLen: number, newLen: number, newAddr: number, flags: number): number {
  if (mm.vmas.map_count >= MAX_MAP_COUNT - 3) throw new Errno('ENOMEM');
  if (vma.vm_ops?.may_split) {
    if (vma.start !== oldAddr) vma.vm_ops.may_split(vma, oldAddr);
    if (vma.end !== oldAddr + oldLen) vma.vm_ops.may_split(vma, oldAddr + oldLen);
  }
  const pgoff = vma.pgoff + (oldAddr - vma.start) / PAGE_SIZE;
  const nv = new VmArea(newAddr, newAddr + newLen, vma.flags, pgoff, vma.file, vma.vm_ops, vma.policy);
  nv.private_data = vma.private_data;
  nv.anon_vma = vma.anon_vma;
  nv.vm_mm = mm;
  // The driver may refuse the move (dmemfs does): check before touching anything.
  vma.vm_ops?.mremap?.(nv);
  if (vma.file) {
    vma.file.get();
  }
  vma.vm_ops?.open?.(nv);
  move_page_tables(mm, vma, oldAddr, newAddr, oldLen);
  mm.vmas.insert(nv);
  // Linux ignores do_vmi_munmap's error here; with old_len 0 (duplicating a shared mapping) there is nothing to unmap.
  if (!(flags & MREMAP_DONTUNMAP) && oldLen > 0) do_munmap(mm, oldAddr, oldLen);
  return newAddr;
}

/** move_page_tables: move leaves; huge leaves whose new address is misaligned are split first. */
function move_page_tables(mm: MmStruct, vma: VmArea, oldAddr: number, newAddr: number, len: number): void {
  const pt = mm.pgtables;
  const delta = newAddr - oldAddr;
  // move_page_tables: the old range's translations go away (MMU_NOTIFY_UNMAP).
  mm.mmu_notifier_invalidate_range_start(oldAddr, oldAddr + len);
  const huge: [number, number][] = [];
  pt.for_each_leaf(oldAddr, oldAddr + len, (va, level) => {
    if (level > 1) huge.push([va, level]);
  });
  for (const [va, level] of huge) {
    const size = level === PUD_LEVEL ? PUD_SIZE : PMD_SIZE;
    // A huge leaf moves whole only if it lies inside the range and stays aligned.
    // (The model used to move a leaf that started before oldAddr whole, taking
    // along memory outside the range.)
    if ((va + delta) % size === 0 && va >= oldAddr && va + size <= oldAddr + len) continue;
    if (level === PUD_LEVEL) split_huge_pud(mm, vma, va);
    else if (level === PMD_LEVEL) split_huge_pmd(mm, vma, va);
  }
  const moved: [number, number, number][] = [];
  pt.for_each_leaf(oldAddr, oldAddr + len, (va, level, entry) => moved.push([va, level, entry]));
  for (const [va, level] of moved) pt.clear_leaf(va, level);
  for (const [va, level, entry] of moved) {
    if (!pt.set_leaf(va + delta, level, entry)) throw new Error('move_page_tables: out of page-table memory');
  }
}

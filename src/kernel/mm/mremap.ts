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

/** The mremap system call. Returns the (possibly new) address. */
export function do_mremap(mm: MmStruct, addr: number, oldLen: number, newLen: number, flags: number, newAddr: number): number {
  if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) throw new Errno('EINVAL');
  if (flags & MREMAP_FIXED && !(flags & MREMAP_MAYMOVE)) throw new Errno('EINVAL');
  if (flags & MREMAP_DONTUNMAP && (!(flags & MREMAP_MAYMOVE) || oldLen !== newLen)) throw new Errno('EINVAL');
  if (!isAligned(addr, PAGE_SIZE)) throw new Errno('EINVAL');
  oldLen = alignUp(oldLen, PAGE_SIZE);
  newLen = alignUp(newLen, PAGE_SIZE);
  if (newLen === 0) throw new Errno('EINVAL');
  const vma = mm.vmas.vma_lookup(addr);
  if (!vma) throw new Errno('EFAULT');
  if (vma.flags & VM_HUGETLB) throw new Errno('EINVAL');

  if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) return mremap_to(mm, addr, oldLen, newAddr, newLen, flags);

  // Always allow a shrinking remap: that just unmaps the unnecessary pages.
  if (oldLen >= newLen) {
    if (oldLen !== newLen) do_munmap(mm, addr + newLen, oldLen - newLen);
    return addr;
  }
  const v = vma_to_resize(mm, addr, oldLen, newLen, flags);
  if (oldLen === v.end - addr && vma_expandable(mm, v, newLen - oldLen)) {
    v.end += newLen - oldLen;
    return addr;
  }
  if (!(flags & MREMAP_MAYMOVE)) throw new Errno('ENOMEM');
  const pgoff = v.pgoff + (addr - v.start) / PAGE_SIZE;
  const dest = get_unmapped_area(mm, v.file as MmapFile | null, 0, newLen, pgoff, v.flags & VM_MAYSHARE ? MAP_SHARED : 0);
  return move_vma(mm, v, addr, oldLen, newLen, dest, flags);
}

/** vma_to_resize: the VMA at addr, if it may be resized from oldLen to newLen. */
function vma_to_resize(mm: MmStruct, addr: number, oldLen: number, newLen: number, flags: number): VmArea {
  const vma = mm.vmas.vma_lookup(addr);
  if (!vma) throw new Errno('EFAULT');
  // old_len 0 duplicates a shared mapping; for a private one it makes no sense.
  if (oldLen === 0 && !(vma.flags & (VM_SHARED | VM_MAYSHARE))) throw new Errno('EINVAL');
  if (flags & MREMAP_DONTUNMAP && vma.flags & (VM_DONTEXPAND | VM_PFNMAP)) throw new Errno('EINVAL');
  // We can't remap across vm area boundaries.
  if (oldLen > vma.end - addr) throw new Errno('EFAULT');
  if (newLen === oldLen) return vma;
  if (vma.flags & (VM_DONTEXPAND | VM_PFNMAP)) throw new Errno('EFAULT');
  return vma;
}

/** vma_expandable: is the space after vma free for delta more bytes? */
function vma_expandable(mm: MmStruct, vma: VmArea, delta: number): boolean {
  const end = vma.end + delta;
  if (end < vma.end || end > TASK_SIZE) return false;
  const next = mm.vmas.find_vma(vma.end);
  return !next || next.start >= end;
}

/** mremap_to: MREMAP_FIXED or MREMAP_DONTUNMAP moves. */
function mremap_to(mm: MmStruct, addr: number, oldLen: number, newAddr: number, newLen: number, flags: number): number {
  if (!isAligned(newAddr, PAGE_SIZE)) throw new Errno('EINVAL');
  if (newLen > TASK_SIZE || newAddr > TASK_SIZE - newLen) throw new Errno('EINVAL');
  // Ensure the old/new locations do not overlap.
  if (addr + oldLen > newAddr && newAddr + newLen > addr) throw new Errno('EINVAL');
  if (flags & MREMAP_FIXED) do_munmap(mm, newAddr, newLen);
  if (oldLen > newLen) {
    do_munmap(mm, addr + newLen, oldLen - newLen);
    oldLen = newLen;
  }
  const vma = vma_to_resize(mm, addr, oldLen, newLen, flags);
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
  if (!(flags & MREMAP_DONTUNMAP)) do_munmap(mm, oldAddr, oldLen);
  return newAddr;
}

/** move_page_tables: move leaves; huge leaves whose new address is misaligned are split first. */
function move_page_tables(mm: MmStruct, vma: VmArea, oldAddr: number, newAddr: number, len: number): void {
  const pt = mm.pgtables;
  const delta = newAddr - oldAddr;
  const huge: [number, number][] = [];
  pt.for_each_leaf(oldAddr, oldAddr + len, (va, level) => {
    if (level > 1) huge.push([va, level]);
  });
  for (const [va, level] of huge) {
    const size = level === PUD_LEVEL ? PUD_SIZE : PMD_SIZE;
    if ((va + delta) % size === 0 && va + size <= oldAddr + len) continue;
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

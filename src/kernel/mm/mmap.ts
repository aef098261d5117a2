/**
 * mmap and munmap (mm/mmap.c do_mmap, ksys_mmap_pgoff, __get_unmapped_area;
 * mm/vma.c __mmap_region, do_vmi_munmap). Checks are made in Linux's order so
 * each invalid call fails with Linux's errno and changes nothing.
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE, PMD_SIZE, alignUp, isAligned } from '../../lib/size.ts';
import {
  MAP_32BIT,
  MAP_ANONYMOUS,
  MAP_DENYWRITE,
  MAP_EXECUTABLE,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGE_1GB,
  MAP_HUGE_2MB,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NONBLOCK,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_STACK,
  MAP_TYPE,
  MAP_UNINITIALIZED,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from '../../uapi/mman.ts';
import { populate_range } from './gup.ts';
import { unmap_region } from './memory.ts';
import type { MmStruct } from './mm_types.ts';
import {
  VM_ACCOUNT,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_LOCKED,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_NORESERVE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  VmArea,
  type MappedFile,
} from './vm_area.ts';

/** Highest user address + 1 on x86-64 with 4-level paging (TASK_SIZE_MAX). */
export const TASK_SIZE = 0x7ffffffff000;
/** /proc/sys/vm/mmap_min_addr. */
export const MMAP_MIN_ADDR = 65536;
/** /proc/sys/vm/max_map_count. */
export const MAX_MAP_COUNT = 65530;

/** f_mode bits (include/linux/fs.h). */
export const FMODE_READ = 0x1;
export const FMODE_WRITE = 0x2;

/** What do_mmap needs of an open file. */
export interface MmapFile extends MappedFile {
  readonly f_mode: number;
  readonly f_op: {
    mmap?(file: never, vma: VmArea): void;
    get_unmapped_area?(file: never, addr: number, len: number, pgoff: number, flags: number, mm: MmStruct): number;
  };
}

/** calc_vm_prot_bits. */
export function calc_vm_prot_bits(prot: number): number {
  return (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);
}

/**
 * LEGACY_MAP_MASK (include/linux/mman.h): the flags every ->mmap implementation
 * implicitly supports, all that MAP_SHARED_VALIDATE accepts from a file without
 * FOP_MMAP_SYNC. MAP_FIXED_NOREPLACE and MAP_SYNC are not in it, so
 * MAP_SHARED_VALIDATE with either fails with EOPNOTSUPP, as on Linux.
 */
const LEGACY_MAP_MASK =
  MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE | MAP_EXECUTABLE | MAP_UNINITIALIZED |
  MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB | MAP_32BIT |
  MAP_HUGE_2MB | MAP_HUGE_1GB;

/**
 * __get_unmapped_area: the address for a new mapping. MAP_FIXED takes addr as
 * given; a file may choose (f_op.get_unmapped_area, e.g. for huge alignment);
 * large anonymous mappings are aligned to 2 MiB for THP (Linux ≥ 6.7).
 */
export function get_unmapped_area(mm: MmStruct, file: MmapFile | null, addr: number, len: number, pgoff: number, flags: number): number {
  if (len > TASK_SIZE) throw new Errno('ENOMEM');
  if (flags & MAP_FIXED) {
    if (addr > TASK_SIZE - len) throw new Errno('ENOMEM');
    if (!isAligned(addr, PAGE_SIZE)) throw new Errno('EINVAL');
    return addr;
  }
  if (file?.f_op.get_unmapped_area) {
    return file.f_op.get_unmapped_area(file as never, addr, len, pgoff, flags, mm);
  }
  const align = !file && addr === 0 && isAligned(len, PMD_SIZE) ? PMD_SIZE : PAGE_SIZE;
  const hint = addr > 0 ? Math.max(alignUp(addr, PAGE_SIZE), MMAP_MIN_ADDR) : 0;
  return mm.vmas.get_unmapped_area(len, hint, flags, align);
}

/**
 * do_mmap (with ksys_mmap_pgoff's and sys_mmap's checks): returns the mapping's
 * address or throws Errno. `shmemZeroSetup` gives a MAP_SHARED|MAP_ANONYMOUS VMA its shmem file.
 *
 * The checks run in Linux's order: length, offset overflow, map count, then the
 * address (__get_unmapped_area: ENOMEM/EINVAL for a bad MAP_FIXED address),
 * MAP_FIXED_NOREPLACE, and only then the mapping type and the file's access
 * mode. (The model used to check the type and file first, so e.g. a MAP_FIXED
 * mapping past TASK_SIZE of a read-only file failed with EACCES, not ENOMEM.)
 */
export function do_mmap(
  mm: MmStruct,
  file: MmapFile | null,
  addr: number,
  len: number,
  prot: number,
  flags: number,
  offset: number,
  shmemZeroSetup: (vma: VmArea) => void,
): number {
  // sys_mmap: offset_in_page(off) → EINVAL (the caller checked it before fget, too).
  if (!isAligned(offset, PAGE_SIZE) || offset < 0) throw new Errno('EINVAL');
  if (len === 0) throw new Errno('EINVAL');
  const plen = alignUp(len, PAGE_SIZE);
  let pgoff = offset / PAGE_SIZE;
  // offset overflow?
  if (pgoff + plen / PAGE_SIZE > Number.MAX_SAFE_INTEGER / PAGE_SIZE) throw new Errno('EOVERFLOW');
  if (mm.vmas.map_count > MAX_MAP_COUNT) throw new Errno('ENOMEM');

  let vmFlags = calc_vm_prot_bits(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (flags & MAP_LOCKED) vmFlags |= VM_LOCKED;
  if (flags & MAP_GROWSDOWN) vmFlags |= VM_GROWSDOWN;
  // force arch specific MAP_FIXED handling in get_unmapped_area
  const gflags = flags & MAP_FIXED_NOREPLACE ? flags | MAP_FIXED : flags;
  const start = get_unmapped_area(mm, file, addr, plen, pgoff, gflags);
  if (flags & MAP_FIXED_NOREPLACE && mm.vmas.find_vma_intersection(start, start + plen)) throw new Errno('EEXIST');

  const type = flags & MAP_TYPE;
  if (file) {
    if (type !== MAP_SHARED && type !== MAP_SHARED_VALIDATE && type !== MAP_PRIVATE) throw new Errno('EINVAL');
    if (type !== MAP_PRIVATE) {
      // MAP_SHARED silently drops unknown flags; MAP_SHARED_VALIDATE refuses them.
      if (type === MAP_SHARED_VALIDATE && flags & ~LEGACY_MAP_MASK) throw new Errno('EOPNOTSUPP');
      if (prot & PROT_WRITE && !(file.f_mode & FMODE_WRITE)) throw new Errno('EACCES');
      vmFlags |= VM_SHARED | VM_MAYSHARE;
      if (!(file.f_mode & FMODE_WRITE)) vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
    }
    // The MAP_PRIVATE checks apply to shared mappings too (the switch falls through in Linux).
    if (!(file.f_mode & FMODE_READ)) throw new Errno('EACCES');
    if (!file.f_op.mmap) throw new Errno('ENODEV');
    if (vmFlags & VM_GROWSDOWN) throw new Errno('EINVAL');
  } else {
    // Anonymous memory knows MAP_SHARED and MAP_PRIVATE only: MAP_SHARED_VALIDATE is EINVAL here.
    switch (type) {
      case MAP_SHARED:
        if (vmFlags & VM_GROWSDOWN) throw new Errno('EINVAL');
        pgoff = 0;
        vmFlags |= VM_SHARED | VM_MAYSHARE;
        break;
      case MAP_PRIVATE:
        pgoff = start / PAGE_SIZE;
        break;
      default:
        throw new Errno('EINVAL');
    }
  }
  if (flags & MAP_NORESERVE) vmFlags |= VM_NORESERVE;
  return mmap_region(mm, file, start, plen, vmFlags, pgoff, shmemZeroSetup);
}

/**
 * vm_mmap_pgoff: do_mmap, then MAP_POPULATE's mm_populate, whose errors are
 * ignored (the mapping exists; later accesses fault).
 */
export function vm_mmap_pgoff(
  mm: MmStruct,
  file: MmapFile | null,
  addr: number,
  len: number,
  prot: number,
  flags: number,
  offset: number,
  shmemZeroSetup: (vma: VmArea) => void,
): number {
  const start = do_mmap(mm, file, addr, len, prot, flags, offset, shmemZeroSetup);
  if (flags & MAP_POPULATE) {
    try {
      populate_range(mm, start, start + alignUp(len, PAGE_SIZE), 'mmap');
    } catch (e) {
      if (!(e instanceof Errno)) throw e;
    }
  }
  return start;
}

/** __mmap_region: replace whatever is at [addr, addr+len) with a new VMA. */
function mmap_region(
  mm: MmStruct,
  file: MmapFile | null,
  addr: number,
  len: number,
  vmFlags: number,
  pgoff: number,
  shmemZeroSetup: (vma: VmArea) => void,
): number {
  const end = addr + len;
  if (mm.vmas.find_vma_intersection(addr, end)) do_munmap(mm, addr, len);
  // accountable_mapping: private writable memory is committed (VM_ACCOUNT).
  if (!(vmFlags & (VM_SHARED | VM_NORESERVE)) && vmFlags & VM_WRITE) vmFlags |= VM_ACCOUNT;
  // security_vm_enough_memory_mm(): the overcommit policy (kernel/mm/overcommit.ts).
  if (vmFlags & VM_ACCOUNT && mm.kmem.vm_enough_memory && !mm.kmem.vm_enough_memory(len / PAGE_SIZE)) throw new Errno('ENOMEM');

  if (!file && !(vmFlags & VM_SHARED)) {
    const merged = mm.vmas.vma_merge_new_range(undefined, undefined, addr, end, vmFlags, null, pgoff, null, null);
    if (merged) return addr;
  }
  // The VMA holds its own reference to the file from before ->mmap runs, as in Linux.
  const vma = new VmArea(addr, end, vmFlags, pgoff, file ? (file.get(), file) : null, null, null);
  // vm_area_alloc sets vm_mm before ->mmap runs; remap_pfn_range in ->mmap needs it.
  vma.vm_mm = mm;
  if (file) {
    try {
      file.f_op.mmap!(file as never, vma);
    } catch (e) {
      // unmap_and_free_vma: whatever ->mmap mapped goes, with its page tables.
      mm.pgtables.zap_range(addr, end, null, true);
      vma.file?.fput();
      throw e;
    }
    if (vma.start !== addr || vma.end !== end) throw new Error('BUG: ->mmap changed the VMA range');
  } else if (vmFlags & VM_SHARED) {
    shmemZeroSetup(vma);
  }
  mm.vmas.insert(vma);
  return addr;
}

/** Detach one whole VMA from the mm and release what it held (remove_vma). */
export function remove_vma(mm: MmStruct, vma: VmArea): void {
  unmap_region(mm, vma, vma.start, vma.end);
  mm.vmas.remove(vma);
  vma.vm_ops?.close?.(vma);
  vma.file?.fput();
}

/**
 * do_vmi_munmap: unmap [start, start+len), splitting VMAs at the edges first
 * (which a driver may refuse through may_split, and which can exceed
 * max_map_count → ENOMEM), so that a failure leaves everything mapped.
 */
export function do_munmap(mm: MmStruct, start: number, len: number): void {
  if (!isAligned(start, PAGE_SIZE) || start > TASK_SIZE || len > TASK_SIZE - start) throw new Errno('EINVAL');
  const plen = alignUp(len, PAGE_SIZE);
  if (plen === 0) throw new Errno('EINVAL');
  const end = start + plen;
  const first = mm.vmas.find_vma(start);
  if (!first || first.start >= end) return;
  // The last VMA overlapping the range (find_vma(end - 1) is null when the range
  // runs past the last VMA, which the model used to dereference).
  const after = mm.vmas.find_vma_prev(end);
  const last = after.vma && after.vma.start < end ? after.vma : after.prev!;
  // Check both splits before making either, so a refusal changes nothing.
  const splitStart = first.start < start;
  const splitEnd = last.start < end && last.end > end;
  if (splitStart) first.vm_ops?.may_split?.(first, start);
  if (splitEnd) last.vm_ops?.may_split?.(last, end);
  if (mm.vmas.map_count + (splitStart ? 1 : 0) + (splitEnd ? 1 : 0) > MAX_MAP_COUNT) throw new Errno('ENOMEM');
  if (splitStart) mm.vmas.split_vma(first, start, true);
  if (splitEnd) mm.vmas.split_vma(mm.vmas.find_vma(end - 1)!, end, true);
  for (const vma of [...mm.vmas.vmas_in(start, end)]) remove_vma(mm, vma);
}

/**
 * madvise (mm/madvise.c do_madvise, madvise_walk_vmas, madvise_vma_behavior,
 * madvise_dontneed_free, madvise_remove; mm/huge_memory.c hugepage_madvise).
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE, alignUp, isAligned } from '../../lib/size.ts';
import {
  MADV_COLD,
  MADV_DODUMP,
  MADV_DOFORK,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_HUGEPAGE,
  MADV_KEEPONFORK,
  MADV_MERGEABLE,
  MADV_NOHUGEPAGE,
  MADV_NORMAL,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_RANDOM,
  MADV_REMOVE,
  MADV_SEQUENTIAL,
  MADV_UNMERGEABLE,
  MADV_WILLNEED,
  MADV_WIPEONFORK,
} from '../../uapi/mman.ts';
import { populate_range } from './gup.ts';
import { vma_adjust_trans_huge } from './huge_memory.ts';
import { zap_page_range_single } from './memory.ts';
import type { MmStruct } from './mm_types.ts';
import {
  VM_DONTCOPY,
  VM_DONTDUMP,
  VM_HUGEPAGE,
  VM_HUGETLB,
  VM_IO,
  VM_LOCKED,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_NOHUGEPAGE,
  VM_PFNMAP,
  VM_RAND_READ,
  VM_SEQ_READ,
  VM_SHARED,
  VM_SPECIAL,
  VM_WIPEONFORK,
  type MappedFile,
  type VmArea,
} from './vm_area.ts';

const VALID = new Set([
  MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, MADV_DONTNEED_LOCKED, MADV_FREE,
  MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT,
  MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE,
  MADV_DONTDUMP, MADV_DODUMP,
]);

/** Punches a hole in a mapped file (vfs_fallocate with PUNCH_HOLE|KEEP_SIZE), for MADV_REMOVE. */
export type PunchHole = (file: MappedFile, offset: number, len: number) => void;

/**
 * do_madvise. MADV_HWPOISON and MADV_SOFT_OFFLINE are not accepted yet: memory
 * failure arrives with a later issue, so they fail with EINVAL as on a kernel
 * built without CONFIG_MEMORY_FAILURE.
 */
export function do_madvise(mm: MmStruct, start: number, lenIn: number, behavior: number, punchHole: PunchHole): void {
  if (!VALID.has(behavior)) throw new Errno('EINVAL');
  if (!isAligned(start, PAGE_SIZE)) throw new Errno('EINVAL');
  const len = alignUp(lenIn, PAGE_SIZE);
  const end = start + len;
  if (end < start) throw new Errno('EINVAL');
  if (end === start) return;

  let unmappedError = false;
  let cur = start;
  while (cur < end) {
    const vma = mm.vmas.find_vma(cur);
    if (!vma || vma.start >= end) {
      unmappedError = true;
      break;
    }
    if (cur < vma.start) {
      unmappedError = true;
      cur = vma.start;
    }
    const tmp = Math.min(end, vma.end);
    madvise_vma_behavior(mm, vma, cur, tmp, behavior, punchHole);
    cur = tmp;
  }
  if (unmappedError) throw new Errno('ENOMEM');
}

function madvise_vma_behavior(mm: MmStruct, vma: VmArea, start: number, end: number, behavior: number, punchHole: PunchHole): void {
  let nf = vma.flags;
  switch (behavior) {
    case MADV_REMOVE:
      return madvise_remove(vma, start, end, punchHole);
    case MADV_WILLNEED:
    case MADV_COLD:
    case MADV_PAGEOUT:
      return; // no readahead or reclaim in the model: hints with nothing to do
    case MADV_FREE:
      // Lazy free: pages go only under memory pressure, which the model never applies.
      if (!vma.isAnonymous()) throw new Errno('EINVAL');
      if (vma.flags & (VM_PFNMAP | VM_LOCKED)) throw new Errno('EINVAL');
      return;
    case MADV_DONTNEED:
    case MADV_DONTNEED_LOCKED: {
      let forbidden = VM_PFNMAP;
      if (behavior !== MADV_DONTNEED_LOCKED) forbidden |= VM_LOCKED;
      if (!(vma.flags & VM_HUGETLB) && vma.flags & forbidden) throw new Errno('EINVAL');
      if (vma.flags & VM_HUGETLB) {
        // madvise_dontneed_free_valid_vma: an aligned start; the end is rounded down to whole huge pages.
        const hsize = vma.vm_ops?.pagesize?.(vma) ?? PAGE_SIZE;
        if (start % hsize) throw new Errno('EINVAL');
        end -= end % hsize;
      }
      zap_page_range_single(mm, vma, start, end);
      return;
    }
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE:
      populate_range(mm, start, end, behavior === MADV_POPULATE_WRITE);
      return;
    case MADV_NORMAL:
      nf &= ~(VM_RAND_READ | VM_SEQ_READ);
      break;
    case MADV_SEQUENTIAL:
      nf = (nf & ~VM_RAND_READ) | VM_SEQ_READ;
      break;
    case MADV_RANDOM:
      nf = (nf & ~VM_SEQ_READ) | VM_RAND_READ;
      break;
    case MADV_DONTFORK:
      nf |= VM_DONTCOPY;
      break;
    case MADV_DOFORK:
      if (vma.flags & VM_IO) throw new Errno('EINVAL');
      nf &= ~VM_DONTCOPY;
      break;
    case MADV_WIPEONFORK:
      if (vma.file || vma.flags & VM_SHARED) throw new Errno('EINVAL');
      nf |= VM_WIPEONFORK;
      break;
    case MADV_KEEPONFORK:
      if (vma.flags & VM_DONTCOPY) break;
      nf &= ~VM_WIPEONFORK;
      break;
    case MADV_DONTDUMP:
      nf |= VM_DONTDUMP;
      break;
    case MADV_DODUMP:
      if (!(vma.flags & VM_HUGETLB) && nf & VM_SPECIAL) throw new Errno('EINVAL');
      nf &= ~VM_DONTDUMP;
      break;
    case MADV_MERGEABLE:
    case MADV_UNMERGEABLE:
      return; // KSM is not modelled: the advice is accepted (as with CONFIG_KSM) but nothing is ever merged
    case MADV_HUGEPAGE:
      nf = (nf & ~VM_NOHUGEPAGE) | VM_HUGEPAGE;
      break;
    case MADV_NOHUGEPAGE:
      nf = (nf & ~VM_HUGEPAGE) | VM_NOHUGEPAGE;
      break;
  }
  if (nf === vma.flags) return;
  // madvise_update_vma splits or merges the VMA: split huge entries across the new boundaries first.
  vma_adjust_trans_huge(mm, vma, start, end);
  mm.vmas.vma_modify(vma, start, end, { flags: nf });
}

/** madvise_remove: free the file's backing store for the range (shared writable file mappings only). */
function madvise_remove(vma: VmArea, start: number, end: number, punchHole: PunchHole): void {
  if (vma.flags & VM_LOCKED) throw new Errno('EINVAL');
  if (!vma.file) throw new Errno('EINVAL');
  if ((vma.flags & (VM_MAYSHARE | VM_MAYWRITE)) !== (VM_MAYSHARE | VM_MAYWRITE)) throw new Errno('EACCES');
  const offset = (start - vma.start) + vma.pgoff * PAGE_SIZE;
  punchHole(vma.file, offset, end - start);
}

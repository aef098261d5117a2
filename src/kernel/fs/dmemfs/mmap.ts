/**
 * Mapping dmemfs files (fs/dmemfs/inode.c: dmemfs_file_mmap,
 * dmemfs_get_unmapped_area, dmemfs_vm_ops with dmemfs_fault, dmemfs_huge_fault,
 * __dmemfs_fault, __dmemfs_pmd_fault, __dmemfs_huge_fault (PUD, RFC V2 28/37),
 * dmemfs_split, dmem_addr_to_pfn; mm/mprotect.c and mm/mremap.c's VM_DMEM checks
 * from "kvm, x86: introduce VM_DMEM for syscall support usage").
 *
 * Two ways to map, chosen per mount with mapping=:
 *  - fault (the original): entries appear on demand, as large as the dpage
 *    (PTE for 4K, PMD for 2M, PUD for 1G), raw pfns with no struct page;
 *  - remap (the reviewers' question, "why not remap_pfn_range + VM_PFNMAP like
 *    /dev/mem?"): every dpage of the range is allocated and mapped with 4K
 *    PTEs at mmap time; the VMA has no fault handler but SIGBUS.
 */
import { Errno } from '../../../lib/errno.ts';
import { PAGE_SIZE, PMD_SIZE, PUD_SIZE, alignUp, isAligned } from '../../../lib/size.ts';
import { MAP_FIXED } from '../../../uapi/mman.ts';
import { vmf_insert_pfn, vmf_insert_pfn_huge, zap_page_range_single } from '../../mm/memory.ts';
import type { MmStruct } from '../../mm/mm_types.ts';
import { MMAP_MIN_ADDR, TASK_SIZE } from '../../mm/mmap.ts';
import { PMD_LEVEL, PUD_LEVEL, _PAGE_SPECIAL, mk_entry } from '../../mm/pgtable.ts';
import type { PtPage } from '../../mm/pgtable_core.ts';
import { vm_page_prot } from '../../mm/page_prot.ts';
import { get_vma_policy } from '../../mm/mempolicy.ts';
import { MPOL_INTERLEAVE } from '../../../uapi/mman.ts';
import { remap_pfn_range } from '../../mm/remap.ts';
import {
  VM_DONTCOPY,
  VM_FAULT_FALLBACK,
  VM_FAULT_SIGBUS,
  VM_HUGEPAGE,
  VM_IO,
  VM_PFNMAP,
  VM_SHARED,
  type VmArea,
  type VmFault,
  type VmOperations,
} from '../../mm/vm_area.ts';
import type { File } from '../vfs/file.ts';
import type { Inode } from '../vfs/inode.ts';
import { file_accessed } from '../vfs/read_write.ts';
import { DMEMFS_I, DMEMFS_SB, dmem_page_size } from './dmemfs_fs.ts';
import { MAX_PGOFF, dmemfs_fill_range, dmemfs_insert_run, dmemfs_undo_fill, radix_get_create_entry } from './dpages.ts';
import { NO_DPAGE } from './extent.ts';

/** The inode a dmemfs VMA maps. */
function vma_inode(vma: VmArea): Inode {
  return (vma.file as File).f_inode;
}

/**
 * dmem_addr_to_pfn(): the frame for 4K page `pgoff` of the file inside the dpage
 * at `phys`, rounded down to the fault's size (2^fault_shift bytes).
 */
function dmem_addr_to_pfn(inode: Inode, phys: number, pgoff: number, fault_size: number): number {
  const per = DMEMFS_SB(inode).pagesPerDpage;
  // 4K dpages: the frame is the dpage (and no float modulo on the hot path).
  if (per === 1) return phys / PAGE_SIZE;
  const within = pgoff % DMEMFS_SB(inode).pagesPerDpage;
  const step = fault_size / PAGE_SIZE;
  return phys / PAGE_SIZE + within - (within % step);
}

/** __dmemfs_fault(): a 4K PTE onto the right 4K frame of the dpage. */
function __dmemfs_fault(vmf: VmFault): number {
  const vma = vmf.vma;
  const inode = vma_inode(vma);
  const mm = vma.vm_mm as MmStruct;
  const phys = radix_get_create_entry(mm, vma, vmf.address, inode, vmf.pgoff);
  // The original returned the raw -errno here as a vm_fault_t; SIGBUS is what it meant.
  if (phys < 0) return VM_FAULT_SIGBUS;
  const pfn = dmem_addr_to_pfn(inode, phys, vmf.pgoff, PAGE_SIZE);
  // A dpage with a hardware error is mapped like any other: its bad frame is a machine check when touched (mce.ts).
  return vmf_insert_pfn(mm, vma, vmf.address, pfn);
}

/**
 * __dmemfs_pmd_fault() / __dmemfs_huge_fault(): one PMD or PUD entry for the
 * dpage. A fault size other than the mount's dpage size falls back (the original
 * fell back only when the dpage was smaller, so a 1G mount could also be mapped
 * with PMDs; here a 1G file is mapped with PUDs or, if those cannot be used, 4K).
 */
function __dmemfs_huge_fault(vmf: VmFault, size: number, level: number): number {
  const vma = vmf.vma;
  const inode = vma_inode(vma);
  if (dmem_page_size(inode) !== size) return VM_FAULT_FALLBACK;
  const mm = vma.vm_mm as MmStruct;
  // vmf.address is already aligned down to the fault size, which is the dpage size.
  const pgoff = vma.pgoffOf(vmf.address);
  // If the entry would extend beyond the file size, fall back to 4K faults, as
  // dax_iomap_pmd_fault does: write(2) (ours) can leave i_size inside a dpage,
  // and a PMD/PUD there would map whole pages past EOF (the original could not
  // meet this: only truncate set i_size, always to whole dpages).
  if (pgoff + size / PAGE_SIZE > Math.ceil(inode.i_size / PAGE_SIZE)) return VM_FAULT_FALLBACK;
  const phys = radix_get_create_entry(mm, vma, vmf.address, inode, pgoff);
  if (phys < 0) return VM_FAULT_SIGBUS;
  return vmf_insert_pfn_huge(mm, vma, vmf.address, phys / PAGE_SIZE, level);
}

/**
 * The model's batch of __dmemfs_fault (VmOperations.fault_run) for 4K dpages:
 * pages mapped in order, each as its own fault would (radix_get_create_entry,
 * then vmf_insert_pfn into the none slot), with the dpages a stretch of
 * consecutive faults would allocate one by one taken in one pool call. That is
 * the same allocation: each single call takes the first free dpage at or after
 * the region's hint, so n of them take the same dpages as one call for n, up to
 * the first one in use, where the next call goes on. Only for
 * max_alloc_try_dpages=1 (the default; larger values give different splits),
 * policies that do not depend on the address (not interleave), and a pool with
 * no hardware error (so no fault would stop at a poisoned dpage after its
 * allocation). Stops at EOF and when the pool runs dry: the caller's general
 * path then gives the SIGBUS.
 */
function dmemfs_fault_run(vma: VmArea, pt: PtPage, i0: number, addr: number, n: number): number {
  const inode = vma_inode(vma);
  const fsi = DMEMFS_SB(inode);
  const pool = fsi.deps.pool;
  const mm = vma.vm_mm as MmStruct;
  if (!(vma.flags & VM_SHARED) || fsi.pagesPerDpage !== 1 || fsi.deps.params.max_alloc_try_dpages !== 1 || !pool.has_errors || pool.has_errors()) return 0;
  if (get_vma_policy(mm, vma)?.mode === MPOL_INTERLEAVE) return 0;
  const pgoff = vma.pgoffOf(addr);
  // check_inode_size(): page p is inside the file while p * PAGE_SIZE < i_size.
  const end = Math.min(pgoff + n, Math.ceil(inode.i_size / PAGE_SIZE), Math.floor((vma.end - addr) / PAGE_SIZE) + pgoff);
  if (end - 1 > MAX_PGOFF) return 0;
  const table = DMEMFS_I(inode).dpages;
  const prot = vm_page_prot(vma, (vma.flags & VM_SHARED) !== 0) | _PAGE_SPECIAL;
  const pgt = mm.pgtables;
  let p = pgoff;
  while (p < end) {
    const phys = table.lookup(p);
    if (phys === NO_DPAGE) {
      // The faults up to the next dpage the file has each allocate one: take them at once.
      const want = table.next(p + 1, end) - p;
      const run = pool.dmem_alloc_pages_vma(mm, vma, addr + (p - pgoff) * PAGE_SIZE, want);
      if (!run) break;
      dmemfs_insert_run(inode, p, run);
      for (let j = 0; j < run.nr; j++, p++) pgt.set_pte(pt, i0 + p - pgoff, mk_entry(run.phys / PAGE_SIZE + j, prot));
      continue;
    }
    pgt.set_pte(pt, i0 + p - pgoff, mk_entry(phys / PAGE_SIZE, prot));
    p++;
  }
  return p - pgoff;
}

/** dmemfs_huge_fault(): by entry size (order 0 is the 4K fault). */
function dmemfs_huge_fault(vmf: VmFault, order: number): number {
  switch (order) {
    case 0:
      return __dmemfs_fault(vmf);
    case 9:
      return __dmemfs_huge_fault(vmf, PMD_SIZE, PMD_LEVEL);
    case 18:
      return __dmemfs_huge_fault(vmf, PUD_SIZE, PUD_LEVEL);
    default:
      return VM_FAULT_SIGBUS;
  }
}

/** dmemfs_fault(). */
function dmemfs_fault(vmf: VmFault): number {
  return dmemfs_huge_fault(vmf, 0);
}

/** dmemfs_split(): a VMA splits only at a dpage boundary (munmap, mprotect, mremap). */
function dmemfs_split(vma: VmArea, addr: number): void {
  if (!isAligned(addr, dmem_page_size(vma_inode(vma)))) throw new Errno('EINVAL');
}

/** VM_DMEM in vma_to_resize(): dmemfs mappings cannot be moved or resized. */
function dmemfs_mremap(): void {
  throw new Errno('EINVAL');
}

/**
 * VM_DMEM in mprotect_fixup(): dmemfs cannot make its memory read-only, so any
 * real change of flags is EINVAL (asking for what the VMA already has succeeds).
 */
function dmemfs_mprotect(vma: VmArea, _start: number, _end: number, newflags: number): void {
  if (newflags !== vma.flags) throw new Errno('EINVAL');
}

/** dmemfs_vm_ops (.pagesize and .access are not modelled). */
export const dmemfs_vm_ops: VmOperations = {
  name: 'dmemfs',
  pagesize: (vma) => dmem_page_size(vma_inode(vma)),
  may_split: dmemfs_split,
  mremap: dmemfs_mremap,
  mprotect: dmemfs_mprotect,
  fault: dmemfs_fault,
  huge_fault: dmemfs_huge_fault,
  fault_run: dmemfs_fault_run,
};

/** mapping=remap: everything was mapped at mmap time; any fault is past EOF or after a truncate. */
export const dmemfs_remap_vm_ops: VmOperations = {
  name: 'dmemfs',
  may_split: dmemfs_split,
  mremap: dmemfs_mremap,
  mprotect: dmemfs_mprotect,
  fault: () => VM_FAULT_SIGBUS,
};

/**
 * dmemfs_file_mmap(). EINVAL for an offset that is not dpage aligned and for a
 * mapping without VM_SHARED — which includes MAP_SHARED of a file opened
 * read-only, since do_mmap drops VM_SHARED there, as the original's check did.
 * The VMA becomes VM_PFNMAP|VM_DONTCOPY|VM_IO (the original's VM_DMEM is not a
 * flag here: its effects are dmemfs_mremap and dmemfs_mprotect), plus
 * VM_HUGEPAGE for dpages above 4K. The original did not set VM_DONTEXPAND.
 */
export function dmemfs_file_mmap(file: File, vma: VmArea): void {
  const inode = file.f_inode;
  const size = dmem_page_size(inode);
  // Ours: the model's do_mmap takes MAP_FIXED addresses without asking
  // ->get_unmapped_area, so its address and length checks are repeated here.
  if (!isAligned(vma.start, size) || !isAligned(vma.size, size)) throw new Errno('EINVAL');
  if (vma.pgoff % DMEMFS_SB(inode).pagesPerDpage) throw new Errno('EINVAL');
  if (!(vma.flags & VM_SHARED)) throw new Errno('EINVAL');
  vma.flags |= VM_PFNMAP | VM_DONTCOPY | VM_IO;
  if (DMEMFS_SB(inode).mapping === 'remap') {
    dmemfs_remap_mmap(file, vma);
    file_accessed(file);
    return;
  }
  if (size !== PAGE_SIZE) vma.flags |= VM_HUGEPAGE;
  file_accessed(file);
  vma.vm_ops = dmemfs_vm_ops;
}

/**
 * mapping=remap: allocate every missing dpage of the mapped range below EOF (the
 * rest of the range stays unmapped: SIGBUS) and map it with remap_pfn_range,
 * one call per physically contiguous run. If anything fails the mmap fails with
 * ENOMEM and leaves nothing behind: no entries, no dpages it allocated.
 */
function dmemfs_remap_mmap(file: File, vma: VmArea): void {
  const inode = file.f_inode;
  const fsi = DMEMFS_SB(inode);
  // vm_area_alloc() sets vma->vm_mm before ->mmap; the model sets it after, so use current->mm.
  const mm = (vma.vm_mm as MmStruct | null) ?? fsi.deps.current_mm();
  if (!mm) throw new Error('BUG: dmemfs mmap without an mm');
  const size = fsi.dpage_size;
  const first = vma.pgoff / fsi.pagesPerDpage;
  const last = Math.min(first + vma.size / size, Math.ceil(inode.i_size / size));
  const added: [number, number][] = [];
  const addrOf = (index: number): number => vma.start + (index - first) * size;
  try {
    dmemfs_fill_range(inode, first, last, added, (index, try_max) => fsi.deps.pool.dmem_alloc_pages_vma(mm, vma, addrOf(index), try_max));
    let runIdx = -1;
    let runPhys = -1;
    let runNr = 0;
    const flush = (): void => {
      if (runNr > 0) remap_pfn_range(mm, vma, addrOf(runIdx), runPhys / PAGE_SIZE, runNr * size);
    };
    DMEMFS_I(inode).dpages.forEach(first, last, (index, phys) => {
      if (runNr > 0 && index === runIdx + runNr && phys === runPhys + runNr * size) {
        runNr++;
        return;
      }
      flush();
      runIdx = index;
      runPhys = phys;
      runNr = 1;
    });
    flush();
  } catch (e) {
    if (!(e instanceof Errno)) throw e;
    zap_page_range_single(mm, vma, vma.start, vma.end);
    dmemfs_undo_fill(inode, added);
    throw new Errno('ENOMEM');
  }
  vma.vm_ops = dmemfs_remap_vm_ops;
}

/**
 * dmemfs_get_unmapped_area(): the length must be whole dpages (a huge mapping
 * cannot fall back to smaller faults), a MAP_FIXED address dpage aligned; other
 * addresses come from a search for len + one dpage, rounded up to the dpage, as
 * the original padded mm->get_unmapped_area rather than ask for alignment.
 */
export function dmemfs_get_unmapped_area(file: File, addr: number, len: number, _pgoff: number, flags: number, mm: MmStruct): number {
  const align = dmem_page_size(file.f_inode);
  // For pud or pmd pagesize, could not support fault fallback.
  if (!isAligned(len, align)) throw new Errno('EINVAL');
  if (len > TASK_SIZE) throw new Errno('ENOMEM');
  if (flags & MAP_FIXED) {
    if (!isAligned(addr, align)) throw new Errno('EINVAL');
    return addr;
  }
  // Pad one dpage so the area found can be aligned up inside itself.
  const len_pad = align === PAGE_SIZE ? len : len + align;
  const hint = addr > 0 ? Math.max(alignUp(addr, PAGE_SIZE), MMAP_MIN_ADDR) : 0;
  const found = mm.vmas.get_unmapped_area(len_pad, hint, flags);
  return alignUp(found, align);
}

/**
 * A hardware error in a dpage that a file holds (the DMEMFS series' MCE path,
 * "[PATCH 31/35] dmem: introduce mce handler" and dmemfs_find_inode /
 * dmemfs_kill_processes in fs/dmemfs/inode.c): find the file and offset that
 * own the dpage by scanning every inode, then signal every task mapping it.
 *
 * As in the original, the mapping stays: there is no struct page to mark, and
 * the rest of the dpage is good memory. Touching the bad frame again is a
 * machine check (kernel/mce.ts): SIGBUS BUS_MCEERR_AR for that 4K, and a
 * guest's access becomes a machine check for the guest. (An earlier version
 * of the model unmapped the whole dpage and refused to map it again; with a
 * VM on it that turned the guest's next touch into KVM_RUN failing with
 * EFAULT — a PFNMAP fault reports no poison — and, with 1G dpages, killed
 * the VMM at its next access anywhere in the GiB.)
 */
import { PAGE_SIZE, alignDown, ilog2 } from '../../../lib/size.ts';
import type { MmStruct } from '../../mm/mm_types.ts';
import type { VmArea } from '../../mm/vm_area.ts';
import type { Inode } from '../vfs/inode.ts';
import { isReg } from '../vfs/inode.ts';
import { DMEMFS_I, type DmemfsSbInfo } from './dmemfs_fs.ts';

/** One mapping of the bad frame: who maps it, where, and the size of the entry (log2) there now. */
export interface DmemMapper {
  mm: MmStruct;
  vma: VmArea;
  /** The poisoned 4K frame's user address. */
  addr: number;
  /** si_addr_lsb: log2 of the mapping's entry size (the dpage size when not mapped yet). */
  lsb: number;
}

/** dmemfs_find_inode: the file and dpage index that hold the dpage at phys, if any. */
function find_owner(mounts: Iterable<DmemfsSbInfo>, phys: number): { inode: Inode; index: number; fsi: DmemfsSbInfo } | null {
  for (const fsi of mounts) {
    const dpage = alignDown(phys, fsi.dpage_size);
    for (const inode of fsi.inodes) {
      if (!isReg(inode)) continue;
      let found = -1;
      DMEMFS_I(inode).dpages.forEach(0, Number.MAX_SAFE_INTEGER, (index, p) => {
        if (found < 0 && p === dpage) found = index;
      });
      if (found >= 0) return { inode, index: found, fsi };
    }
  }
  return null;
}

/**
 * Handle an error at pfn inside an allocated dpage: returns every mapping of the
 * bad frame, for the caller to signal. An empty list means no file maps it (or
 * no file holds it).
 */
export function dmemfs_memory_failure(mounts: Iterable<DmemfsSbInfo>, pfn: number): DmemMapper[] {
  const owner = find_owner(mounts, pfn * PAGE_SIZE);
  if (!owner) return [];
  const { inode, index, fsi } = owner;
  const pagesPerDpage = fsi.pagesPerDpage;
  const firstPgoff = index * pagesPerDpage;
  const badPgoff = firstPgoff + (pfn - alignDown(pfn * PAGE_SIZE, fsi.dpage_size) / PAGE_SIZE);
  const out: DmemMapper[] = [];
  for (const vma of inode.i_mapping.i_mmap) {
    const mm = vma.vm_mm as MmStruct | null;
    if (!mm) continue;
    const vmaPages = vma.size / PAGE_SIZE;
    if (badPgoff < vma.pgoff || badPgoff >= vma.pgoff + vmaPages) continue;
    const addr = vma.start + (badPgoff - vma.pgoff) * PAGE_SIZE;
    mm.pgtables.walk(addr);
    const level = mm.pgtables.lastLevel;
    const lsb = level >= 1 && level <= 3 ? 12 + 9 * (level - 1) : ilog2(fsi.dpage_size);
    out.push({ mm, vma, addr, lsb });
  }
  return out;
}

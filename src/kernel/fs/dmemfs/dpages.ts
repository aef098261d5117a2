/**
 * Getting dpages into and out of a dmemfs file (fs/dmemfs/inode.c:
 * radix_get_create_entry, check_inode_size, inode_drop_dpages).
 *
 * Every dpage that enters a file is zeroed first. The original did not: a new
 * file could read the previous tenant's bytes. dram.clear_pages counts the work
 * in bytesZeroed.
 */
import { Errno } from '../../../lib/errno.ts';
import { PAGE_SIZE } from '../../../lib/size.ts';
import type { DpageRun } from '../../dmem/api.ts';
import type { MmStruct } from '../../mm/mm_types.ts';
import type { VmArea } from '../../mm/vm_area.ts';
import type { Inode } from '../vfs/inode.ts';
import { DMEMFS_I, DMEMFS_SB, dmem_pgoff_to_index } from './dmemfs_fs.ts';
import { NO_DPAGE, free_dpage_runs } from './extent.ts';

/** MAX_LFS_FILESIZE >> PAGE_SHIFT: the last pgoff a fault may ask about. */
export const MAX_PGOFF = Math.floor(Number.MAX_SAFE_INTEGER / PAGE_SIZE);

/** Zero a run fresh from the pool and enter it as dpages [index, index + run.nr). */
export function dmemfs_insert_run(inode: Inode, index: number, run: DpageRun): void {
  const fsi = DMEMFS_SB(inode);
  fsi.deps.dram.clear_pages(run.phys / PAGE_SIZE, run.nr * fsi.pagesPerDpage);
  const table = DMEMFS_I(inode).dpages;
  table.storeRun(index, run.nr, run.phys, fsi.dpage_size);
  inode.i_blocks += (run.nr * fsi.dpage_size) / 512;
}

/**
 * inode_drop_dpages(): remove dpages [from, to) from the file and give them back
 * to the pool. The caller has unmapped them from every process first. Physically
 * contiguous neighbours go back in one dmem_free_pages call (the original freed
 * one dpage per call).
 */
export function inode_drop_dpages(inode: Inode, from: number, to: number): void {
  const fsi = DMEMFS_SB(inode);
  const table = DMEMFS_I(inode).dpages;
  if (table.size === 0) return; // no dpage is allocated for the inode
  const size = fsi.dpage_size;
  const freed = free_dpage_runs(table, fsi.deps.pool, size, from, to);
  inode.i_blocks -= (freed * size) / 512;
}

/**
 * radix_get_create_entry(): the physical address of the dpage holding 4K page
 * `pgoff`, allocating it if there is none. Returns -1 (the fault becomes SIGBUS)
 * when the page is at or past EOF or the pool has nothing: never ENOMEM, which
 * would wake the OOM killer, useless for reclaiming dmem.
 *
 * A missing dpage is allocated together with up to max_alloc_try_dpages - 1
 * following ones, bounded by EOF and by the next dpage the file already has.
 * The original measured "up to EOF" from the faulting 4K page and rounded down,
 * which gives 0 for a 4K fault in the last dpage of a 2M or 1G file; we count
 * whole dpages from the faulting one.
 */
export function radix_get_create_entry(mm: MmStruct, vma: VmArea, fault_addr: number, inode: Inode, pgoff: number): number {
  if (pgoff > MAX_PGOFF) return -1;
  const fsi = DMEMFS_SB(inode);
  const table = DMEMFS_I(inode).dpages;
  const index = dmem_pgoff_to_index(inode, pgoff);
  // check_inode_size()
  if (pgoff * PAGE_SIZE >= inode.i_size) return -1;
  const have = table.lookup(index);
  if (have !== NO_DPAGE) return have;
  const toEof = Math.ceil((inode.i_size - index * fsi.dpage_size) / fsi.dpage_size);
  const limit = index + Math.min(toEof, fsi.deps.params.max_alloc_try_dpages);
  const try_dpages = table.next(index + 1, limit) - index;
  const run = fsi.deps.pool.dmem_alloc_pages_vma(mm, vma, fault_addr, try_dpages);
  if (!run) return -1;
  dmemfs_insert_run(inode, index, run);
  return run.phys;
}

/**
 * Give every hole among dpages [from, to) a dpage, from the current task's node
 * (write(2), fallocate(2), and mmap in mapping=remap mode use this; the original
 * allocated only at fault time). The runs added are appended to `added` so the
 * caller can undo them. Throws ENOSPC when the pool runs out; what was added
 * before stays (the caller decides).
 */
export function dmemfs_fill_range(
  inode: Inode,
  from: number,
  to: number,
  added: [number, number][],
  alloc?: (index: number, try_max: number) => DpageRun | null,
): void {
  const fsi = DMEMFS_SB(inode);
  const table = DMEMFS_I(inode).dpages;
  const nid = fsi.deps.current_mm()?.homeNid ?? 0;
  const get = alloc ?? ((_index: number, try_max: number) => fsi.deps.pool.dmem_alloc_pages_nodemask(nid, undefined, try_max));
  let i = from;
  while (i < to) {
    if (table.lookup(i) !== NO_DPAGE) {
      i++;
      continue;
    }
    const holeEnd = table.next(i + 1, to);
    const run = get(i, holeEnd - i);
    if (!run) throw new Errno('ENOSPC');
    dmemfs_insert_run(inode, i, run);
    added.push([i, run.nr]);
    i += run.nr;
  }
}

/** Undo dmemfs_fill_range: return the runs it added (nothing maps them yet). */
export function dmemfs_undo_fill(inode: Inode, added: readonly [number, number][]): void {
  for (const [index, nr] of added) inode_drop_dpages(inode, index, index + nr);
}

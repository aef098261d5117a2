/**
 * hugetlbfs file operations (fs/hugetlbfs/inode.c: hugetlbfs_file_operations —
 * hugetlbfs_read_iter, hugetlbfs_file_mmap, hugetlb_get_unmapped_area,
 * hugetlbfs_fallocate, hugetlbfs_punch_hole, hugetlbfs_zero_partial_page;
 * arch/x86/mm/hugetlbpage.c / mm/hugetlb.c prepare_hugepage_range).
 *
 * There is no write method: write(2) on a hugetlbfs file fails with EINVAL
 * (vfs_write finds no ->write_iter).
 */
import { Errno } from '../../../lib/errno.ts';
import { PAGE_SIZE, alignUp, isAligned } from '../../../lib/size.ts';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../../../uapi/fcntl.ts';
import { MAP_FIXED } from '../../../uapi/mman.ts';
import { alloc_hugetlb_folio, hugetlb_vm_ops } from '../../mm/hugetlb_fault.ts';
import { filemap_hugetlb_folio, folio_put, hugetlb_add_to_page_cache } from '../../mm/hugetlb_folio.ts';
import { hugetlb_reserve_pages } from '../../mm/hugetlb_resv.ts';
import type { MmStruct } from '../../mm/mm_types.ts';
import { MMAP_MIN_ADDR, TASK_SIZE } from '../../mm/mmap.ts';
import { VM_DONTEXPAND, VM_HUGETLB, VM_MAYSHARE, VM_SHARED, VM_WRITE, VmArea } from '../../mm/vm_area.ts';
import type { File } from '../vfs/file.ts';
import { current_time, inode_newsize_ok, type FileOperations, type Loff } from '../vfs/inode.ts';
import { file_accessed, generic_file_llseek } from '../vfs/read_write.ts';
import { HUGETLBFS_I, hstate_inode } from './hugetlbfs_fs.ts';
import { hugetlb_vmdelete_list, remove_inode_hugepages } from './inode.ts';

const EMPTY = new Uint8Array(0);

/** hugetlbfs_read_iter(): up to EOF; holes read as zeros; a poisoned page is EIO (or a short read). */
function hugetlbfs_read(file: File, count: number, ppos: Loff): Uint8Array {
  const inode = file.f_inode;
  const hi = HUGETLBFS_I(inode);
  const hsize = hi.h.size;
  const isize = inode.i_size;
  const pos = ppos.pos;
  if (pos >= isize || count === 0) {
    file_accessed(file);
    return EMPTY;
  }
  const n = Math.min(count, isize - pos);
  const out = new Uint8Array(n);
  let done = 0;
  while (done < n) {
    const at = pos + done;
    const index = Math.floor(at / hsize);
    const off = at - index * hsize;
    const chunk = Math.min(hsize - off, n - done);
    const f = filemap_hugetlb_folio(hi, index);
    if (f) {
      // adjust_range_hwpoison: the model does not know which 4K frame is bad; the whole page is refused.
      if (hi.pools.folio_hwpoisoned(f.head)) {
        if (done === 0) throw new Errno('EIO');
        break;
      }
      out.set(hi.env.dram.read(f.head * PAGE_SIZE + off, chunk), done);
    }
    done += chunk;
  }
  ppos.pos = pos + done;
  file_accessed(file);
  return done === n ? out : out.subarray(0, done);
}

/**
 * hugetlbfs_file_mmap(): VM_HUGETLB|VM_DONTEXPAND, huge-page aligned offset
 * (EINVAL), reservations for the whole range (ENOMEM when they cannot be
 * had), and a writable mapping extends i_size to its end.
 */
export function hugetlbfs_file_mmap(file: File, vma: VmArea): void {
  const inode = file.f_inode;
  const h = hstate_inode(inode);
  vma.flags |= VM_HUGETLB | VM_DONTEXPAND;
  vma.vm_ops = hugetlb_vm_ops;
  // Ours: the model's do_mmap takes MAP_FIXED addresses without ->get_unmapped_area,
  // so prepare_hugepage_range's address check is repeated here.
  if (!isAligned(vma.start, h.size) || !isAligned(vma.size, h.size)) throw new Errno('EINVAL');
  // must be huge page aligned
  if (vma.pgoff % (h.size / PAGE_SIZE)) throw new Errno('EINVAL');
  const len = vma.size + vma.pgoff * PAGE_SIZE;
  if (!Number.isSafeInteger(len)) throw new Errno('EINVAL');
  file_accessed(file);
  try {
    hugetlb_reserve_pages(HUGETLBFS_I(inode), vma.pgoff / (h.size / PAGE_SIZE), len / h.size, vma, vma.flags);
  } catch (e) {
    if (e instanceof Errno) throw new Errno('ENOMEM');
    throw e;
  }
  if (vma.flags & VM_WRITE && inode.i_size < len) inode.i_size = len;
}

/**
 * hugetlb_get_unmapped_area(): the length must be whole huge pages (EINVAL); a
 * MAP_FIXED address must be aligned (EINVAL); a hint is aligned up, and the
 * search returns a huge-page aligned address.
 */
export function hugetlb_get_unmapped_area(file: File, addr: number, len: number, _pgoff: number, flags: number, mm: MmStruct): number {
  const h = hstate_inode(file.f_inode);
  if (len % h.size) throw new Errno('EINVAL');
  if (len > TASK_SIZE) throw new Errno('ENOMEM');
  if (flags & MAP_FIXED) {
    if (addr % h.size) throw new Errno('EINVAL');
    return addr;
  }
  const addr0 = addr ? Math.max(alignUp(addr, h.size), alignUp(MMAP_MIN_ADDR, h.size)) : 0;
  return mm.vmas.get_unmapped_area(len, addr0, flags, h.size);
}

/** hugetlbfs_zero_partial_page(): zero [start, end) of the page holding start, if it exists. */
function hugetlbfs_zero_partial_page(file: File, start: number, end: number): void {
  const hi = HUGETLBFS_I(file.f_inode);
  const idx = Math.floor(start / hi.h.size);
  const f = filemap_hugetlb_folio(hi, idx);
  if (!f) return;
  const s = start % hi.h.size;
  let e = end % hi.h.size;
  if (!e) e = hi.h.size;
  hi.env.dram.fill(f.head * PAGE_SIZE + s, e - s, 0);
}

/** hugetlbfs_punch_hole(): free the whole huge pages inside the range, zero the partial ones. */
function hugetlbfs_punch_hole(file: File, offset: number, len: number): void {
  const inode = file.f_inode;
  const hsize = hstate_inode(inode).size;
  const hole_start = alignUp(offset, hsize);
  const hole_end = Math.floor((offset + len) / hsize) * hsize;
  if (offset < hole_start) hugetlbfs_zero_partial_page(file, offset, Math.min(offset + len, hole_start));
  if (hole_end > hole_start && inode.i_mapping.i_mmap.size) hugetlb_vmdelete_list(inode, hole_start / PAGE_SIZE, hole_end / PAGE_SIZE);
  if (offset + len > hole_end && offset + len > hole_start) hugetlbfs_zero_partial_page(file, hole_end, offset + len);
  if (hole_end > hole_start) remove_inode_hugepages(inode, hole_start, hole_end);
}

/**
 * hugetlbfs_fallocate(): mode 0 / KEEP_SIZE gives every huge page touching the
 * range a zeroed page (consuming the inode's reservations where shared
 * mappings made them), ENOSPC when the pool or subpool runs dry (pages
 * allocated so far stay); PUNCH_HOLE frees whole pages; other modes EOPNOTSUPP.
 */
function hugetlbfs_fallocate(file: File, mode: number, offset: number, len: number): void {
  const inode = file.f_inode;
  const hi = HUGETLBFS_I(inode);
  const h = hi.h;
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) throw new Errno('EOPNOTSUPP');
  if (mode & FALLOC_FL_PUNCH_HOLE) {
    hugetlbfs_punch_hole(file, offset, len);
    return;
  }
  const start = Math.floor(offset / h.size);
  const end = Math.ceil((offset + len) / h.size);
  // We need to check rlimit even when FALLOC_FL_KEEP_SIZE
  inode_newsize_ok(inode, offset + len);
  // Initialize a pseudo vma as this is required by the huge page allocation routines.
  const pseudo_vma = new VmArea(0, Number.MAX_SAFE_INTEGER, VM_HUGETLB | VM_MAYSHARE | VM_SHARED, 0, file, hugetlb_vm_ops);
  const mm = hi.env.current_mm();
  for (let index = start; index < end; index++) {
    // See if already present in mapping to avoid alloc/free
    if (hi.cache.has(index)) continue;
    const addr = index * h.size;
    const f = alloc_hugetlb_folio(hi, pseudo_vma, addr, false, mm);
    if (!f) throw new Errno('ENOSPC');
    hi.env.dram.clear_pages(f.head, h.size / PAGE_SIZE);
    hugetlb_add_to_page_cache(hi, f, index);
    folio_put(hi.env, f); // the allocation's reference: the page cache holds one
  }
  if (!(mode & FALLOC_FL_KEEP_SIZE) && offset + len > inode.i_size) inode.i_size = offset + len;
  inode.i_ctime = current_time(inode);
}

/** hugetlbfs_file_operations. */
export const hugetlbfs_file_operations: FileOperations = {
  read: hugetlbfs_read,
  llseek: generic_file_llseek,
  mmap: hugetlbfs_file_mmap,
  get_unmapped_area: hugetlb_get_unmapped_area,
  fallocate: hugetlbfs_fallocate,
};

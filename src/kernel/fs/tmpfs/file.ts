/**
 * tmpfs file data: the page cache and the file operations (mm/shmem.c:
 * shmem_get_folio, shmem_undo_range/shmem_truncate_range, shmem_file_read_iter,
 * shmem_write_begin via generic_perform_write, shmem_fallocate, shmem_mmap,
 * shmem_fault, shmem_file_llseek).
 */
import { Errno } from '../../../lib/errno.ts';
import { PAGE_SIZE } from '../../../lib/size.ts';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, SEEK_CUR, SEEK_END, SEEK_SET } from '../../../uapi/fcntl.ts';
import { unmap_mapping_range } from '../../mm/truncate.ts';
import { VM_FAULT_OOM, VM_FAULT_SIGBUS, type VmArea, type VmFault, type VmOperations } from '../../mm/vm_area.ts';
import { File } from '../vfs/file.ts';
import { current_time, inode_newsize_ok, type FileOperations, type Inode, type Loff } from '../vfs/inode.ts';
import { file_accessed, generic_write_checks, generic_file_llseek_size, SEEK_DATA, SEEK_HOLE, vfs_setpos } from '../vfs/read_write.ts';
import { SHMEM_I, SHMEM_SB } from './shmem_fs.ts';

const EMPTY = new Uint8Array(0);

/**
 * shmem_get_folio(SGP_WRITE/SGP_FALLOC): the frame caching page `index`,
 * allocating and zeroing one if there is none. ENOSPC past the size limit,
 * ENOMEM when the allocator has nothing.
 */
export function shmem_get_page(inode: Inode, index: number): number {
  const info = SHMEM_I(inode);
  const have = info.pages.get(index);
  if (have !== undefined) return have;
  const sbinfo = SHMEM_SB(inode);
  // shmem_inode_acct_blocks()
  if (sbinfo.max_blocks && sbinfo.used_blocks + 1 > sbinfo.max_blocks) throw new Errno('ENOSPC');
  const pfn = sbinfo.mem.alloc_page();
  if (pfn < 0) throw new Errno('ENOMEM');
  sbinfo.mem.clear_pages(pfn, 1); // new page-cache pages read as zero
  sbinfo.used_blocks++;
  info.pages.set(index, pfn);
  inode.i_mapping.nrpages++;
  inode.i_blocks += PAGE_SIZE / 512;
  sbinfo.mem.mod_shmem(1);
  return pfn;
}

/** Drop one page from the cache and free its frame (the caller unmapped it first). */
function shmem_free_page(inode: Inode, index: number): void {
  const info = SHMEM_I(inode);
  const pfn = info.pages.get(index);
  if (pfn === undefined) return;
  const sbinfo = SHMEM_SB(inode);
  info.pages.delete(index);
  inode.i_mapping.nrpages--;
  inode.i_blocks -= PAGE_SIZE / 512;
  sbinfo.used_blocks--;
  sbinfo.mem.mod_shmem(-1);
  sbinfo.mem.free_page(pfn);
}

/** Zero [from, to) of a cached page, if it is cached (truncate_inode_partial_folio). */
function zero_partial(inode: Inode, index: number, from: number, to: number): void {
  const pfn = SHMEM_I(inode).pages.get(index);
  if (pfn === undefined || to <= from) return;
  SHMEM_SB(inode).mem.write(pfn * PAGE_SIZE + from, new Uint8Array(to - from));
}

/**
 * shmem_truncate_range(inode, lstart, lend): free whole pages inside
 * [lstart, lend] (lend -1 = to the end) and zero the partial pages at its edges.
 * Mapped pages must have been unmapped by the caller.
 */
export function shmem_truncate_range(inode: Inode, lstart: number, lend: number): void {
  const info = SHMEM_I(inode);
  const endByte = lend < 0 ? Infinity : lend + 1; // exclusive
  const start = Math.ceil(lstart / PAGE_SIZE);
  const end = endByte === Infinity ? Infinity : Math.floor(endByte / PAGE_SIZE); // whole pages: [start, end)
  const partialStart = lstart % PAGE_SIZE;
  const partialEnd = endByte === Infinity ? 0 : endByte % PAGE_SIZE;
  const firstPartial = Math.floor(lstart / PAGE_SIZE);
  if (partialStart) {
    const sameEnd = endByte !== Infinity && Math.floor(endByte / PAGE_SIZE) === firstPartial;
    zero_partial(inode, firstPartial, partialStart, sameEnd ? partialEnd : PAGE_SIZE);
  }
  if (partialEnd) {
    const lastPartial = Math.floor(endByte / PAGE_SIZE);
    if (lastPartial !== firstPartial || !partialStart) zero_partial(inode, lastPartial, 0, partialEnd);
  }
  for (const index of [...info.pages.keys()]) if (index >= start && index < end) shmem_free_page(inode, index);
  inode.i_mtime = inode.i_ctime = current_time(inode);
}

/** shmem_file_read_iter(): holes read as zeros without allocating. */
function shmem_file_read(file: File, count: number, ppos: Loff): Uint8Array {
  const inode = file.f_inode;
  const pos = ppos.pos;
  if (pos >= inode.i_size || count === 0) {
    file_accessed(file);
    return EMPTY;
  }
  const n = Math.min(count, inode.i_size - pos);
  const out = new Uint8Array(n);
  const info = SHMEM_I(inode);
  const mem = SHMEM_SB(inode).mem;
  for (let done = 0; done < n; ) {
    const at = pos + done;
    const index = Math.floor(at / PAGE_SIZE);
    const off = at % PAGE_SIZE;
    const chunk = Math.min(PAGE_SIZE - off, n - done);
    const pfn = info.pages.get(index);
    if (pfn !== undefined) out.set(mem.read(pfn * PAGE_SIZE + off, chunk), done);
    done += chunk;
  }
  ppos.pos = pos + n;
  file_accessed(file);
  return out;
}

/**
 * generic_file_write_iter() → generic_perform_write(): O_APPEND writes at EOF;
 * EFBIG at s_maxbytes; a short count if space runs out part-way.
 */
function shmem_file_write(file: File, data: Uint8Array, ppos: Loff): number {
  const inode = file.f_inode;
  const w = generic_write_checks(file, data.length, ppos);
  if (!w) return 0;
  const { pos, count } = w;
  const mem = SHMEM_SB(inode).mem;
  let written = 0;
  while (written < count) {
    const at = pos + written;
    const index = Math.floor(at / PAGE_SIZE);
    const off = at % PAGE_SIZE;
    const chunk = Math.min(PAGE_SIZE - off, count - written);
    let pfn: number;
    try {
      pfn = shmem_get_page(inode, index);
    } catch (e) {
      if (written > 0) break;
      throw e;
    }
    mem.write(pfn * PAGE_SIZE + off, data.subarray(written, written + chunk));
    written += chunk;
    if (pos + written > inode.i_size) inode.i_size = pos + written; // shmem_write_end
  }
  ppos.pos = pos + written;
  return written;
}

/** shmem_fallocate(): mode 0, KEEP_SIZE, and PUNCH_HOLE|KEEP_SIZE. */
function shmem_fallocate(file: File, mode: number, offset: number, len: number): void {
  const inode = file.f_inode;
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) throw new Errno('EOPNOTSUPP');
  if (mode & FALLOC_FL_PUNCH_HOLE) {
    const unmap_start = Math.ceil(offset / PAGE_SIZE) * PAGE_SIZE;
    const unmap_end = Math.floor((offset + len) / PAGE_SIZE) * PAGE_SIZE - 1;
    // Whole pages leave every mapping first; hole punching keeps private COW copies.
    if (unmap_end > unmap_start) unmap_mapping_range(inode.i_mapping, unmap_start, 1 + unmap_end - unmap_start, false);
    shmem_truncate_range(inode, offset, offset + len - 1);
    return;
  }
  // We need to check rlimit even when FALLOC_FL_KEEP_SIZE.
  inode_newsize_ok(inode, offset + len);
  const sbinfo = SHMEM_SB(inode);
  const start = Math.floor(offset / PAGE_SIZE);
  const end = Math.ceil((offset + len) / PAGE_SIZE);
  // Try to avoid a swapstorm if len is impossible to satisfy.
  if (sbinfo.max_blocks && end - start > sbinfo.max_blocks) throw new Errno('ENOSPC');
  const info = SHMEM_I(inode);
  const added: number[] = [];
  for (let index = start; index < end; index++) {
    if (info.pages.has(index)) continue;
    try {
      shmem_get_page(inode, index);
    } catch (e) {
      // Remove the pages this call added; pages that were already there stay.
      for (const i of added) shmem_free_page(inode, i);
      throw e;
    }
    added.push(index);
  }
  if (!(mode & FALLOC_FL_KEEP_SIZE) && offset + len > inode.i_size) inode.i_size = offset + len;
  inode.i_ctime = current_time(inode);
}

/** shmem_file_llseek(): SEEK_DATA/SEEK_HOLE look at the page cache. */
function shmem_file_llseek(file: File, offset: number, whence: number): number {
  const inode = file.f_inode;
  if (whence === SEEK_SET || whence === SEEK_CUR || whence === SEEK_END)
    return generic_file_llseek_size(file, offset, whence, inode.i_sb.s_maxbytes, inode.i_size);
  if (whence !== SEEK_DATA && whence !== SEEK_HOLE) throw new Errno('EINVAL');
  if (offset < 0 || offset >= inode.i_size) throw new Errno('ENXIO');
  const pages = SHMEM_I(inode).pages;
  const first = Math.floor(offset / PAGE_SIZE);
  let pos: number;
  if (whence === SEEK_DATA) {
    let best = Infinity;
    for (const i of pages.keys()) if (i >= first && i < best) best = i;
    if (best * PAGE_SIZE >= inode.i_size) throw new Errno('ENXIO');
    pos = Math.max(offset, best * PAGE_SIZE);
  } else {
    let i = first;
    while (pages.has(i)) i++;
    pos = Math.min(Math.max(offset, i * PAGE_SIZE), inode.i_size);
  }
  return vfs_setpos(file, pos, inode.i_sb.s_maxbytes);
}

/**
 * shmem_fault(): find or allocate (zeroed) the page at vmf.pgoff. SIGBUS at or
 * past EOF (in pages, size rounded up) and when the size limit is reached; OOM
 * when there is no memory.
 */
export function shmem_fault(vmf: VmFault): number {
  const file = vmf.vma.file;
  if (!(file instanceof File)) return VM_FAULT_SIGBUS;
  const inode = file.f_inode;
  if (vmf.pgoff >= Math.ceil(inode.i_size / PAGE_SIZE)) return VM_FAULT_SIGBUS;
  try {
    vmf.pfn = shmem_get_page(inode, vmf.pgoff);
  } catch (e) {
    // vmf_error(): ENOMEM → OOM, anything else → SIGBUS.
    return e instanceof Errno && e.code === 'ENOMEM' ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
  }
  return 0;
}

/** shmem_vm_ops (also used as shmem_anon_vm_ops for shared anonymous memory). */
export const shmem_vm_ops: VmOperations = { name: 'shmem', fault: shmem_fault };

/** shmem_mmap(). */
function shmem_mmap(file: File, vma: VmArea): void {
  file_accessed(file);
  vma.vm_ops = shmem_vm_ops;
}

/** shmem_file_operations. */
export const shmem_file_operations: FileOperations = {
  read: shmem_file_read,
  write: shmem_file_write,
  llseek: shmem_file_llseek,
  mmap: shmem_mmap,
  fallocate: shmem_fallocate,
};

/**
 * dmemfs file operations (fs/dmemfs/inode.c: dmemfs_file_operations).
 *
 * The original file_operations had only .mmap and .get_unmapped_area: a dmemfs
 * file could be sized with ftruncate and mapped, nothing else. We add, as
 * improvements (each marked below):
 *  - read/pread: holes read as zeros, nothing is allocated;
 *  - write/pwrite: allocate the dpages written to (zeroed first), extend i_size
 *    to the end of the write like any file (so i_size may be unaligned after a
 *    write; only truncate insists on whole dpages, as the original did);
 *  - fallocate: mode 0 allocates, PUNCH_HOLE|KEEP_SIZE unmaps and frees the
 *    whole dpages of the range and zeroes the partial ones; other modes EOPNOTSUPP.
 */
import { Errno } from '../../../lib/errno.ts';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../../../uapi/fcntl.ts';
import { unmap_mapping_range } from '../../mm/truncate.ts';
import type { File } from '../vfs/file.ts';
import { current_time, inode_newsize_ok, type FileOperations, type Loff } from '../vfs/inode.ts';
import { file_accessed, generic_write_checks, generic_file_llseek } from '../vfs/read_write.ts';
import { DMEMFS_I, DMEMFS_SB } from './dmemfs_fs.ts';
import { dmemfs_fill_range, dmemfs_undo_fill, inode_drop_dpages } from './dpages.ts';
import { NO_DPAGE } from './extent.ts';
import { dmemfs_file_mmap, dmemfs_get_unmapped_area } from './mmap.ts';

const EMPTY = new Uint8Array(0);

/** read(2)/pread(2) (ours): up to EOF, holes as zeros. */
function dmemfs_file_read(file: File, count: number, ppos: Loff): Uint8Array {
  const inode = file.f_inode;
  const pos = ppos.pos;
  if (pos >= inode.i_size || count === 0) {
    file_accessed(file);
    return EMPTY;
  }
  const fsi = DMEMFS_SB(inode);
  const table = DMEMFS_I(inode).dpages;
  const size = fsi.dpage_size;
  const n = Math.min(count, inode.i_size - pos);
  const out = new Uint8Array(n);
  let done = 0;
  while (done < n) {
    const at = pos + done;
    const index = Math.floor(at / size);
    const off = at - index * size;
    const chunk = Math.min(size - off, n - done);
    const phys = table.lookup(index);
    // Never copy out of a dpage with a hardware error: EIO, or a short read of
    // what came before it (shmem_file_read_iter's PageHWPoison check; the mapping
    // side refuses it with VM_FAULT_HWPOISON in mmap.ts).
    if (phys !== NO_DPAGE && fsi.deps.pool.dpage_poisoned(phys)) {
      if (done === 0) throw new Errno('EIO');
      break;
    }
    if (phys !== NO_DPAGE) out.set(fsi.deps.dram.read(phys + off, chunk), done);
    done += chunk;
  }
  ppos.pos = pos + done;
  file_accessed(file);
  return done === n ? out : out.subarray(0, done);
}

/**
 * write(2)/pwrite(2) (ours), after generic_perform_write: O_APPEND writes at EOF,
 * EFBIG at s_maxbytes, ENOSPC when the pool is empty — or a short count when part
 * of the data went in first.
 */
function dmemfs_file_write(file: File, data: Uint8Array, ppos: Loff): number {
  const inode = file.f_inode;
  const w = generic_write_checks(file, data.length, ppos);
  if (!w) return 0;
  const { pos, count } = w;
  const fsi = DMEMFS_SB(inode);
  const table = DMEMFS_I(inode).dpages;
  const size = fsi.dpage_size;
  let written = 0;
  while (written < count) {
    const at = pos + written;
    const index = Math.floor(at / size);
    const off = at - index * size;
    const chunk = Math.min(size - off, count - written);
    let phys = table.lookup(index);
    if (phys === NO_DPAGE) {
      // Allocate the hole up to the last dpage this write touches in one go.
      const last = Math.floor((pos + count - 1) / size);
      let err: unknown = null;
      try {
        dmemfs_fill_range(inode, index, table.next(index + 1, last + 1), []);
      } catch (e) {
        if (!(e instanceof Errno)) throw e;
        err = e; // the pool ran dry part-way: write into what was had
      }
      phys = table.lookup(index);
      if (phys === NO_DPAGE) {
        if (written > 0) break;
        throw err;
      }
    }
    // Nor write into one (shmem_write_begin's PageHWPoison check): EIO, or short.
    if (fsi.deps.pool.dpage_poisoned(phys)) {
      if (written > 0) break;
      throw new Errno('EIO');
    }
    fsi.deps.dram.write(phys + off, data.subarray(written, written + chunk));
    written += chunk;
    if (pos + written > inode.i_size) inode.i_size = pos + written;
  }
  ppos.pos = pos + written;
  return written;
}

/**
 * fallocate(2) (ours). Mode 0 gives every dpage of the range a zeroed dpage
 * (undoing its own allocations on ENOSPC) and extends i_size. PUNCH_HOLE|KEEP_SIZE
 * unmaps the whole dpages of the range from every process, frees them, then
 * zeroes the partial dpages at the edges (which stay mapped).
 */
function dmemfs_fallocate(file: File, mode: number, offset: number, len: number): void {
  const inode = file.f_inode;
  if (mode !== 0 && mode !== (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) throw new Errno('EOPNOTSUPP');
  const fsi = DMEMFS_SB(inode);
  const size = fsi.dpage_size;
  const end = offset + len;
  if (mode & FALLOC_FL_PUNCH_HOLE) {
    const first = Math.ceil(offset / size);
    const last = Math.floor(end / size); // whole dpages: [first, last)
    if (last > first) {
      unmap_mapping_range(inode.i_mapping, first * size, (last - first) * size, false);
      inode_drop_dpages(inode, first, last);
    }
    zero_partial(file, offset, Math.min(end, first * size));
    if (last >= first) zero_partial(file, Math.max(offset, last * size), end);
    inode.i_mtime = inode.i_ctime = current_time(inode);
    return;
  }
  inode_newsize_ok(inode, end);
  const added: [number, number][] = [];
  try {
    dmemfs_fill_range(inode, Math.floor(offset / size), Math.ceil(end / size), added);
  } catch (e) {
    dmemfs_undo_fill(inode, added);
    throw e;
  }
  if (end > inode.i_size) inode.i_size = end;
  inode.i_ctime = current_time(inode);
}

/** Zero the bytes [from, to) of the file that lie in one dpage, if that dpage exists. */
function zero_partial(file: File, from: number, to: number): void {
  if (to <= from) return;
  const inode = file.f_inode;
  const fsi = DMEMFS_SB(inode);
  const index = Math.floor(from / fsi.dpage_size);
  const phys = DMEMFS_I(inode).dpages.lookup(index);
  if (phys !== NO_DPAGE) fsi.deps.dram.fill(phys + from - index * fsi.dpage_size, to - from, 0);
}

/** dmemfs_file_operations. */
export const dmemfs_file_operations: FileOperations = {
  read: dmemfs_file_read,
  write: dmemfs_file_write,
  llseek: generic_file_llseek,
  mmap: dmemfs_file_mmap,
  get_unmapped_area: dmemfs_get_unmapped_area,
  fallocate: dmemfs_fallocate,
};

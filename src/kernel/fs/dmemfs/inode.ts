/**
 * dmemfs inodes and directories (fs/dmemfs/inode.c: dmemfs_get_inode,
 * __create_file, dmemfs_create, dmemfs_mkdir, dmemfs_truncate, dmemfs_setattr,
 * dmemfs_statfs, dmemfs_evict_inode, kill_litter_super; fs/libfs.c simple_unlink,
 * simple_rmdir, simple_rename, which the original used for its directories).
 */
import { Errno } from '../../../lib/errno.ts';
import { S_IFDIR, S_IFMT, S_IFREG } from '../../../uapi/fcntl.ts';
import { unmap_mapping_range } from '../../mm/truncate.ts';
import type { Dentry } from '../vfs/dcache.ts';
import {
  current_time,
  inc_nlink,
  isReg,
  NAME_MAX,
  new_inode,
  type Iattr,
  type Inode,
  type InodeOperations,
} from '../vfs/inode.ts';
import { simple_dir_operations, simple_lookup, simple_rename, simple_rmdir, simple_unlink } from '../vfs/libfs.ts';
import type { KStatfs, SuperBlock } from '../vfs/super.ts';
import { DMEMFS_I, DMEMFS_MAGIC, DMEMFS_SB, DmemfsInodeInfo, type DmemfsSbInfo } from './dmemfs_fs.ts';
import { inode_drop_dpages } from './dpages.ts';
import { dmemfs_file_operations } from './file.ts';

/** dmemfs_get_inode(): a regular file or a directory (the original's other types had no use). */
export function dmemfs_get_inode(sb: SuperBlock, mode: number): Inode {
  const fsi = sb.s_fs_info as DmemfsSbInfo;
  const inode = new_inode(sb, mode);
  switch (mode & S_IFMT) {
    case S_IFREG:
      inode.i_private = new DmemfsInodeInfo();
      inode.i_op = dmemfs_file_inode_operations;
      inode.i_fop = dmemfs_file_operations;
      break;
    case S_IFDIR:
      inode.i_op = dmemfs_dir_inode_operations;
      inode.i_fop = simple_dir_operations;
      // directory inodes start off with i_nlink == 2 (for "." entry)
      inc_nlink(inode);
      break;
    default:
      throw new Errno('EINVAL');
  }
  fsi.inodes.add(inode);
  return inode;
}

/** __create_file(): a new inode in `dir`; a directory adds a link to its parent. */
function __create_file(dir: Inode, mode: number): Inode {
  const inode = dmemfs_get_inode(dir.i_sb, mode);
  dir.i_mtime = dir.i_ctime = current_time(inode);
  if ((mode & S_IFMT) === S_IFDIR) inc_nlink(dir);
  return inode;
}

/**
 * dmemfs_truncate(): the size must be whole dpages (EINVAL). Growing allocates
 * nothing. Shrinking sets i_size first (so no fault can map past it again),
 * unmaps everything past it from every process, then frees those dpages.
 */
function dmemfs_truncate(inode: Inode, newsize: number): void {
  const size = inode.i_sb.s_blocksize;
  if (newsize % size) throw new Errno('EINVAL');
  const current_size = inode.i_size;
  inode.i_size = newsize;
  if (newsize >= current_size) return;
  // it cuts the inode down: unmap first, as the dpages are freed below.
  unmap_mapping_range(inode.i_mapping, newsize, 0, true);
  inode_drop_dpages(inode, newsize / size, Infinity);
}

/** dmemfs_setattr(): simple_setattr, with truncation done by dmemfs_truncate. */
function dmemfs_setattr(dentry: Dentry, attr: Iattr): void {
  const inode = dentry.d_inode!;
  if (attr.size !== undefined && isReg(inode)) {
    const old = inode.i_size;
    dmemfs_truncate(inode, attr.size);
    if (attr.size !== old) inode.i_mtime = inode.i_ctime = current_time(inode);
  }
  if (attr.touchTimes) inode.i_mtime = inode.i_ctime = current_time(inode);
  if (attr.mode !== undefined) {
    inode.i_mode = attr.mode;
    inode.i_ctime = current_time(inode);
  }
}

/**
 * dmemfs_statfs(). The original reported simple_statfs with f_bsize set: no
 * block counts, so df showed nothing. We report the pool's dpages (every mount
 * shares the pool, so every mount shows the same numbers). There is no inode
 * limit: files and ffree are 0, as simple_statfs reports.
 */
export function dmemfs_statfs(dentry: Dentry): KStatfs {
  const sb = dentry.d_sb;
  const pool = (sb.s_fs_info as DmemfsSbInfo).deps.pool;
  const free = pool.free_dpages();
  return {
    type: DMEMFS_MAGIC,
    bsize: sb.s_blocksize,
    blocks: pool.total_dpages(),
    bfree: free,
    bavail: free,
    files: 0,
    ffree: 0,
    namelen: NAME_MAX,
  };
}

/** dmemfs_evict_inode(): the last name and the last open file are gone; free the dpages. */
export function dmemfs_evict_inode(inode: Inode): void {
  // no VMA works on it: a mapping holds the file open.
  if (inode.i_mapping.i_mmap.size) throw new Error('BUG: dmemfs inode evicted while mapped');
  if (isReg(inode)) inode_drop_dpages(inode, 0, Infinity);
  DMEMFS_SB(inode).inodes.delete(inode);
}

/** kill_litter_super(): at the last umount every inode goes, and its dpages with it. */
export function dmemfs_put_super(sb: SuperBlock): void {
  const fsi = sb.s_fs_info as DmemfsSbInfo;
  for (const inode of [...fsi.inodes]) {
    if (isReg(inode)) inode_drop_dpages(inode, 0, Infinity);
    inode.i_evicted = true;
  }
  fsi.inodes.clear();
}

/** Dpages a regular file holds (for tests and /proc-style reporting). */
export function dmemfs_nr_dpages(inode: Inode): number {
  return isReg(inode) ? DMEMFS_I(inode).dpages.size : 0;
}

/** dmemfs_file_inode_operations. */
export const dmemfs_file_inode_operations: InodeOperations = { setattr: dmemfs_setattr };

/** dmemfs_dir_inode_operations. */
export const dmemfs_dir_inode_operations: InodeOperations = {
  lookup: simple_lookup,
  create: (dir, _dentry, mode) => __create_file(dir, (mode & ~S_IFMT) | S_IFREG),
  mkdir: (dir, _dentry, mode) => __create_file(dir, (mode & ~S_IFMT) | S_IFDIR),
  unlink: simple_unlink,
  rmdir: simple_rmdir,
  rename: simple_rename,
  setattr: dmemfs_setattr,
};

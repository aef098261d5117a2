/**
 * tmpfs inodes and directories (mm/shmem.c: shmem_get_inode, shmem_reserve_inode,
 * shmem_mknod/create/mkdir, shmem_unlink, shmem_rmdir, shmem_rename2,
 * shmem_setattr, shmem_evict_inode, shmem_statfs, shmem_put_super).
 */
import { Errno } from '../../../lib/errno.ts';
import { PAGE_SIZE } from '../../../lib/size.ts';
import { S_IFCHR, S_IFDIR, S_IFMT, S_IFREG, TMPFS_MAGIC } from '../../../uapi/fcntl.ts';
import { unmap_mapping_range } from '../../mm/truncate.ts';
import type { CharDevices } from '../vfs/char_dev.ts';
import { simple_empty, type Dentry } from '../vfs/dcache.ts';
import {
  current_time,
  drop_nlink,
  inc_nlink,
  isDir,
  isReg,
  NAME_MAX,
  new_inode,
  type Iattr,
  type Inode,
  type InodeOperations,
} from '../vfs/inode.ts';
import { simple_dir_operations, simple_lookup, simple_rename_unlink } from '../vfs/libfs.ts';
import type { KStatfs, SuperBlock } from '../vfs/super.ts';
import { shmem_file_operations, shmem_truncate_range } from './file.ts';
import { BOGO_DIRENT_SIZE, SHMEM_I, SHMEM_SB, ShmemInodeInfo, type ShmemSbInfo } from './shmem_fs.ts';

/** shmem_reserve_inode(): ENOSPC when nr_inodes is used up. */
function shmem_reserve_inode(sbinfo: ShmemSbInfo): void {
  if (!sbinfo.max_inodes) return;
  if (sbinfo.free_inodes === 0) throw new Errno('ENOSPC');
  sbinfo.free_inodes--;
}

/** shmem_free_inode(). */
function shmem_free_inode(sbinfo: ShmemSbInfo): void {
  if (sbinfo.max_inodes) sbinfo.free_inodes++;
}

/** shmem_get_inode(): a new inode of the given type on a tmpfs superblock. */
export function shmem_get_inode(sb: SuperBlock, mode: number, rdev = 0, chrdevs: CharDevices | null = null): Inode {
  const sbinfo = sb.s_fs_info as ShmemSbInfo;
  shmem_reserve_inode(sbinfo);
  const inode = new_inode(sb, mode);
  inode.i_private = new ShmemInodeInfo();
  switch (mode & S_IFMT) {
    case S_IFREG:
      inode.i_op = shmem_inode_operations;
      inode.i_fop = shmem_file_operations;
      break;
    case S_IFDIR:
      inc_nlink(inode);
      // Some things misbehave if size == 0 on a directory.
      inode.i_size = 2 * BOGO_DIRENT_SIZE;
      inode.i_op = shmem_dir_inode_operations;
      inode.i_fop = simple_dir_operations;
      break;
    case S_IFCHR:
      if (!chrdevs) throw new Errno('EPERM');
      chrdevs.init_special_inode(inode, mode, rdev);
      inode.i_op = shmem_special_inode_operations;
      break;
    default:
      throw new Errno('EINVAL');
  }
  sbinfo.inodes.add(inode);
  return inode;
}

/** shmem_mknod(): a new inode in `dir`. */
export function shmem_mknod(dir: Inode, mode: number, rdev = 0, chrdevs: CharDevices | null = null): Inode {
  const inode = shmem_get_inode(dir.i_sb, mode, rdev, chrdevs);
  dir.i_size += BOGO_DIRENT_SIZE;
  dir.i_mtime = dir.i_ctime = current_time(dir);
  return inode;
}

/** shmem_unlink(). */
function shmem_unlink(dir: Inode, dentry: Dentry): void {
  const inode = dentry.d_inode!;
  if (inode.i_nlink > 1 && !isDir(inode)) shmem_free_inode(SHMEM_SB(inode));
  dir.i_size -= BOGO_DIRENT_SIZE;
  inode.i_ctime = dir.i_ctime = dir.i_mtime = current_time(dir);
  drop_nlink(inode);
}

/** shmem_rmdir(). */
function shmem_rmdir(dir: Inode, dentry: Dentry): void {
  if (!simple_empty(dentry)) throw new Errno('ENOTEMPTY');
  drop_nlink(dentry.d_inode!);
  drop_nlink(dir);
  shmem_unlink(dir, dentry);
}

/** shmem_rename2() (flags 0): simple_rename, with tmpfs's directory-size bookkeeping. */
function shmem_rename2(oldDir: Inode, oldDentry: Dentry, newDir: Inode, newDentry: Dentry): void {
  simple_rename_unlink(oldDir, oldDentry, newDir, newDentry, shmem_unlink);
  oldDir.i_size -= BOGO_DIRENT_SIZE;
  newDir.i_size += BOGO_DIRENT_SIZE;
}

/**
 * shmem_setattr(): a shrink unmaps the range past the new EOF from every mapping
 * (even private COW copies), then frees the pages and zeroes the tail of the
 * last page.
 */
function shmem_setattr(dentry: Dentry, attr: Iattr): void {
  const inode = dentry.d_inode!;
  if (isReg(inode) && attr.size !== undefined) {
    const oldsize = inode.i_size;
    const newsize = attr.size;
    if (newsize !== oldsize) {
      inode.i_size = newsize;
      inode.i_mtime = inode.i_ctime = current_time(inode);
    }
    if (newsize <= oldsize) {
      const holebegin = Math.ceil(newsize / PAGE_SIZE) * PAGE_SIZE;
      if (oldsize > holebegin) unmap_mapping_range(inode.i_mapping, holebegin, 0, true);
      if (SHMEM_I(inode).pages.size) shmem_truncate_range(inode, newsize, -1);
    }
  }
  if (attr.touchTimes) inode.i_mtime = inode.i_ctime = current_time(inode);
  if (attr.mode !== undefined) {
    inode.i_mode = (inode.i_mode & S_IFMT) | (attr.mode & 0o7777);
    inode.i_ctime = current_time(inode);
  }
}

/** shmem_evict_inode(): free the data of an inode nothing refers to any more. */
export function shmem_evict_inode(inode: Inode): void {
  const sbinfo = SHMEM_SB(inode);
  if (isReg(inode)) {
    inode.i_size = 0;
    shmem_truncate_range(inode, 0, -1);
  }
  if (sbinfo.inodes.delete(inode)) shmem_free_inode(sbinfo);
}

/** shmem_put_super() after kill_litter_super(): every inode goes, with its pages. */
export function shmem_put_super(sb: SuperBlock): void {
  const sbinfo = sb.s_fs_info as ShmemSbInfo;
  for (const inode of [...sbinfo.inodes]) {
    inode.i_evicted = true;
    shmem_evict_inode(inode);
  }
}

/** shmem_statfs(). */
export function shmem_statfs(dentry: Dentry): KStatfs {
  const sbinfo = dentry.d_sb.s_fs_info as ShmemSbInfo;
  const st: KStatfs = {
    type: TMPFS_MAGIC,
    bsize: PAGE_SIZE,
    namelen: NAME_MAX,
    blocks: 0,
    bfree: 0,
    bavail: 0,
    files: 0,
    ffree: 0,
  };
  if (sbinfo.max_blocks) {
    st.blocks = sbinfo.max_blocks;
    st.bavail = st.bfree = sbinfo.max_blocks - sbinfo.used_blocks;
  }
  if (sbinfo.max_inodes) {
    st.files = sbinfo.max_inodes;
    st.ffree = sbinfo.free_inodes;
  }
  return st;
}

/** shmem_inode_operations (regular files). */
export const shmem_inode_operations: InodeOperations = { setattr: shmem_setattr };

/** shmem_special_inode_operations (device nodes). */
export const shmem_special_inode_operations: InodeOperations = { setattr: shmem_setattr };

/** shmem_dir_inode_operations. */
export const shmem_dir_inode_operations: InodeOperations = {
  lookup: simple_lookup,
  create: (dir, _dentry, mode) => shmem_mknod(dir, (mode & ~S_IFMT) | S_IFREG),
  mkdir(dir, _dentry, mode) {
    const inode = shmem_mknod(dir, (mode & ~S_IFMT) | S_IFDIR);
    inc_nlink(dir);
    return inode;
  },
  unlink: shmem_unlink,
  rmdir: shmem_rmdir,
  rename: shmem_rename2,
  setattr: shmem_setattr,
};

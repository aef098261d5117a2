/**
 * hugetlbfs inodes, truncation and statfs (fs/hugetlbfs/inode.c:
 * hugetlbfs_get_inode, hugetlbfs_get_root, hugetlbfs_mknod, hugetlbfs_create,
 * hugetlbfs_mkdir, hugetlbfs_setattr, hugetlb_vmtruncate,
 * hugetlb_vmdelete_list, remove_inode_hugepages, remove_inode_single_folio,
 * hugetlbfs_evict_inode, hugetlbfs_statfs, hugetlbfs_put_super,
 * hugetlbfs_dec_free_inodes / hugetlbfs_inc_free_inodes; fs/libfs.c for
 * lookup, unlink, rmdir and rename).
 */
import { Errno } from '../../../lib/errno.ts';
import { PAGE_SIZE } from '../../../lib/size.ts';
import { S_IFDIR, S_IFMT, S_IFREG } from '../../../uapi/fcntl.ts';
import { hugetlb_delete_from_page_cache } from '../../mm/hugetlb_folio.ts';
import { hugepage_put_subpool, hugetlb_unreserve_pages } from '../../mm/hugetlb_resv.ts';
import { unmap_mapping_pages } from '../../mm/truncate.ts';
import type { Dentry } from '../vfs/dcache.ts';
import { current_time, inc_nlink, isReg, NAME_MAX, new_inode, type Iattr, type Inode, type InodeOperations } from '../vfs/inode.ts';
import { simple_dir_operations, simple_lookup, simple_rename, simple_rmdir, simple_unlink } from '../vfs/libfs.ts';
import type { KStatfs, SuperBlock } from '../vfs/super.ts';
import { HUGETLBFS_I, HUGETLBFS_MAGIC, HUGETLBFS_SB, HugetlbfsInodeInfo, hstate_inode, type HugetlbfsSbInfo } from './hugetlbfs_fs.ts';
import { hugetlbfs_file_operations } from './file.ts';

/**
 * hugetlbfs_get_inode(): a regular file (with its reserve map and page cache)
 * or a directory; null when nr_inodes= is used up (hugetlbfs_alloc_inode).
 */
export function hugetlbfs_get_inode(sb: SuperBlock, dir: Inode | null, mode: number): Inode | null {
  const sbinfo = sb.s_fs_info as HugetlbfsSbInfo;
  if (sbinfo.free_inodes >= 0) {
    if (!sbinfo.free_inodes) return null;
    sbinfo.free_inodes--;
  }
  const inode = new_inode(sb, mode);
  // inode_init_owner: root creates everything here; the mount's uid/gid apply to the root only.
  void dir;
  switch (mode & S_IFMT) {
    case S_IFREG:
      inode.i_private = new HugetlbfsInodeInfo(inode, sbinfo);
      inode.i_op = hugetlbfs_inode_operations;
      inode.i_fop = hugetlbfs_file_operations;
      break;
    case S_IFDIR:
      inode.i_op = hugetlbfs_dir_inode_operations;
      inode.i_fop = simple_dir_operations;
      // directory inodes start off with i_nlink == 2 (for "." entry)
      inc_nlink(inode);
      break;
    default:
      throw new Errno('EINVAL');
  }
  sbinfo.inodes.add(inode);
  return inode;
}

/** hugetlbfs_get_root(). */
export function hugetlbfs_get_root(sb: SuperBlock, sbinfo: HugetlbfsSbInfo): Inode {
  const inode = new_inode(sb, S_IFDIR | sbinfo.mode);
  inode.i_uid = sbinfo.uid;
  inode.i_gid = sbinfo.gid;
  inode.i_op = hugetlbfs_dir_inode_operations;
  inode.i_fop = simple_dir_operations;
  inc_nlink(inode);
  return inode;
}

/** hugetlbfs_mknod(): ENOSPC when no inode is left. */
function hugetlbfs_mknod(dir: Inode, mode: number): Inode {
  const inode = hugetlbfs_get_inode(dir.i_sb, dir, mode);
  if (!inode) throw new Errno('ENOSPC');
  dir.i_mtime = dir.i_ctime = current_time(dir);
  return inode;
}

/**
 * remove_inode_hugepages(inode, lstart, lend): drop the page-cache pages of
 * [lstart, lend) (bytes; lend Infinity = truncation). Hole punch gives each
 * removed page's reservation back; truncation gives back everything past
 * lstart at the end. Callers unmapped the range first.
 */
export function remove_inode_hugepages(inode: Inode, lstart: number, lend: number): void {
  const hi = HUGETLBFS_I(inode);
  const h = hi.h;
  const truncate_op = lend === Infinity;
  const first = Math.floor(lstart / h.size);
  const end = truncate_op ? Infinity : Math.floor(lend / h.size);
  let freed = 0;
  for (const index of [...hi.cache.keys()].sort((a, b) => a - b)) {
    if (index < first || index >= end) continue;
    // remove_inode_single_folio: a folio still mapped (by a racing fault) is unmapped again.
    hugetlb_delete_from_page_cache(hi, index);
    freed++;
    if (!truncate_op) hugetlb_unreserve_pages(hi, index, index + 1, 1);
  }
  if (truncate_op) hugetlb_unreserve_pages(hi, first, Infinity, freed);
}

/**
 * hugetlb_vmdelete_list(): unmap file pages [start, end) (in 4K pages; end 0 =
 * to EOF) from every VMA, private COW copies included (ZAP_FLAG_DROP_MARKER
 * unmaps every entry of the range, whoever's page it maps).
 */
export function hugetlb_vmdelete_list(inode: Inode, start: number, end: number): void {
  unmap_mapping_pages(inode.i_mapping, start, end === 0 ? 0 : end - start, true);
}

/** hugetlb_vmtruncate(): i_size first, then unmap and free everything past it. */
function hugetlb_vmtruncate(inode: Inode, offset: number): void {
  if (offset % hstate_inode(inode).size) throw new Error('BUG: hugetlb_vmtruncate at an unaligned offset');
  inode.i_size = offset;
  if (inode.i_mapping.i_mmap.size) hugetlb_vmdelete_list(inode, offset / PAGE_SIZE, 0);
  remove_inode_hugepages(inode, offset, Infinity);
}

/** hugetlbfs_setattr(): sizes must be whole huge pages (EINVAL). */
function hugetlbfs_setattr(dentry: Dentry, attr: Iattr): void {
  const inode = dentry.d_inode!;
  if (attr.size !== undefined && isReg(inode)) {
    const old = inode.i_size;
    if (attr.size % hstate_inode(inode).size) throw new Errno('EINVAL');
    hugetlb_vmtruncate(inode, attr.size);
    if (attr.size !== old) inode.i_mtime = inode.i_ctime = current_time(inode);
  }
  if (attr.touchTimes) inode.i_mtime = inode.i_ctime = current_time(inode);
  if (attr.mode !== undefined) {
    inode.i_mode = attr.mode;
    inode.i_ctime = current_time(inode);
  }
}

/**
 * hugetlbfs_statfs(): f_bsize is the huge page size; blocks, free and inode
 * counts come from the subpool and nr_inodes= only when a size limit exists
 * (otherwise 0, like simple_statfs).
 */
export function hugetlbfs_statfs(dentry: Dentry): KStatfs {
  const sbinfo = HUGETLBFS_SB(dentry.d_inode!);
  const out: KStatfs = { type: HUGETLBFS_MAGIC, bsize: sbinfo.hstate.size, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namelen: NAME_MAX };
  const spool = sbinfo.spool;
  if (spool) {
    out.blocks = spool.max_hpages;
    out.bfree = out.bavail = spool.max_hpages - spool.used_hpages;
    out.files = sbinfo.max_inodes;
    out.ffree = sbinfo.free_inodes;
  }
  return out;
}

/** hugetlbfs_evict_inode(): free every page and reservation; the inode slot comes back (destroy_inode). */
export function hugetlbfs_evict_inode(inode: Inode): void {
  if (isReg(inode)) remove_inode_hugepages(inode, 0, Infinity);
  const sbinfo = HUGETLBFS_SB(inode);
  if (sbinfo.inodes.delete(inode) && sbinfo.free_inodes >= 0) sbinfo.free_inodes++;
}

/** kill_litter_super() + hugetlbfs_put_super(): every inode goes, then the subpool. */
export function hugetlbfs_put_super(sb: SuperBlock): void {
  const sbinfo = sb.s_fs_info as HugetlbfsSbInfo;
  for (const inode of [...sbinfo.inodes]) {
    if (inode.i_evicted) continue;
    inode.i_evicted = true;
    hugetlbfs_evict_inode(inode);
  }
  if (sbinfo.spool) hugepage_put_subpool(sbinfo.spool);
}

/** hugetlbfs_inode_operations. */
export const hugetlbfs_inode_operations: InodeOperations = { setattr: hugetlbfs_setattr };

/** hugetlbfs_dir_inode_operations (no symlink, mknod or tmpfile in the model). */
export const hugetlbfs_dir_inode_operations: InodeOperations = {
  lookup: simple_lookup,
  create: (dir, _dentry, mode) => hugetlbfs_mknod(dir, (mode & ~S_IFMT) | S_IFREG),
  mkdir: (dir, _dentry, mode) => {
    const inode = hugetlbfs_mknod(dir, (mode & ~S_IFMT) | S_IFDIR);
    inc_nlink(dir);
    return inode;
  },
  unlink: simple_unlink,
  rmdir: simple_rmdir,
  rename: simple_rename,
  setattr: hugetlbfs_setattr,
};

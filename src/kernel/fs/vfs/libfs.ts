/**
 * Library helpers for simple in-memory filesystems (fs/libfs.c: simple_lookup,
 * dcache_readdir / offset_readdir, dcache_dir_lseek, generic_read_dir,
 * simple_setattr, simple_unlink, simple_rmdir, simple_rename).
 */
import { Errno } from '../../../lib/errno.ts';
import { DT_DIR, S_IFDIR, SEEK_CUR, SEEK_SET } from '../../../uapi/fcntl.ts';
import { d_make_root, simple_empty, type Dentry } from './dcache.ts';
import type { File } from './file.ts';
import {
  current_time,
  drop_nlink,
  dt_type,
  inc_nlink,
  isDir,
  NAME_MAX,
  new_inode,
  type DirContext,
  type FileOperations,
  type Iattr,
  type Inode,
} from './inode.ts';
import { byteLength } from './namei.ts';
import { SuperBlock, simple_statfs, type FileSystemType } from './super.ts';

/** simple_lookup(): a name not in the dcache does not exist (dcache-only filesystems). */
export function simple_lookup(_dir: Inode, dentry: Dentry): Inode | null {
  if (byteLength(dentry.d_name) > NAME_MAX) throw new Errno('ENAMETOOLONG');
  return null;
}

/** dir_emit_dots(): "." and ".." at positions 0 and 1. */
export function dir_emit_dots(file: File, ctx: DirContext): boolean {
  const dentry = file.f_path.dentry;
  if (ctx.pos === 0) {
    if (!ctx.emit('.', dentry.d_inode!.i_ino, DT_DIR)) return false;
    ctx.pos = 1;
  }
  if (ctx.pos === 1) {
    if (!ctx.emit('..', dentry.d_parent.d_inode!.i_ino, DT_DIR)) return false;
    ctx.pos = 2;
  }
  return true;
}

/**
 * dcache_readdir() with Linux 6.6+'s stable offsets (offset_readdir): children in
 * the order they were linked into the directory; a rename re-links at the end.
 */
export function dcache_readdir(file: File, ctx: DirContext): void {
  if (!dir_emit_dots(file, ctx)) return;
  for (const child of file.f_path.dentry.d_subdirs.values()) {
    if (child.d_offset < ctx.pos) continue;
    const inode = child.d_inode!;
    if (!ctx.emit(child.d_name, inode.i_ino, dt_type(inode.i_mode))) return;
    ctx.pos = child.d_offset + 1;
  }
}

/** dcache_dir_lseek() / offset_dir_llseek(): SEEK_SET and SEEK_CUR only. */
export function dcache_dir_lseek(file: File, offset: number, whence: number): number {
  let off = offset;
  if (whence === SEEK_CUR) off += file.f_pos;
  else if (whence !== SEEK_SET) throw new Errno('EINVAL');
  if (off < 0) throw new Errno('EINVAL');
  file.f_pos = off;
  return off;
}

/** generic_read_dir(): read(2) on a directory. */
export function generic_read_dir(): Uint8Array {
  throw new Errno('EISDIR');
}

/** simple_dir_operations. */
export const simple_dir_operations: FileOperations = {
  read: generic_read_dir,
  llseek: dcache_dir_lseek,
  iterate: dcache_readdir,
};

/** simple_setattr(): apply a size change to i_size only (no page cache to trim). */
export function simple_setattr(dentry: Dentry, attr: Iattr): void {
  const inode = dentry.d_inode!;
  if (attr.size !== undefined && attr.size !== inode.i_size) {
    inode.i_size = attr.size;
    inode.i_mtime = inode.i_ctime = current_time(inode);
  }
  if (attr.mode !== undefined) inode.i_mode = attr.mode;
}

/**
 * init_pseudo(): a filesystem type for kernel-internal objects (pipefs, the
 * console's devpts stand-in): one superblock per kern_mount, a bare root, statfs
 * as simple_statfs.
 */
export function init_pseudo(name: string, magic: number, clockNs: () => number): FileSystemType {
  const type: FileSystemType = {
    name,
    fs_flags: 0,
    mount(): SuperBlock {
      const sb = new SuperBlock(type, magic, 4096, { statfs: simple_statfs }, clockNs);
      const root = new_inode(sb, S_IFDIR | 0o755);
      root.i_nlink = 2;
      root.i_fop = simple_dir_operations;
      sb.s_root = d_make_root(root);
      return sb;
    },
  };
  return type;
}

/** simple_unlink(): the name goes; the inode loses a link. */
export function simple_unlink(dir: Inode, dentry: Dentry): void {
  const inode = dentry.d_inode!;
  inode.i_ctime = dir.i_ctime = dir.i_mtime = current_time(inode);
  drop_nlink(inode);
}

/** simple_rmdir(): ENOTEMPTY unless empty; the directory and its parent lose a link each. */
export function simple_rmdir(dir: Inode, dentry: Dentry): void {
  if (!simple_empty(dentry)) throw new Errno('ENOTEMPTY');
  drop_nlink(dentry.d_inode!);
  simple_unlink(dir, dentry);
  drop_nlink(dir);
}

/** simple_rename() as an inode operation (flags 0; the VFS refuses the others first). */
export function simple_rename(oldDir: Inode, oldDentry: Dentry, newDir: Inode, newDentry: Dentry, _flags = 0): void {
  simple_rename_unlink(oldDir, oldDentry, newDir, newDentry, simple_unlink);
}

/**
 * The body of simple_rename: a target that exists must be an empty directory or a
 * file, and is unlinked with `unlink` (the filesystem's own, so its accounting
 * follows); directory link counts move.
 */
export function simple_rename_unlink(
  oldDir: Inode,
  oldDentry: Dentry,
  newDir: Inode,
  newDentry: Dentry,
  unlink: (dir: Inode, dentry: Dentry) => void,
): void {
  const theyAreDirs = isDir(oldDentry.d_inode!);
  if (newDentry.d_inode && !simple_empty(newDentry)) throw new Errno('ENOTEMPTY');
  if (newDentry.d_inode) {
    unlink(newDir, newDentry);
    if (theyAreDirs) {
      drop_nlink(newDentry.d_inode);
      drop_nlink(oldDir);
    }
  } else if (theyAreDirs) {
    drop_nlink(oldDir);
    inc_nlink(newDir);
  }
  const now = current_time(oldDir);
  oldDir.i_ctime = oldDir.i_mtime = newDir.i_ctime = newDir.i_mtime = oldDentry.d_inode!.i_ctime = now;
}

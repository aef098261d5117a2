/**
 * stat(2), lstat(2), fstat(2), statfs(2), fstatfs(2) (fs/stat.c: generic_fillattr,
 * vfs_getattr, vfs_statx; fs/statfs.c: vfs_statfs, calculate_f_flags).
 */
import { Errno } from '../../../lib/errno.ts';
import type { Stat, Statfs } from '../../../uapi/fcntl.ts';
import { new_encode_dev } from './char_dev.ts';
import type { Dentry } from './dcache.ts';
import {
  MNT_NOATIME,
  MNT_NODEV,
  MNT_NODIRATIME,
  MNT_NOEXEC,
  MNT_NOSUID,
  MNT_NOSYMFOLLOW,
  MNT_RELATIME,
  mnt_is_readonly,
  type Path,
} from './mount.ts';
import { filename_lookup, LOOKUP_FOLLOW, type WalkRoot } from './namei.ts';
import {
  SB_MANDLOCK,
  SB_SYNCHRONOUS,
  ST_MANDLOCK,
  ST_NOATIME,
  ST_NODEV,
  ST_NODIRATIME,
  ST_NOEXEC,
  ST_NOSUID,
  ST_NOSYMFOLLOW,
  ST_RDONLY,
  ST_RELATIME,
  ST_SYNCHRONOUS,
  ST_VALID,
} from './super.ts';

/** generic_fillattr() + ->getattr. */
export function vfs_getattr(dentry: Dentry): Stat {
  const inode = dentry.d_inode!;
  const st: Stat = {
    dev: new_encode_dev(inode.i_sb.s_dev),
    ino: inode.i_ino,
    mode: inode.i_mode,
    nlink: inode.i_nlink,
    uid: inode.i_uid,
    gid: inode.i_gid,
    rdev: new_encode_dev(inode.i_rdev),
    size: inode.i_size,
    blksize: inode.i_sb.s_blocksize,
    blocks: inode.i_blocks,
    atimeNs: inode.i_atime,
    mtimeNs: inode.i_mtime,
    ctimeNs: inode.i_ctime,
  };
  inode.i_op.getattr?.(dentry, st);
  return st;
}

/** vfs_stat() / vfs_lstat(). */
export function vfs_stat(vfs: WalkRoot, cwd: Path, name: string, follow: boolean): Stat {
  return vfs_getattr(filename_lookup(vfs, cwd, name, follow ? LOOKUP_FOLLOW : 0).dentry);
}

/** calculate_f_flags(): ST_* from the mount and superblock flags. */
function calculate_f_flags(path: Path): number {
  const m = path.mnt.mnt_flags;
  const s = path.mnt.mnt_sb.s_flags;
  let f = ST_VALID;
  if (mnt_is_readonly(path.mnt)) f |= ST_RDONLY;
  if (m & MNT_NOSUID) f |= ST_NOSUID;
  if (m & MNT_NODEV) f |= ST_NODEV;
  if (m & MNT_NOEXEC) f |= ST_NOEXEC;
  if (m & MNT_NOATIME) f |= ST_NOATIME;
  if (m & MNT_NODIRATIME) f |= ST_NODIRATIME;
  if (m & MNT_RELATIME) f |= ST_RELATIME;
  if (m & MNT_NOSYMFOLLOW) f |= ST_NOSYMFOLLOW;
  if (s & SB_SYNCHRONOUS) f |= ST_SYNCHRONOUS;
  if (s & SB_MANDLOCK) f |= ST_MANDLOCK;
  return f;
}

/** vfs_statfs(): ENOSYS when the filesystem has no ->statfs. */
export function vfs_statfs(path: Path): Statfs {
  const sb = path.dentry.d_sb;
  if (!sb.s_op.statfs) throw new Errno('ENOSYS');
  const k = sb.s_op.statfs(path.dentry);
  return { ...k, frsize: k.frsize || k.bsize, flags: calculate_f_flags(path) };
}

/** user_statfs(). */
export function user_statfs(vfs: WalkRoot, cwd: Path, name: string): Statfs {
  return vfs_statfs(filename_lookup(vfs, cwd, name, LOOKUP_FOLLOW));
}

/**
 * The namespace-changing system calls of fs/namei.c: do_mkdirat/vfs_mkdir,
 * do_rmdir/vfs_rmdir, do_unlinkat/vfs_unlink, do_renameat2/vfs_rename, with
 * may_create/may_delete and lock_rename's ancestry trap, checked in Linux's order.
 */
import { Errno } from '../../../lib/errno.ts';
import { S_IFDIR } from '../../../uapi/fcntl.ts';
import { d_add, d_ancestor, d_delete, d_move, IS_ROOT, type Dentry } from './dcache.ts';
import { isDir, iput_final, S_DEAD, type Inode } from './inode.ts';
import type { Path } from './mount.ts';
import {
  d_inode,
  filename_parentat,
  LAST_DOT,
  LAST_DOTDOT,
  LAST_NORM,
  LAST_ROOT,
  lookup_one,
  mnt_want_write,
  type WalkRoot,
} from './namei.ts';

/** IS_DEADDIR(). */
function is_deaddir(dir: Inode): boolean {
  return (dir.i_flags & S_DEAD) !== 0;
}

/** is_local_mountpoint(). */
function is_mountpoint(d: Dentry): boolean {
  return d.d_mounted > 0;
}

/** may_create(): the name must be free and the directory alive. */
export function may_create(dir: Inode, child: Dentry): void {
  if (child.d_inode) throw new Errno('EEXIST');
  if (is_deaddir(dir)) throw new Errno('ENOENT');
}

/** may_delete(): the victim must exist and be of the kind the caller removes. */
export function may_delete(dir: Inode, victim: Dentry, isdir: boolean): void {
  if (!victim.d_inode) throw new Errno('ENOENT');
  if (isdir) {
    if (!isDir(victim.d_inode)) throw new Errno('ENOTDIR');
    if (IS_ROOT(victim)) throw new Errno('EBUSY');
  } else if (isDir(victim.d_inode)) {
    throw new Errno('EISDIR');
  }
  if (is_deaddir(dir)) throw new Errno('ENOENT');
}

/** vfs_mkdir(). */
export function vfs_mkdir(dir: Inode, dentry: Dentry, mode: number): Inode {
  may_create(dir, dentry);
  if (!dir.i_op.mkdir) throw new Errno('EPERM');
  const inode = dir.i_op.mkdir(dir, dentry, (mode & 0o7777) | S_IFDIR);
  d_add(dentry, inode);
  return inode;
}

/** do_mkdirat(): mkdir(2). */
export function do_mkdirat(vfs: WalkRoot, cwd: Path, name: string, mode: number): void {
  const nd = filename_parentat(vfs, cwd, name);
  // "foo/.", "foo/..", "/": there is no last component to create (filename_create).
  if (nd.lastType !== LAST_NORM) throw new Errno('EEXIST');
  mnt_want_write(nd.path.mnt);
  const dentry = lookup_one(nd.path.dentry, nd.last);
  if (dentry.d_inode) throw new Errno('EEXIST');
  vfs_mkdir(d_inode(nd.path.dentry), dentry, mode);
}

/** vfs_rmdir(). */
export function vfs_rmdir(dir: Inode, dentry: Dentry): void {
  may_delete(dir, dentry, true);
  if (!dir.i_op.rmdir) throw new Errno('EPERM');
  if (is_mountpoint(dentry)) throw new Errno('EBUSY');
  dir.i_op.rmdir(dir, dentry);
  const inode = d_inode(dentry);
  inode.i_flags |= S_DEAD;
  d_delete(dentry);
  iput_final(inode);
}

/** do_rmdir(): rmdir(2). */
export function do_rmdir(vfs: WalkRoot, cwd: Path, name: string): void {
  const nd = filename_parentat(vfs, cwd, name);
  if (nd.lastType === LAST_DOTDOT) throw new Errno('ENOTEMPTY');
  if (nd.lastType === LAST_DOT) throw new Errno('EINVAL');
  if (nd.lastType === LAST_ROOT) throw new Errno('EBUSY');
  mnt_want_write(nd.path.mnt);
  const dentry = lookup_one(nd.path.dentry, nd.last);
  if (!dentry.d_inode) throw new Errno('ENOENT');
  vfs_rmdir(d_inode(nd.path.dentry), dentry);
}

/** vfs_unlink(). */
export function vfs_unlink(dir: Inode, dentry: Dentry): void {
  may_delete(dir, dentry, false);
  if (!dir.i_op.unlink) throw new Errno('EPERM');
  if (is_mountpoint(dentry)) throw new Errno('EBUSY');
  dir.i_op.unlink(dir, dentry);
  const inode = d_inode(dentry);
  d_delete(dentry);
  iput_final(inode);
}

/** do_unlinkat(): unlink(2). */
export function do_unlinkat(vfs: WalkRoot, cwd: Path, name: string): void {
  const nd = filename_parentat(vfs, cwd, name);
  if (nd.lastType !== LAST_NORM) throw new Errno('EISDIR');
  mnt_want_write(nd.path.mnt);
  const dentry = lookup_one(nd.path.dentry, nd.last);
  // "slashes": a trailing slash, or nothing there — pick the errno the object earns.
  if (nd.trailing || !dentry.d_inode) {
    if (!dentry.d_inode) throw new Errno('ENOENT');
    throw new Errno(isDir(dentry.d_inode) ? 'EISDIR' : 'ENOTDIR');
  }
  vfs_unlink(d_inode(nd.path.dentry), dentry);
}

/** lock_rename(): the dentry whose involvement would create a loop, or null. */
function lock_rename(p1: Dentry, p2: Dentry): Dentry | null {
  if (p1 === p2) return null;
  return d_ancestor(p2, p1) ?? d_ancestor(p1, p2);
}

/** vfs_rename(). */
export function vfs_rename(oldDir: Inode, oldDentry: Dentry, newDir: Inode, newDentry: Dentry): void {
  const source = d_inode(oldDentry);
  const target = newDentry.d_inode;
  if (source === target) return;
  const is_dir = isDir(source);
  may_delete(oldDir, oldDentry, is_dir);
  if (!target) may_create(newDir, newDentry);
  else may_delete(newDir, newDentry, is_dir);
  if (!oldDir.i_op.rename) throw new Errno('EPERM');
  if (is_mountpoint(oldDentry) || is_mountpoint(newDentry)) throw new Errno('EBUSY');
  oldDir.i_op.rename(oldDir, oldDentry, newDir, newDentry, 0);
  if (target) {
    if (is_dir) target.i_flags |= S_DEAD;
    d_delete(newDentry);
    iput_final(target);
  }
  d_move(oldDentry, newDentry.d_parent, newDentry.d_name);
}

/** do_renameat2(): rename(2). */
export function do_renameat2(vfs: WalkRoot, cwd: Path, oldname: string, newname: string): void {
  const oldNd = filename_parentat(vfs, cwd, oldname);
  const newNd = filename_parentat(vfs, cwd, newname);
  if (oldNd.path.mnt !== newNd.path.mnt) throw new Errno('EXDEV');
  if (oldNd.lastType !== LAST_NORM) throw new Errno('EBUSY');
  if (newNd.lastType !== LAST_NORM) throw new Errno('EBUSY');
  mnt_want_write(oldNd.path.mnt);
  const trap = lock_rename(newNd.path.dentry, oldNd.path.dentry);
  const oldDentry = lookup_one(oldNd.path.dentry, oldNd.last);
  if (!oldDentry.d_inode) throw new Errno('ENOENT');
  const newDentry = lookup_one(newNd.path.dentry, newNd.last);
  if (!isDir(oldDentry.d_inode) && (oldNd.trailing || newNd.trailing)) throw new Errno('ENOTDIR');
  // source should not be an ancestor of the target
  if (oldDentry === trap) throw new Errno('EINVAL');
  // target should not be an ancestor of the source
  if (newDentry === trap) throw new Errno('ENOTEMPTY');
  vfs_rename(d_inode(oldNd.path.dentry), oldDentry, d_inode(newNd.path.dentry), newDentry);
}

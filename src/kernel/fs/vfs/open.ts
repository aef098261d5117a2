/**
 * open(2), truncate(2), ftruncate(2), fallocate(2), chdir(2) and getcwd(2)
 * (fs/open.c: build_open_flags, do_dentry_open, do_truncate, vfs_truncate,
 * do_sys_ftruncate, vfs_fallocate, chdir; fs/namei.c: open_last_lookups,
 * lookup_open, do_open, may_open; fs/attr.c notify_change; fs/d_path.c).
 */
import { Errno } from '../../../lib/errno.ts';
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
  O_ACCMODE,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOCTTY,
  O_NOFOLLOW,
  O_TRUNC,
  S_IFREG,
} from '../../../uapi/fcntl.ts';
import { d_add, d_unlinked, type Dentry } from './dcache.ts';
import { File, FMODE_CAN_READ, FMODE_CAN_WRITE, FMODE_CREATED, FMODE_READ, FMODE_WRITE } from './file.ts';
import {
  inode_newsize_ok,
  isChr,
  isDir,
  isFifo,
  isLnk,
  isReg,
  type Iattr,
  type Inode,
} from './inode.ts';
import { simple_setattr } from './libfs.ts';
import { mntget, MNT_NODEV, mnt_is_readonly, type Path } from './mount.ts';
import {
  d_inode,
  filename_lookup,
  filename_parentat,
  LAST_NORM,
  LOOKUP_DIRECTORY,
  LOOKUP_FOLLOW,
  lookup_last,
  lookup_one,
  mnt_want_write,
  step_into_dentry,
  type WalkRoot,
} from './namei.ts';

/** FALLOC_FL_UNSHARE_RANGE (not in uapi/fcntl.ts). */
export const FALLOC_FL_UNSHARE_RANGE = 0x40;
/** Every mode bit vfs_fallocate knows (FALLOC_FL_SUPPORTED_MASK). */
export const FALLOC_FL_SUPPORTED_MASK = 0x7f;

const MAY_WRITE = 2;
const MAY_READ = 4;

/** ACC_MODE(): the permission an open asks for. */
function acc_mode(flags: number): number {
  return [MAY_READ, MAY_WRITE, MAY_READ | MAY_WRITE, MAY_READ | MAY_WRITE][flags & O_ACCMODE]!;
}

/** notify_change(): validate and apply an attribute change through ->setattr. */
export function notify_change(dentry: Dentry, attr: Iattr): void {
  const inode = d_inode(dentry);
  if (attr.size !== undefined) inode_newsize_ok(inode, attr.size); // setattr_prepare
  (inode.i_op.setattr ?? simple_setattr)(dentry, attr);
}

/** do_truncate(). */
export function do_truncate(dentry: Dentry, length: number, touchTimes: boolean, file: File | null): void {
  if (length < 0) throw new Errno('EINVAL');
  notify_change(dentry, { size: length, touchTimes, file });
}

/** may_open(): what the object's type allows. */
function may_open(path: Path, acc: number): void {
  const inode = d_inode(path.dentry);
  if (isLnk(inode)) throw new Errno('ELOOP');
  if (isDir(inode) && acc & MAY_WRITE) throw new Errno('EISDIR');
  if (isChr(inode) && path.mnt.mnt_flags & MNT_NODEV) throw new Errno('EACCES');
  // inode_permission(): root passes mode bits, but not a read-only mount.
  if (acc & MAY_WRITE && mnt_is_readonly(path.mnt) && (isReg(inode) || isDir(inode))) throw new Errno('EROFS');
}

/** do_dentry_open(): build the struct file and call ->open. */
export function do_dentry_open(path: Path, inode: Inode, flags: number): File {
  const f = new File(path, inode, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC), inode.i_fop);
  try {
    if (f.f_mode & FMODE_WRITE && (isReg(inode) || isDir(inode))) mnt_want_write(path.mnt);
    f.f_op.open?.(inode, f); // may replace f_op (chrdev_open)
  } catch (e) {
    f.discard();
    throw e;
  }
  if (f.f_mode & FMODE_READ && f.f_op.read) f.f_mode |= FMODE_CAN_READ;
  if (f.f_mode & FMODE_WRITE && f.f_op.write) f.f_mode |= FMODE_CAN_WRITE;
  return f;
}

/** do_sys_open() → path_openat(): open(2). `mode` is applied as given (the caller strips its umask). */
export function do_sys_open(vfs: WalkRoot, cwd: Path, name: string, flags: number, mode: number): File {
  // build_open_flags(): O_CREAT|O_DIRECTORY is invalid since Linux 6.4.
  if ((flags & (O_CREAT | O_DIRECTORY)) === (O_CREAT | O_DIRECTORY)) throw new Errno('EINVAL');
  let acc = acc_mode(flags);
  if (flags & O_TRUNC) acc |= MAY_WRITE;
  const nd = filename_parentat(vfs, cwd, name);
  let path: Path;
  let created = false;
  if (!(flags & O_CREAT)) {
    path = lookup_last(vfs, nd, !(flags & O_NOFOLLOW));
  } else {
    // open_last_lookups() with O_CREAT: "dir/", ".", ".." cannot be created.
    if (nd.lastType !== LAST_NORM || nd.trailing) throw new Errno('EISDIR');
    const dir = d_inode(nd.path.dentry);
    const dentry = lookup_one(nd.path.dentry, nd.last);
    if (!dentry.d_inode) {
      if (mnt_is_readonly(nd.path.mnt)) throw new Errno('EROFS');
      if (!dir.i_op.create) throw new Errno('EACCES');
      d_add(dentry, dir.i_op.create(dir, dentry, (mode & 0o7777) | S_IFREG));
      created = true;
      path = { mnt: nd.path.mnt, dentry };
    } else {
      // O_CREAT|O_EXCL implies O_NOFOLLOW.
      path = step_into_dentry(vfs, nd.path, dentry, !(flags & (O_EXCL | O_NOFOLLOW)));
    }
  }
  // do_open()
  const inode = d_inode(path.dentry);
  if (flags & O_CREAT) {
    if (flags & O_EXCL && !created) throw new Errno('EEXIST');
    if (isDir(inode)) throw new Errno('EISDIR');
  }
  if (flags & O_DIRECTORY && !isDir(inode)) throw new Errno('ENOTDIR');
  let truncate = false;
  if (created) acc = 0;
  else if (isReg(inode) && flags & O_TRUNC) {
    mnt_want_write(path.mnt);
    truncate = true;
  }
  may_open(path, acc);
  const file = do_dentry_open(path, inode, flags);
  if (created) file.f_mode |= FMODE_CREATED;
  if (truncate) {
    try {
      do_truncate(path.dentry, 0, true, file); // handle_truncate
    } catch (e) {
      file.fput();
      throw e;
    }
  }
  return file;
}

/** vfs_truncate(). */
export function vfs_truncate(path: Path, length: number): void {
  const inode = d_inode(path.dentry);
  // For directories it's EISDIR, for other non-regulars EINVAL.
  if (isDir(inode)) throw new Errno('EISDIR');
  if (!isReg(inode)) throw new Errno('EINVAL');
  mnt_want_write(path.mnt);
  do_truncate(path.dentry, length, false, null);
}

/** do_sys_truncate(): truncate(2). */
export function do_sys_truncate(vfs: WalkRoot, cwd: Path, name: string, length: number): void {
  if (length < 0) throw new Errno('EINVAL');
  vfs_truncate(filename_lookup(vfs, cwd, name, LOOKUP_FOLLOW), length);
}

/** do_sys_ftruncate(): ftruncate(2). */
export function do_sys_ftruncate(file: File, length: number): void {
  if (length < 0) throw new Errno('EINVAL');
  if (!isReg(file.f_inode) || !(file.f_mode & FMODE_WRITE)) throw new Errno('EINVAL');
  do_truncate(file.f_path.dentry, length, true, file);
}

/** vfs_fallocate(): fallocate(2), with Linux's order of checks. */
export function vfs_fallocate(file: File, mode: number, offset: number, len: number): void {
  const inode = file.f_inode;
  if (offset < 0 || len <= 0) throw new Errno('EINVAL');
  if (mode & ~FALLOC_FL_SUPPORTED_MASK) throw new Errno('EOPNOTSUPP');
  // Punch hole and zero range are mutually exclusive.
  if ((mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) === (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
    throw new Errno('EOPNOTSUPP');
  // Punch hole must have keep size set.
  if (mode & FALLOC_FL_PUNCH_HOLE && !(mode & FALLOC_FL_KEEP_SIZE)) throw new Errno('EOPNOTSUPP');
  // Collapse and insert range must be used alone; unshare only with keep size.
  if (mode & FALLOC_FL_COLLAPSE_RANGE && mode & ~FALLOC_FL_COLLAPSE_RANGE) throw new Errno('EINVAL');
  if (mode & FALLOC_FL_INSERT_RANGE && mode & ~FALLOC_FL_INSERT_RANGE) throw new Errno('EINVAL');
  if (mode & FALLOC_FL_UNSHARE_RANGE && mode & ~(FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE))
    throw new Errno('EINVAL');
  if (!(file.f_mode & FMODE_WRITE)) throw new Errno('EBADF');
  if (isFifo(inode)) throw new Errno('ESPIPE');
  if (isDir(inode)) throw new Errno('EISDIR');
  if (!isReg(inode)) throw new Errno('ENODEV');
  // Check for wrap through zero too.
  if (offset + len > inode.i_sb.s_maxbytes) throw new Errno('EFBIG');
  if (!file.f_op.fallocate) throw new Errno('EOPNOTSUPP');
  file.f_op.fallocate(file, mode, offset, len);
}

/** chdir(2): the new cwd, with a mount reference the caller drops with path_put(). */
export function do_chdir(vfs: WalkRoot, cwd: Path, name: string): Path {
  const path = filename_lookup(vfs, cwd, name, LOOKUP_FOLLOW | LOOKUP_DIRECTORY);
  mntget(path.mnt);
  return path;
}

/**
 * d_path(): the name of a path from the namespace root, " (deleted)" when
 * unlinked. A path on an internal mount (memfd, pipes) is named from that mount's
 * root, as "/memfd:NAME (deleted)".
 */
export function d_path(vfs: WalkRoot, path: Path): string {
  const dname = path.dentry.d_op?.d_dname;
  if (dname) return dname(path.dentry);
  const root = vfs.rootPath();
  const parts: string[] = [];
  let p = path;
  for (;;) {
    if (p.dentry === root.dentry && p.mnt === root.mnt) break;
    if (p.dentry === p.mnt.mnt_root) {
      if (p.mnt.mnt_parent === p.mnt) break;
      p = { mnt: p.mnt.mnt_parent, dentry: p.mnt.mnt_mountpoint };
      continue;
    }
    parts.push(p.dentry.d_name);
    p = { mnt: p.mnt, dentry: p.dentry.d_parent };
  }
  return '/' + parts.reverse().join('/') + (d_unlinked(path.dentry) ? ' (deleted)' : '');
}

/** getcwd(2): ENOENT once the directory has been removed. */
export function do_getcwd(vfs: WalkRoot, cwd: Path): string {
  if (d_unlinked(cwd.dentry)) throw new Errno('ENOENT');
  return d_path(vfs, cwd);
}

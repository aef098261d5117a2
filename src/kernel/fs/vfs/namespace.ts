/**
 * The mount tree and mount(2)/umount2(2) (fs/namespace.c: path_mount,
 * do_new_mount, do_add_mount, graft_tree, do_loopback, do_remount, path_umount,
 * can_umount, do_umount, show_vfsmnt via fs/proc_namespace.c; fs/super.c
 * get_anon_bdev / deactivate_super).
 */
import { Errno } from '../../../lib/errno.ts';
import { MNT_DETACH, MNT_FORCE } from '../../../uapi/fcntl.ts';
import { isDir } from './inode.ts';
import {
  Mount,
  MNT_NOATIME,
  MNT_NODEV,
  MNT_NODIRATIME,
  MNT_NOEXEC,
  MNT_NOSUID,
  MNT_NOSYMFOLLOW,
  MNT_READONLY,
  MNT_RELATIME,
  mnt_is_readonly,
  type Path,
} from './mount.ts';
import { d_inode, filename_lookup, LOOKUP_FOLLOW, type WalkRoot } from './namei.ts';
import { d_path } from './open.ts';
import { SB_DIRSYNC, SB_KERNMOUNT, SB_LAZYTIME, SB_MANDLOCK, SB_RDONLY, SB_SYNCHRONOUS, type FileSystemType, type SuperBlock } from './super.ts';

/** mount(2) flags beyond those in uapi/fcntl.ts (include/uapi/linux/mount.h). */
export const MS_SYNCHRONOUS = 16;
export const MS_MANDLOCK = 64;
export const MS_DIRSYNC = 128;
export const MS_NOSYMFOLLOW = 256;
export const MS_NOATIME = 1024;
export const MS_NODIRATIME = 2048;
export const MS_MOVE = 8192;
export const MS_REC = 16384;
export const MS_SILENT = 32768;
export const MS_STRICTATIME = 1 << 24;
export const MS_LAZYTIME = 1 << 25;
const MS_RDONLY = 1;
const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;
const MS_REMOUNT = 32;
const MS_BIND = 4096;
/** umount2 flags. */
export const MNT_EXPIRE = 4;
export const UMOUNT_NOFOLLOW = 8;

/** One row of the mount table, for callers that iterate it. */
export interface MountInfo {
  mnt: Mount;
  /** Where it is mounted, from the namespace root. */
  path: string;
  fstype: string;
  devname: string;
  sb: SuperBlock;
}

/** Escape ' ', '\t', '\n' and '\\' as octal, as seq_path/mangle do. */
function mangle(s: string): string {
  return s.replace(/[ \t\n\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}

/** A mount namespace: the tree of mounts and its root. */
export class MountNamespace implements WalkRoot {
  private root: Mount | null = null;
  /** Attached mounts in the order they were mounted (mnt_list). */
  private readonly list: Mount[] = [];
  private nextId = 21;
  private readonly anonDevs = new Set<number>();

  constructor(private readonly getType: (name: string) => FileSystemType | undefined) {}

  /** The namespace root (the process root: the model has no chroot). */
  rootPath(): Path {
    if (!this.root) throw new Error('no root filesystem mounted');
    return { mnt: this.root, dentry: this.root.mnt_root };
  }

  /** get_anon_bdev(): the lowest free minor of major 0. */
  private get_anon_bdev(sb: SuperBlock): void {
    if (sb.s_dev !== 0) return;
    let m = 1;
    while (this.anonDevs.has(m)) m++;
    this.anonDevs.add(m);
    sb.s_dev = m;
  }

  /** vfs_create_mount(): a mount of `sb` rooted at `root`, holding an active reference. */
  private alloc_mnt(sb: SuperBlock, flags: number, devname: string, root = sb.s_root): Mount {
    this.get_anon_bdev(sb);
    sb.s_active++;
    const m = new Mount(this.nextId++, sb, root, flags, devname);
    m.onRelease = (mnt) => this.deactivate_super(mnt.mnt_sb);
    return m;
  }

  /** deactivate_super(): the last mount of a superblock is gone — kill it. */
  private deactivate_super(sb: SuperBlock): void {
    if (--sb.s_active > 0) return;
    sb.s_op.put_super?.(sb);
    sb.s_type.kill_sb?.(sb);
    this.anonDevs.delete(sb.s_dev);
    sb.s_dev = 0;
  }

  /** Mount the root filesystem ("/"). */
  mount_root(type: FileSystemType, data: string, devname = 'none'): Path {
    if (this.root) throw new Errno('EBUSY');
    const sb = type.mount(devname, 0, data);
    const m = this.alloc_mnt(sb, MNT_RELATIME, devname);
    m.attached = true;
    this.root = m;
    this.list.push(m);
    return this.rootPath();
  }

  /**
   * kern_mount() (flags SB_KERNMOUNT) / vfs_kern_mount() (flags 0): an internal
   * mount user space never sees (shm_mnt, pipefs, devtmpfs's own mount).
   */
  kern_mount(type: FileSystemType, data = '', flags = SB_KERNMOUNT): Mount {
    const sb = type.mount(type.name, flags, data);
    sb.s_flags |= flags;
    const m = this.alloc_mnt(sb, 0, type.name);
    m.onRelease = null; // kern_mount()s live as long as the host
    return m;
  }

  /** graft_tree() + commit_tree(): attach `child` on `mp`, hiding what is there. */
  private graft_tree(child: Mount, mp: Path): void {
    if (isDir(d_inode(mp.dentry)) !== isDir(d_inode(child.mnt_root))) throw new Errno('ENOTDIR');
    child.mnt_parent = mp.mnt;
    child.mnt_mountpoint = mp.dentry;
    child.attached = true;
    mp.mnt.mnt_mounts.set(mp.dentry, child);
    mp.dentry.d_mounted++;
    this.list.push(child);
  }

  /** Undo alloc_mnt for a mount that never got attached. */
  private drop_unattached(m: Mount): void {
    m.onRelease = null;
    this.deactivate_super(m.mnt_sb);
  }

  /** path_mount(): mount(2). */
  do_mount(cwd: Path, source: string, target: string, fstype: string, flags: number, data: string): void {
    const path = filename_lookup(this, cwd, target, LOOKUP_FOLLOW);
    let f = flags;
    // Discard the old magic (MS_MGC_VAL 0xC0ED in the top 16 bits).
    if (Math.floor(f / 65536) % 65536 === 0xc0ed) f %= 65536;
    let mnt_flags = 0;
    if (!(f & MS_NOATIME)) mnt_flags |= MNT_RELATIME; // default to relatime
    if (f & MS_NOSUID) mnt_flags |= MNT_NOSUID;
    if (f & MS_NODEV) mnt_flags |= MNT_NODEV;
    if (f & MS_NOEXEC) mnt_flags |= MNT_NOEXEC;
    if (f & MS_NOATIME) mnt_flags |= MNT_NOATIME;
    if (f & MS_NODIRATIME) mnt_flags |= MNT_NODIRATIME;
    if (f & MS_STRICTATIME) mnt_flags &= ~(MNT_RELATIME | MNT_NOATIME);
    if (f & MS_RDONLY) mnt_flags |= MNT_READONLY;
    if (f & MS_NOSYMFOLLOW) mnt_flags |= MNT_NOSYMFOLLOW;
    const sb_flags = f & (SB_RDONLY | SB_SYNCHRONOUS | SB_MANDLOCK | SB_DIRSYNC | SB_LAZYTIME);
    if (f & MS_REMOUNT) return this.do_remount(path, f, sb_flags, mnt_flags, data);
    if (f & MS_BIND) return this.do_loopback(cwd, path, source, mnt_flags);
    if (f & MS_MOVE) throw new Errno('EINVAL'); // not modelled
    return this.do_new_mount(path, fstype, sb_flags, mnt_flags, source, data);
  }

  /** do_new_mount() + do_add_mount(). */
  private do_new_mount(path: Path, fstype: string, sb_flags: number, mnt_flags: number, name: string, data: string): void {
    if (!fstype) throw new Errno('EINVAL');
    const type = this.getType(fstype);
    if (!type) throw new Errno('ENODEV');
    if (path.dentry.d_unhashed && path.dentry !== path.mnt.mnt_root) throw new Errno('ENOENT'); // cant_mount
    const sb = type.mount(name, sb_flags, data);
    sb.s_flags |= sb_flags & SB_RDONLY;
    const m = this.alloc_mnt(sb, mnt_flags, name || 'none');
    try {
      // Refuse the same filesystem on the same mount point.
      if (path.mnt.mnt_sb === sb && path.mnt.mnt_root === path.dentry) throw new Errno('EBUSY');
      this.graft_tree(m, path);
    } catch (e) {
      this.drop_unattached(m);
      throw e;
    }
  }

  /** do_loopback(): a bind mount of `oldName` on `path`. */
  private do_loopback(cwd: Path, path: Path, oldName: string, mnt_flags: number): void {
    const old = filename_lookup(this, cwd, oldName, LOOKUP_FOLLOW);
    const m = this.alloc_mnt(old.mnt.mnt_sb, old.mnt.mnt_flags | (mnt_flags & MNT_READONLY), old.mnt.mnt_devname, old.dentry);
    try {
      this.graft_tree(m, path);
    } catch (e) {
      this.drop_unattached(m);
      throw e;
    }
  }

  /** do_remount(): only at a mount's root; the filesystem re-parses its options. */
  private do_remount(path: Path, flags: number, sb_flags: number, mnt_flags: number, data: string): void {
    if (!path.mnt.attached) throw new Errno('EINVAL');
    if (path.dentry !== path.mnt.mnt_root) throw new Errno('EINVAL');
    const sb = path.mnt.mnt_sb;
    sb.s_op.remount_fs?.(sb, flags, data);
    sb.s_flags = (sb.s_flags & ~SB_RDONLY) | (sb_flags & SB_RDONLY);
    path.mnt.mnt_flags = mnt_flags;
  }

  /** Detach one mount from the tree; it dies now or with its last reference. */
  private umount_one(m: Mount): void {
    const parent = m.mnt_parent;
    parent.mnt_mounts.delete(m.mnt_mountpoint);
    m.mnt_mountpoint.d_mounted--;
    m.attached = false;
    this.list.splice(this.list.indexOf(m), 1);
    if (m.mnt_count === 0) m.onRelease?.(m);
  }

  /** umount_tree(): a mount and everything mounted below it, children first. */
  private umount_tree(m: Mount): void {
    for (const child of [...m.mnt_mounts.values()]) this.umount_tree(child);
    this.umount_one(m);
  }

  /** ksys_umount() → path_umount(): umount2(2). */
  umount(cwd: Path, target: string, flags: number): void {
    if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) throw new Errno('EINVAL');
    const path = filename_lookup(this, cwd, target, flags & UMOUNT_NOFOLLOW ? 0 : LOOKUP_FOLLOW);
    const mnt = path.mnt;
    // can_umount()
    if (path.dentry !== mnt.mnt_root) throw new Errno('EINVAL');
    if (!mnt.attached) throw new Errno('EINVAL');
    if (flags & MNT_EXPIRE) throw new Errno('EAGAIN');
    // do_umount(): the root would be remounted read-only, which a live system refuses.
    if (mnt === this.root) throw new Errno('EBUSY');
    if (flags & MNT_DETACH) return this.umount_tree(mnt);
    // propagate_mount_busy(): open files, cwds, or anything mounted below.
    if (mnt.mnt_count > 0 || mnt.mnt_mounts.size > 0) throw new Errno('EBUSY');
    this.umount_one(mnt);
  }

  /** The attached mounts, in mount order. */
  *mountpoints(): IterableIterator<MountInfo> {
    for (const mnt of this.list) {
      yield {
        mnt,
        path: d_path(this, { mnt, dentry: mnt.mnt_root }),
        fstype: mnt.mnt_sb.s_type.name,
        devname: mnt.mnt_devname,
        sb: mnt.mnt_sb,
      };
    }
  }

  /** show_vfsmnt(): one line of /proc/mounts. */
  show_vfsmnt(mnt: Mount): string {
    const sb = mnt.mnt_sb;
    let s = `${mangle(mnt.mnt_devname)} ${mangle(d_path(this, { mnt, dentry: mnt.mnt_root }))} ${sb.s_type.name}`;
    s += mnt_is_readonly(mnt) ? ' ro' : ' rw';
    // show_sb_opts()
    if (sb.s_flags & SB_SYNCHRONOUS) s += ',sync';
    if (sb.s_flags & SB_DIRSYNC) s += ',dirsync';
    if (sb.s_flags & SB_MANDLOCK) s += ',mand';
    if (sb.s_flags & SB_LAZYTIME) s += ',lazytime';
    // show_mnt_opts()
    const opts: [number, string][] = [
      [MNT_NOSUID, ',nosuid'],
      [MNT_NODEV, ',nodev'],
      [MNT_NOEXEC, ',noexec'],
      [MNT_NOATIME, ',noatime'],
      [MNT_NODIRATIME, ',nodiratime'],
      [MNT_RELATIME, ',relatime'],
      [MNT_NOSYMFOLLOW, ',nosymfollow'],
    ];
    for (const [bit, text] of opts) if (mnt.mnt_flags & bit) s += text;
    s += sb.s_op.show_options?.(sb, mnt.mnt_root) ?? '';
    return s + ' 0 0\n';
  }

  /** /proc/mounts. */
  proc_mounts(): string {
    return this.list.map((m) => this.show_vfsmnt(m)).join('');
  }
}

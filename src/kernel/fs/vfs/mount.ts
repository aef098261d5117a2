/**
 * struct vfsmount / struct mount and struct path (include/linux/mount.h,
 * fs/mount.h, fs/namespace.c mntget/mntput).
 */
import type { Dentry } from './dcache.ts';
import type { SuperBlock } from './super.ts';

/** mnt_flags (include/linux/mount.h). */
export const MNT_NOSUID = 0x01;
export const MNT_NODEV = 0x02;
export const MNT_NOEXEC = 0x04;
export const MNT_NOATIME = 0x08;
export const MNT_NODIRATIME = 0x10;
export const MNT_RELATIME = 0x20;
export const MNT_READONLY = 0x40;
export const MNT_NOSYMFOLLOW = 0x80;

/** struct mount: one place a superblock's tree is attached. */
export class Mount {
  /** Mount ID (as in /proc/self/mountinfo). */
  readonly mnt_id: number;
  mnt_parent: Mount;
  mnt_mountpoint: Dentry;
  /** Child mounts, by the dentry they are mounted on (only the topmost one per dentry). */
  readonly mnt_mounts = new Map<Dentry, Mount>();
  /**
   * References held by open files and by Paths the host keeps (a process's cwd).
   * The namespace's own reference is not counted: 0 means "not busy".
   */
  mnt_count = 0;
  /** Attached to the mount tree (false for kern_mount and after umount). */
  attached = false;
  /** Called when a detached mount's last reference goes (MNT_DETACH). */
  onRelease: ((m: Mount) => void) | null = null;

  constructor(
    id: number,
    readonly mnt_sb: SuperBlock,
    readonly mnt_root: Dentry,
    public mnt_flags: number,
    readonly mnt_devname: string,
  ) {
    this.mnt_id = id;
    this.mnt_parent = this;
    this.mnt_mountpoint = mnt_root;
  }
}

/** struct path: a (mount, dentry) pair. */
export interface Path {
  readonly mnt: Mount;
  readonly dentry: Dentry;
}

/** mntget(). */
export function mntget(mnt: Mount): Mount {
  mnt.mnt_count++;
  return mnt;
}

/** mntput(): a detached mount dies with its last reference. */
export function mntput(mnt: Mount): void {
  mnt.mnt_count--;
  if (mnt.mnt_count === 0 && !mnt.attached) mnt.onRelease?.(mnt);
}

/** __mnt_is_readonly(). */
export function mnt_is_readonly(mnt: Mount): boolean {
  return (mnt.mnt_flags & MNT_READONLY) !== 0 || (mnt.mnt_sb.s_flags & 1) !== 0;
}

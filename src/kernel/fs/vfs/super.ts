/**
 * struct super_block, super_operations and file_system_type (include/linux/fs.h,
 * fs/super.c, fs/libfs.c simple_statfs, fs/statfs.c flags).
 */
import type { Statfs } from '../../../uapi/fcntl.ts';
import type { Dentry } from './dcache.ts';
import type { Inode } from './inode.ts';
import { MAX_LFS_FILESIZE, NAME_MAX } from './inode.ts';

/** fs_flags (include/linux/fs.h). */
export const FS_REQUIRES_DEV = 1;
export const FS_BINARY_MOUNTDATA = 2;
export const FS_HAS_SUBTYPE = 4;
export const FS_USERNS_MOUNT = 8;

/** sb->s_flags (SB_*, same bits as MS_*). */
export const SB_RDONLY = 1;
export const SB_SYNCHRONOUS = 16;
export const SB_MANDLOCK = 64;
export const SB_DIRSYNC = 128;
export const SB_SILENT = 32768;
export const SB_LAZYTIME = 1 << 25;
/** Internal: mounted by the kernel (kern_mount), never visible to user space. */
export const SB_KERNMOUNT = 1 << 22;

/** What ->statfs fills; vfs_statfs adds frsize and flags. */
export type KStatfs = Omit<Statfs, 'flags' | 'frsize'> & { frsize?: number };

/** struct super_operations (the subset modelled). */
export interface SuperOperations {
  statfs?(dentry: Dentry): KStatfs;
  /** Text appended to the mount's options in /proc/mounts, starting with ',' (or ''). */
  show_options?(sb: SuperBlock, root: Dentry): string;
  /** The superblock is going away (kill_sb): free everything. */
  put_super?(sb: SuperBlock): void;
  /** Last reference to an unlinked inode dropped: free its data. */
  evict_inode?(inode: Inode): void;
  /** mount -o remount (->reconfigure): parse `data` and apply it, throwing Errno. */
  remount_fs?(sb: SuperBlock, flags: number, data: string): void;
}

/** struct super_block. */
export class SuperBlock {
  s_root!: Dentry;
  /** Device number (anonymous: major 0), assigned by the VFS when first mounted. */
  s_dev = 0;
  s_flags = 0;
  s_maxbytes = MAX_LFS_FILESIZE;
  s_fs_info: unknown = null;
  /** Next inode number (get_next_ino / the fs's own counter). */
  s_next_ino = 1;
  /** Active references: mounts of this superblock (s_active). */
  s_active = 0;

  constructor(
    readonly s_type: FileSystemType,
    readonly s_magic: number,
    readonly s_blocksize: number,
    readonly s_op: SuperOperations,
    /** The host's virtual clock, in ns (current_time). */
    readonly s_clock: () => number,
  ) {}
}

/** struct file_system_type. */
export interface FileSystemType {
  readonly name: string;
  readonly fs_flags: number;
  /** Build (or find) the superblock; throws Errno (bad option → EINVAL, as the fs parses). */
  mount(source: string, flags: number, data: string): SuperBlock;
  /** The last mount went away (after put_super); forget a cached single instance. */
  kill_sb?(sb: SuperBlock): void;
}

/** simple_statfs(): what pseudo filesystems report (fs/libfs.c). */
export function simple_statfs(dentry: Dentry): KStatfs {
  return {
    type: dentry.d_sb.s_magic,
    bsize: 4096,
    blocks: 0,
    bfree: 0,
    bavail: 0,
    files: 0,
    ffree: 0,
    namelen: NAME_MAX,
  };
}

/** statfs f_flags (ST_*, include/linux/statfs.h). */
export const ST_RDONLY = 0x0001;
export const ST_NOSUID = 0x0002;
export const ST_NODEV = 0x0004;
export const ST_NOEXEC = 0x0008;
export const ST_SYNCHRONOUS = 0x0010;
export const ST_VALID = 0x0020;
export const ST_MANDLOCK = 0x0040;
export const ST_NOATIME = 0x0400;
export const ST_NODIRATIME = 0x0800;
export const ST_RELATIME = 0x1000;
export const ST_NOSYMFOLLOW = 0x2000;

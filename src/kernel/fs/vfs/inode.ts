/**
 * struct inode, inode_operations, file_operations and the inode helpers
 * (include/linux/fs.h, fs/inode.c, fs/attr.c, fs/libfs.c).
 */
import { Errno } from '../../../lib/errno.ts';
import type { Stat } from '../../../uapi/fcntl.ts';
import { S_IFMT, S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR, S_IFIFO } from '../../../uapi/fcntl.ts';
import { AddressSpace, type VmArea } from '../../mm/vm_area.ts';
import type { Dentry } from './dcache.ts';
import type { File } from './file.ts';
import type { SuperBlock } from './super.ts';
import type { MmStruct } from '../../mm/mm_types.ts';

/** Longest path component (include/uapi/linux/limits.h). */
export const NAME_MAX = 255;
/** Longest path, including the terminating NUL. */
export const PATH_MAX = 4096;
/**
 * MAX_LFS_FILESIZE. Linux's is 2^63-1; sizes here are JS numbers, so the model's
 * largest file is the largest exact integer.
 */
export const MAX_LFS_FILESIZE = Number.MAX_SAFE_INTEGER;

/** i_flags bit: a directory that has been rmdir'ed (S_DEAD). */
export const S_DEAD = 0x10;

/** What notify_change() is asked to change (struct iattr). */
export interface Iattr {
  /** ATTR_SIZE: the new i_size. */
  size?: number;
  /** ATTR_MODE. */
  mode?: number;
  /** ATTR_MTIME|ATTR_CTIME were requested along with the size (ftruncate, O_TRUNC). */
  touchTimes?: boolean;
  /** ATTR_FILE: the open file, when there is one. */
  file?: File | null;
}

/** A position box: the model's `loff_t *ppos`, updated by read/write handlers. */
export interface Loff {
  pos: number;
}

/** struct dir_context: iterate() emits entries from `pos` on and advances it. */
export interface DirContext {
  pos: number;
  /** dir_emit(): false when the caller wants no more entries. */
  emit(name: string, ino: number, type: number): boolean;
}

/** struct inode_operations (the subset modelled). Handlers throw Errno where Linux returns -errno. */
export interface InodeOperations {
  /** Resolve `dentry.d_name` in `dir`: the inode, or null for a negative dentry. */
  lookup?(dir: Inode, dentry: Dentry): Inode | null;
  /** Create a regular file for the negative `dentry`; returns its inode. */
  create?(dir: Inode, dentry: Dentry, mode: number): Inode;
  /** Create a directory for the negative `dentry`; returns its inode. */
  mkdir?(dir: Inode, dentry: Dentry, mode: number): Inode;
  /** Remove the (empty) directory `dentry`; fix link counts. */
  rmdir?(dir: Inode, dentry: Dentry): void;
  /** Remove the non-directory `dentry`; drop its link count. */
  unlink?(dir: Inode, dentry: Dentry): void;
  /** Move `oldDentry` to `newDentry` (which may be positive: it is replaced). */
  rename?(oldDir: Inode, oldDentry: Dentry, newDir: Inode, newDentry: Dentry, flags: number): void;
  /** Apply attribute changes (size changes follow the filesystem's own rules). */
  setattr?(dentry: Dentry, attr: Iattr): void;
  /** Adjust the generic stat before it is returned. */
  getattr?(dentry: Dentry, stat: Stat): void;
  /** A symlink's target (->get_link). */
  get_link?(dentry: Dentry): string;
}

/** struct file_operations (the subset modelled). Handlers throw Errno where Linux returns -errno. */
export interface FileOperations {
  open?(inode: Inode, file: File): void;
  release?(inode: Inode, file: File): void;
  /** Read up to `count` bytes at `ppos.pos`, advancing it. */
  read?(file: File, count: number, ppos: Loff): Uint8Array;
  /** Write `data` at `ppos.pos` (the handler applies O_APPEND), advancing it; returns bytes written. */
  write?(file: File, data: Uint8Array, ppos: Loff): number;
  llseek?(file: File, offset: number, whence: number): number;
  /** readdir (->iterate_shared). */
  iterate?(file: File, ctx: DirContext): void;
  /** Set up a mapping: sets vma.vm_ops and flags; throws Errno to refuse. */
  mmap?(file: File, vma: VmArea): void;
  fallocate?(file: File, mode: number, offset: number, len: number): void;
  unlocked_ioctl?(file: File, request: number, arg: unknown): number;
  get_unmapped_area?(file: File, addr: number, len: number, pgoff: number, flags: number, mm: MmStruct): number;
}

/** struct inode. */
export class Inode {
  i_mode: number;
  i_nlink = 1;
  i_uid = 0;
  i_gid = 0;
  i_size = 0;
  /** Allocated space in 512-byte units. */
  i_blocks = 0;
  i_atime: number;
  i_mtime: number;
  i_ctime: number;
  /** Device number for S_IFCHR/S_IFBLK (kernel dev_t, see char_dev.ts). */
  i_rdev = 0;
  i_flags = 0;
  i_op: InodeOperations = {};
  i_fop: FileOperations = {};
  /** The page cache / mappable object (struct address_space). */
  readonly i_mapping = new AddressSpace();
  /** Filesystem-private data (shmem_inode_info, the pseudo node, the pipe). */
  i_private: unknown = null;
  /** Open files on this inode; eviction waits for 0 (stands for i_count). */
  i_openers = 0;
  /** Set once ->evict_inode has run. */
  i_evicted = false;

  constructor(
    readonly i_sb: SuperBlock,
    readonly i_ino: number,
    mode: number,
  ) {
    this.i_mode = mode;
    const now = i_sb.s_clock();
    this.i_atime = now;
    this.i_mtime = now;
    this.i_ctime = now;
  }
}

/** new_inode(): an inode with the next inode number of `sb`. */
export function new_inode(sb: SuperBlock, mode: number): Inode {
  return new Inode(sb, sb.s_next_ino++, mode);
}

/** current_time(). */
export function current_time(inode: Inode): number {
  return inode.i_sb.s_clock();
}

/** inc_nlink(). */
export function inc_nlink(inode: Inode): void {
  inode.i_nlink++;
}

/** drop_nlink(). */
export function drop_nlink(inode: Inode): void {
  if (inode.i_nlink > 0) inode.i_nlink--;
}

/** True for directories, regular files, symlinks, char devices, fifos. */
export const isDir = (i: Inode): boolean => (i.i_mode & S_IFMT) === S_IFDIR;
export const isReg = (i: Inode): boolean => (i.i_mode & S_IFMT) === S_IFREG;
export const isLnk = (i: Inode): boolean => (i.i_mode & S_IFMT) === S_IFLNK;
export const isChr = (i: Inode): boolean => (i.i_mode & S_IFMT) === S_IFCHR;
export const isFifo = (i: Inode): boolean => (i.i_mode & S_IFMT) === S_IFIFO;

/** The DT_* type for a mode (fs_umode_to_dtype). */
export function dt_type(mode: number): number {
  return Math.floor((mode & S_IFMT) / 0o10000);
}

/** inode_newsize_ok(): EFBIG past the filesystem's s_maxbytes. */
export function inode_newsize_ok(inode: Inode, offset: number): void {
  if (offset > inode.i_sb.s_maxbytes) throw new Errno('EFBIG');
}

/**
 * iput_final(): evict an inode once nothing names it and nothing has it open
 * (mappings hold a file, so a mapped unlinked file lives until munmap).
 */
export function iput_final(inode: Inode): void {
  if (inode.i_evicted || inode.i_nlink > 0 || inode.i_openers > 0) return;
  inode.i_evicted = true;
  inode.i_sb.s_op.evict_inode?.(inode);
}

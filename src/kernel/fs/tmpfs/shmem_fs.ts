/**
 * tmpfs's per-superblock and per-inode state and the memory it draws on
 * (include/linux/shmem_fs.h: struct shmem_sb_info, struct shmem_inode_info).
 */
import type { Inode } from '../vfs/inode.ts';

/**
 * The page frames tmpfs stores file data in. The host implements it over the
 * page allocator and DRAM; tests use a fake.
 */
export interface ShmemMemory {
  /** Allocate one 4 KiB frame (contents not zeroed); -1 if there is none. */
  alloc_page(): number;
  /** Free a frame (its bytes stay, as DRAM's do). */
  free_page(pfn: number): void;
  /** Zero `nr` frames starting at `pfn`. */
  clear_pages(pfn: number, nr: number): void;
  /** Read bytes at a physical address. */
  read(phys: number, len: number): Uint8Array;
  /** Write bytes at a physical address. */
  write(phys: number, data: Uint8Array): void;
  /** Account pages in NR_SHMEM (/proc/meminfo Shmem:). */
  mod_shmem(deltaPages: number): void;
  /** totalram_pages(): the base of size=N% and of the default limits. */
  totalram_pages(): number;
}

/** tmpfs "huge=" values (SHMEM_HUGE_*). */
export const SHMEM_HUGE_NEVER = 0;
export const SHMEM_HUGE_ALWAYS = 1;
export const SHMEM_HUGE_WITHIN_SIZE = 2;
export const SHMEM_HUGE_ADVISE = 3;
/** Names of the huge= values, indexed by value. */
export const SHMEM_HUGE_NAMES = ['never', 'always', 'within_size', 'advise'];

/** Bytes a directory entry adds to a tmpfs directory's i_size (BOGO_DIRENT_SIZE). */
export const BOGO_DIRENT_SIZE = 20;

/** struct shmem_sb_info. */
export class ShmemSbInfo {
  /** Size limit in pages; 0 = unlimited. */
  max_blocks = 0;
  /** Pages in use (used_blocks). */
  used_blocks = 0;
  /** Inode limit; 0 = unlimited. */
  max_inodes = 0;
  free_inodes = 0;
  /** Root directory mode (mode=), default 01777. */
  mode = 0o1777;
  uid = 0;
  gid = 0;
  huge = SHMEM_HUGE_NEVER;
  /** inode64 (CONFIG_TMPFS_INODE64=y, as distribution kernels build). */
  full_inums = true;
  /** Every live inode, for kill_sb. */
  readonly inodes = new Set<Inode>();

  constructor(readonly mem: ShmemMemory) {}
}

/** struct shmem_inode_info: the page cache of one file. */
export class ShmemInodeInfo {
  /** pgoff → pfn. */
  readonly pages = new Map<number, number>();
}

/** SHMEM_SB(). */
export function SHMEM_SB(inode: Inode): ShmemSbInfo {
  return inode.i_sb.s_fs_info as ShmemSbInfo;
}

/** SHMEM_I(). */
export function SHMEM_I(inode: Inode): ShmemInodeInfo {
  return inode.i_private as ShmemInodeInfo;
}

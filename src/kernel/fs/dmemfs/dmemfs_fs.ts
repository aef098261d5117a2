/**
 * dmemfs's per-superblock and per-inode state, and what it needs of the rest of
 * the kernel (fs/dmemfs/inode.c: struct dmemfs_mount_opts, struct dmemfs_fs_info,
 * dmem_page_size, dmem_pgoff_to_index; include/uapi/linux/magic.h DMEMFS_MAGIC).
 */
import { PAGE_SIZE } from '../../../lib/size.ts';
import type { DmemPool } from '../../dmem/api.ts';
import type { MmStruct } from '../../mm/mm_types.ts';
import type { Inode } from '../vfs/inode.ts';
import { DpageTable } from './extent.ts';
import type { DmemfsParams } from './params.ts';

/** DMEMFS_MAGIC (the series added it to include/uapi/linux/magic.h). */
export const DMEMFS_MAGIC = 0x2ace90c6;

/** How mmap maps a file: on demand (the original) or all at once (the reviewers' remap_pfn_range). */
export type DmemfsMapping = 'fault' | 'remap';

/** What dmemfs uses of the host. */
export interface DmemfsDeps {
  /** The dmem pool every dmemfs mount allocates from. */
  readonly pool: DmemPool;
  /** Physical memory contents: zeroing new dpages, read(2) and write(2). */
  readonly dram: {
    clear_pages(pfn: number, nr: number): void;
    read(phys: number, len: number): Uint8Array;
    write(phys: number, data: Uint8Array): void;
    fill(phys: number, len: number, byte: number): void;
  };
  /** The module parameters (max_alloc_try_dpages). */
  readonly params: DmemfsParams;
  /**
   * current->mm: the address space of the task in a system call. ->mmap needs it
   * while vma.vm_mm is not yet set, and write/fallocate allocate on its node.
   */
  current_mm(): MmStruct | null;
  /** Every mounted dmemfs superblock (memory failure looks for a dpage's owner in all of them). */
  readonly mounts?: Set<DmemfsSbInfo>;
}

/** struct dmemfs_fs_info: the mount options and what the superblock owns. */
export class DmemfsSbInfo {
  /** Every live inode, so put_super can free their dpages (kill_litter_super). */
  readonly inodes = new Set<Inode>();

  constructor(
    readonly deps: DmemfsDeps,
    /** mount_opts.dpage_size: the dpage size in bytes (4K, 2M or 1G). */
    readonly dpage_size: number,
    /** log2(dpage_size) (sb->s_blocksize_bits). */
    readonly dpage_shift: number,
    readonly mapping: DmemfsMapping,
  ) {
    this.pagesPerDpage = dpage_size / PAGE_SIZE;
  }

  /** 4 KiB pages per dpage (a field: every 4K fault reads it). */
  readonly pagesPerDpage: number;
}

/** The dmemfs part of an inode: its dpage table. */
export class DmemfsInodeInfo {
  readonly dpages = new DpageTable();
}

/** The fs info of an inode's superblock. */
export function DMEMFS_SB(inode: Inode): DmemfsSbInfo {
  return inode.i_sb.s_fs_info as DmemfsSbInfo;
}

/** The dpage table of a regular file. */
export function DMEMFS_I(inode: Inode): DmemfsInodeInfo {
  return inode.i_private as DmemfsInodeInfo;
}

/** dmem_page_size(). */
export function dmem_page_size(inode: Inode): number {
  return inode.i_sb.s_blocksize;
}

/** dmem_pgoff_to_index(): the dpage holding 4K page `pgoff` of the file. */
export function dmem_pgoff_to_index(inode: Inode, pgoff: number): number {
  return Math.floor(pgoff / DMEMFS_SB(inode).pagesPerDpage);
}

/**
 * hugetlbfs's per-superblock and per-inode state (fs/hugetlbfs/inode.c:
 * struct hugetlbfs_sb_info, struct hugetlbfs_inode_info, HUGETLBFS_SB,
 * hstate_inode; include/uapi/linux/magic.h HUGETLBFS_MAGIC).
 */
import type { Hstate, HugetlbPools } from '../../hugetlb/api.ts';
import { set_hugetlb_inode, type HugetlbEnv, type HugetlbInode } from '../../mm/hugetlb_folio.ts';
import { ResvMap, type HugepageSubpool } from '../../mm/hugetlb_resv.ts';
import type { Inode } from '../vfs/inode.ts';

/** HUGETLBFS_MAGIC. */
export const HUGETLBFS_MAGIC = 0x958458f6;

/** struct hugetlbfs_sb_info. */
export class HugetlbfsSbInfo {
  /** Every live inode (kill_litter_super evicts them at umount). */
  readonly inodes = new Set<Inode>();

  constructor(
    readonly env: HugetlbEnv,
    readonly hstate: Hstate,
    /** nr_inodes= (-1: no limit). */
    readonly max_inodes: number,
    public free_inodes: number,
    readonly spool: HugepageSubpool | null,
    readonly uid: number,
    readonly gid: number,
    readonly mode: number,
  ) {}

  get pools(): HugetlbPools {
    return this.env.pools;
  }
}

/** struct hugetlbfs_inode_info with the inode's resv_map and page cache: what the fault path uses. */
export class HugetlbfsInodeInfo implements HugetlbInode {
  readonly resv_map = new ResvMap();
  readonly cache = new Map<number, number>();

  constructor(
    readonly inode: Inode,
    readonly sbinfo: HugetlbfsSbInfo,
  ) {
    set_hugetlb_inode(inode.i_mapping, this);
  }

  get h(): Hstate {
    return this.sbinfo.hstate;
  }
  get pools(): HugetlbPools {
    return this.sbinfo.env.pools;
  }
  get spool(): HugepageSubpool | null {
    return this.sbinfo.spool;
  }
  get env(): HugetlbEnv {
    return this.sbinfo.env;
  }
  i_size(): number {
    return this.inode.i_size;
  }
  add_blocks(nr: number): void {
    this.inode.i_blocks += (nr * this.h.size) / 512;
  }
}

/** HUGETLBFS_SB(). */
export function HUGETLBFS_SB(inode: Inode): HugetlbfsSbInfo {
  return inode.i_sb.s_fs_info as HugetlbfsSbInfo;
}

/** HUGETLBFS_I(): the hugetlb state of a regular file. */
export function HUGETLBFS_I(inode: Inode): HugetlbfsInodeInfo {
  return inode.i_private as HugetlbfsInodeInfo;
}

/** hstate_inode(). */
export function hstate_inode(inode: Inode): Hstate {
  return HUGETLBFS_SB(inode).hstate;
}

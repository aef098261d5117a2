/**
 * The hugetlbfs filesystem type, its internal mounts and the files behind
 * MAP_HUGETLB and memfd_create(MFD_HUGETLB) (fs/hugetlbfs/inode.c:
 * hugetlbfs_fill_super, hugetlbfs_get_tree, hugetlbfs_fs_type,
 * mount_one_hugetlbfs, init_hugetlbfs_fs, hugetlb_file_setup, get_hstate_idx;
 * mm/hugetlb.c hstate_sizelog; mm/memfd.c memfd_create's MFD_HUGETLB branch;
 * include/uapi/linux/memfd.h MFD_HUGE_SHIFT).
 */
import { Errno } from '../../../lib/errno.ts';
import { ilog2 } from '../../../lib/size.ts';
import { O_RDWR, S_IFREG } from '../../../uapi/fcntl.ts';
import { MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_HUGETLB } from '../../../uapi/mman.ts';
import type { Hstate, HugetlbPools } from '../../hugetlb/api.ts';
import type { HugetlbEnv } from '../../mm/hugetlb_folio.ts';
import { hugepage_new_subpool, hugetlb_reserve_pages } from '../../mm/hugetlb_resv.ts';
import { VM_NORESERVE } from '../../mm/vm_area.ts';
import { d_alloc_pseudo, d_make_root } from '../vfs/dcache.ts';
import { File, FMODE_CAN_READ } from '../vfs/file.ts';
import { MAX_LFS_FILESIZE, iput_final } from '../vfs/inode.ts';
import type { Mount } from '../vfs/mount.ts';
import { SuperBlock, type FileSystemType } from '../vfs/super.ts';
import type { Vfs } from '../vfs/vfs.ts';
import { hugetlbfs_file_operations } from './file.ts';
import { HUGETLBFS_I, HUGETLBFS_MAGIC, HugetlbfsSbInfo } from './hugetlbfs_fs.ts';
import { hugetlbfs_evict_inode, hugetlbfs_get_inode, hugetlbfs_get_root, hugetlbfs_put_super, hugetlbfs_statfs } from './inode.ts';
import { hugetlbfs_parse_options, hugetlbfs_show_options } from './options.ts';

/** include/uapi/linux/memfd.h (the same encoding as MAP_HUGE_*). */
export const MFD_HUGE_SHIFT = 26;
export const MFD_HUGE_MASK = 0x3f;
/** mm/memfd.c MFD_ALL_FLAGS (with MFD_NOEXEC_SEAL 0x8 and MFD_EXEC 0x10). */
const MFD_NOEXEC_SEAL = 0x8;
const MFD_EXEC = 0x10;
const MFD_ALL_FLAGS = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC;
/** Longest memfd name without the "memfd:" prefix. */
const MFD_NAME_MAX_LEN = 249;

/** HUGETLB_ANON_FILE: the name of MAP_HUGETLB's files ("/anon_hugepage (deleted)" in maps). */
export const HUGETLB_ANON_FILE = 'anon_hugepage';

/** hugetlbfs for one host. */
export class Hugetlbfs {
  readonly fs_type: FileSystemType;
  /** hugetlbfs_vfsmount[]: one internal mount per hstate, made on first use. */
  private readonly internal = new Map<Hstate, Mount>();

  constructor(
    readonly vfs: Vfs,
    /** The host's hugetlb state; the pools may be wired after the filesystems. */
    private readonly envOf: () => HugetlbEnv | null,
    private readonly log: (msg: string) => void,
  ) {
    const type: FileSystemType = { name: 'hugetlbfs', fs_flags: 0, mount: (_src, _flags, data) => this.fill_super(type, data) };
    this.fs_type = type;
    vfs.register_filesystem(type);
  }

  /** The host's hugetlb state, or ENODEV when the host has no pools. */
  env(): HugetlbEnv {
    const env = this.envOf();
    if (!env) throw new Errno('ENODEV', 'hugetlb pools are not wired into this host');
    return env;
  }

  /** hugetlbfs_get_tree() = hugetlbfs_validate() + hugetlbfs_fill_super() (a new superblock per mount). */
  private fill_super(type: FileSystemType, data: string): SuperBlock {
    const env = this.env();
    const ctx = hugetlbfs_parse_options(data, env.pools, this.log);
    // Any needed reservations (for minimum size) are taken when the subpool is created.
    const spool = ctx.max_hpages !== -1 || ctx.min_hpages !== -1 ? hugepage_new_subpool(env.pools, ctx.hstate, ctx.max_hpages, ctx.min_hpages) : null;
    const sbinfo = new HugetlbfsSbInfo(env, ctx.hstate, ctx.nr_inodes, ctx.nr_inodes, spool, ctx.uid, ctx.gid, ctx.mode);
    const sb = new SuperBlock(
      type,
      HUGETLBFS_MAGIC,
      ctx.hstate.size,
      {
        statfs: hugetlbfs_statfs,
        evict_inode: hugetlbfs_evict_inode,
        show_options: () => hugetlbfs_show_options(sbinfo),
        put_super: hugetlbfs_put_super,
      },
      this.vfs.clockNs,
    );
    sb.s_fs_info = sbinfo;
    sb.s_maxbytes = MAX_LFS_FILESIZE;
    sb.s_root = d_make_root(hugetlbfs_get_root(sb, sbinfo));
    return sb;
  }

  /** hugetlbfs_vfsmount[idx] (mount_one_hugetlbfs on first use). */
  private internal_mount(h: Hstate): Mount {
    let m = this.internal.get(h);
    if (!m) {
      m = this.vfs.kern_mount(this.fs_type, `pagesize=${h.size}`);
      this.internal.set(h, m);
    }
    return m;
  }

  /** hstate_sizelog(): 0 is the default size; otherwise log2 of a configured size. */
  hstate_sizelog(page_size_log: number): Hstate | null {
    const pools = this.env().pools;
    if (!page_size_log) return pools.default_hstate();
    if (page_size_log < 64) return pools.size_to_hstate(2 ** page_size_log);
    return null;
  }

  /**
   * hugetlb_file_setup(name, size, acctflag, page_size_log): an unlinked file
   * on the internal mount of that size, open O_RDWR; ENODEV for an unknown
   * size, ENOMEM when its reservation cannot be had (acctflag VM_NORESERVE
   * reserves nothing: mmap will).
   */
  hugetlb_file_setup(name: string, size: number, acctflag: number, page_size_log: number): File {
    const h = this.hstate_sizelog(page_size_log);
    if (!h) throw new Errno('ENODEV');
    const mnt = this.internal_mount(h);
    const sb = mnt.mnt_sb;
    const inode = hugetlbfs_get_inode(sb, null, S_IFREG | 0o777);
    if (!inode) throw new Errno('ENOSPC');
    inode.i_size = size;
    inode.i_nlink = 0;
    try {
      hugetlb_reserve_pages(HUGETLBFS_I(inode), 0, Math.floor(size / h.size), null, acctflag);
    } catch (e) {
      if (!(e instanceof Errno)) throw e;
      iput_final(inode);
      throw new Errno('ENOMEM');
    }
    const dentry = d_alloc_pseudo(sb.s_root, name, inode);
    const file = new File({ mnt, dentry }, inode, O_RDWR, hugetlbfs_file_operations);
    file.f_mode |= FMODE_CAN_READ;
    return file;
  }

  /** The page size of a file on hugetlbfs (is_file_hugepages + huge_page_size), or 0. */
  static file_pagesize(file: File): number {
    const sb = file.f_inode.i_sb;
    return sb.s_magic === HUGETLBFS_MAGIC ? sb.s_blocksize : 0;
  }

  /** memfd_create(name, MFD_HUGETLB | MFD_HUGE_*): flag checks as mm/memfd.c makes them. */
  memfd_create(name: string, flags: number): File {
    if (flags & ~(MFD_ALL_FLAGS | (MFD_HUGE_MASK * 2 ** MFD_HUGE_SHIFT))) throw new Errno('EINVAL');
    if (flags & MFD_EXEC && flags & MFD_NOEXEC_SEAL) throw new Errno('EINVAL');
    if (new TextEncoder().encode(name).length > MFD_NAME_MAX_LEN) throw new Errno('EINVAL');
    const log = Math.floor(flags / 2 ** MFD_HUGE_SHIFT) & MFD_HUGE_MASK;
    return this.hugetlb_file_setup(`memfd:${name}`, 0, VM_NORESERVE, log);
  }

  /** ksys_mmap_pgoff's MAP_HUGETLB file: hstate from the MAP_HUGE_* bits (EINVAL if none), len rounded up. */
  map_hugetlb_file(len: number, flags: number): { file: File; len: number } {
    const log = Math.floor(flags / 2 ** MFD_HUGE_SHIFT) & MFD_HUGE_MASK;
    const h = this.hstate_sizelog(log);
    if (!h) throw new Errno('EINVAL');
    const alen = Math.ceil(len / h.size) * h.size;
    // VM_NORESERVE is used because the reservations will be taken when vm_ops->mmap() is called.
    return { file: this.hugetlb_file_setup(HUGETLB_ANON_FILE, alen, VM_NORESERVE, ilog2(h.size)), len: alen };
  }

  /** Every hstate's pool (for tests). */
  get pools(): HugetlbPools {
    return this.env().pools;
  }
}

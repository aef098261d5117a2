/**
 * The dmemfs filesystem type (fs/dmemfs/inode.c: dmemfs_fill_super,
 * dmemfs_get_tree via get_tree_nodev, dmemfs_kill_sb, dmemfs_fs_type,
 * dmemfs_init).
 */
import { ilog2 } from '../../../lib/size.ts';
import { S_IFDIR } from '../../../uapi/fcntl.ts';
import { d_make_root } from '../vfs/dcache.ts';
import { MAX_LFS_FILESIZE } from '../vfs/inode.ts';
import { SuperBlock, type FileSystemType } from '../vfs/super.ts';
import type { Vfs } from '../vfs/vfs.ts';
import { DMEMFS_MAGIC, DmemfsSbInfo, type DmemfsDeps } from './dmemfs_fs.ts';
import { dmemfs_evict_inode, dmemfs_get_inode, dmemfs_put_super, dmemfs_statfs } from './inode.ts';
import { dmemfs_parse_param, dmemfs_show_options } from './options.ts';

/**
 * dmemfs_fill_super(): a new superblock per mount (get_tree_nodev). The mount
 * becomes a user of the pool with its dpage size (dmem_alloc_init): EBUSY when
 * the pool is in use with another size, ENOMEM when nothing is reserved — and
 * the mount fails. Several mounts with the same size share the pool.
 */
function dmemfs_fill_super(type: FileSystemType, deps: DmemfsDeps, data: string, clockNs: () => number, warn?: (m: string) => void): SuperBlock {
  const opts = dmemfs_parse_param(data, warn);
  const shift = ilog2(opts.dpage_size);
  const fsi = new DmemfsSbInfo(deps, opts.dpage_size, shift, opts.mapping);
  const sb = new SuperBlock(
    type,
    DMEMFS_MAGIC,
    opts.dpage_size,
    {
      statfs: dmemfs_statfs,
      evict_inode: dmemfs_evict_inode,
      show_options: () => dmemfs_show_options(fsi),
      put_super: dmemfs_put_super,
    },
    clockNs,
  );
  sb.s_fs_info = fsi;
  sb.s_maxbytes = MAX_LFS_FILESIZE;
  deps.pool.dmem_alloc_init(shift);
  sb.s_root = d_make_root(dmemfs_get_inode(sb, S_IFDIR | 0o755));
  deps.mounts?.add(fsi);
  return sb;
}

/**
 * register_dmemfs(): register the "dmemfs" type with the VFS (dmemfs_init) over
 * the given pool. Returns the type. `warn` receives the original's pr_warn lines
 * for bad options.
 */
export function register_dmemfs(vfs: Vfs, deps: DmemfsDeps, warn?: (msg: string) => void): FileSystemType {
  const type: FileSystemType = {
    name: 'dmemfs',
    fs_flags: 0,
    mount: (_source, _flags, data) => dmemfs_fill_super(type, deps, data, vfs.clockNs, warn),
    // dmemfs_kill_sb(): kill_litter_super (our put_super) then leave the pool.
    kill_sb: (sb: SuperBlock) => {
      deps.mounts?.delete(sb.s_fs_info as DmemfsSbInfo);
      deps.pool.dmem_alloc_uinit();
    },
  };
  vfs.register_filesystem(type);
  return type;
}

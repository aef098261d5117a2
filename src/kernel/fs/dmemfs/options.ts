/**
 * dmemfs mount options (fs/dmemfs/inode.c: dmemfs_fs_parameters, check_dpage_size,
 * dmemfs_parse_param, dmemfs_init_fs_context's defaults, dmemfs_show_options).
 */
import { Errno } from '../../../lib/errno.ts';
import { formatSizeSuffix, memparse, PAGE_SIZE, PMD_SIZE, PUD_SIZE } from '../../../lib/size.ts';
import type { DmemfsMapping, DmemfsSbInfo } from './dmemfs_fs.ts';

/** struct dmemfs_mount_opts, plus our mapping= option. */
export interface DmemfsMountOpts {
  dpage_size: number;
  mapping: DmemfsMapping;
}

/** Generic superblock words vfs_parse_sb_flag() consumes before the filesystem sees them. */
const SB_FLAG_WORDS = new Set(['ro', 'rw', 'sync', 'async', 'dirsync', 'lazytime', 'nolazytime', 'mand', 'nomand', 'silent']);

/** check_dpage_size(): 4K, 2M or 1G, else EINVAL. */
export function check_dpage_size(dpage_size: number): void {
  if (dpage_size !== PAGE_SIZE && dpage_size !== PMD_SIZE && dpage_size !== PUD_SIZE) throw new Errno('EINVAL');
}

/**
 * dmemfs_parse_param() over the whole option string (the legacy mount data is
 * split at commas by the VFS). `pagesize` is memparse()d as the original did,
 * which ignores anything after the suffix ("2Mxyz" is 2M). `mapping=fault|remap`
 * is ours: the reviewers' remap_pfn_range variant as a mount option. Anything
 * else, and a missing value, is EINVAL (fs_parse's "Unknown parameter").
 */
export function dmemfs_parse_param(data: string, warn?: (msg: string) => void): DmemfsMountOpts {
  // dmemfs_init_fs_context(): the default dpage size is PAGE_SIZE.
  const opts: DmemfsMountOpts = { dpage_size: PAGE_SIZE, mapping: 'fault' };
  for (const opt of data.split(',')) {
    if (opt === '' || SB_FLAG_WORDS.has(opt)) continue;
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? null : opt.slice(eq + 1);
    // fsparam_string: a flag form of a string parameter is refused.
    if (value === null && (key === 'pagesize' || key === 'mapping')) throw new Errno('EINVAL');
    switch (key) {
      case 'pagesize': {
        const { value: v } = memparse(value!);
        opts.dpage_size = Number.isNaN(v) ? 0 : v;
        try {
          check_dpage_size(opts.dpage_size);
        } catch (e) {
          warn?.(`dmemfs: unknown pagesize ${value}.`);
          throw e;
        }
        break;
      }
      case 'mapping':
        if (value !== 'fault' && value !== 'remap') throw new Errno('EINVAL');
        opts.mapping = value;
        break;
      default:
        warn?.(`dmemfs: Unknown parameter '${key}'`);
        throw new Errno('EINVAL');
    }
  }
  return opts;
}

/**
 * dmemfs_show_options(). The original printed ",pagesize=%lx" only when
 * check_dpage_size() *failed* — an inverted test, so /proc/mounts never showed
 * the size. We print it always, with the unit a user would type (pagesize=2M),
 * and mapping=remap when that variant is in use.
 */
export function dmemfs_show_options(fsi: DmemfsSbInfo): string {
  let s = `,pagesize=${formatSizeSuffix(fsi.dpage_size)}`;
  if (fsi.mapping === 'remap') s += ',mapping=remap';
  return s;
}

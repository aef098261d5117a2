/**
 * hugetlbfs mount options (fs/hugetlbfs/inode.c: hugetlb_fs_parameters,
 * hugetlbfs_parse_param, hugetlbfs_size_to_hpages, hugetlbfs_validate,
 * hugetlbfs_init_fs_context's defaults, hugetlbfs_show_options).
 */
import { Errno } from '../../../lib/errno.ts';
import { memparse } from '../../../lib/size.ts';
import type { Hstate, HugetlbPools } from '../../hugetlb/api.ts';
import type { HugetlbfsSbInfo } from './hugetlbfs_fs.ts';

/** enum hugetlbfs_size_type. */
type SizeType = 'none' | 'std' | 'percent';

/** struct hugetlbfs_fs_context after validation. */
export interface HugetlbfsContext {
  hstate: Hstate;
  max_hpages: number;
  min_hpages: number;
  nr_inodes: number;
  uid: number;
  gid: number;
  mode: number;
}

/** Generic superblock words vfs_parse_sb_flag() consumes before the filesystem sees them. */
const SB_FLAG_WORDS = new Set(['ro', 'rw', 'sync', 'async', 'dirsync', 'lazytime', 'nolazytime', 'mand', 'nomand', 'silent']);

/** hugetlbfs_size_to_hpages(): bytes, or a percentage of the pool's persistent size (max_huge_pages). */
function hugetlbfs_size_to_hpages(h: Hstate, size_opt: number, type: SizeType): number {
  if (type === 'none') return -1;
  let bytes = size_opt;
  if (type === 'percent') bytes = Math.floor((size_opt * h.size * (h.nr_huge_pages - h.surplus_huge_pages)) / 100);
  return Math.floor(bytes / h.size);
}

/** A uid/gid (fsparam_uid/fsparam_gid): a decimal 32-bit id other than -1. */
function parse_id(value: string): number {
  if (!/^[0-9]+$/.test(value)) throw new Errno('EINVAL');
  const n = Number(value);
  if (n >= 0xffffffff) throw new Errno('EINVAL');
  return n;
}

/**
 * hugetlbfs_parse_param() for each option, then hugetlbfs_validate(). `log`
 * receives the kernel's messages ("hugetlbfs: ..."). Throws Errno EINVAL.
 */
export function hugetlbfs_parse_options(data: string, pools: HugetlbPools, log: (msg: string) => void): HugetlbfsContext {
  // hugetlbfs_init_fs_context()
  let hstate = pools.default_hstate();
  let max_size_opt = 0;
  let min_size_opt = 0;
  let max_val_type: SizeType = 'none';
  let min_val_type: SizeType = 'none';
  let nr_inodes = -1;
  let uid = 0;
  let gid = 0;
  let mode = 0o755;
  for (const opt of data.split(',')) {
    if (opt === '' || SB_FLAG_WORDS.has(opt)) continue;
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? null : opt.slice(eq + 1);
    const known = ['gid', 'min_size', 'mode', 'nr_inodes', 'pagesize', 'size', 'uid'];
    if (!known.includes(key)) {
      log(`hugetlbfs: Unknown parameter '${key}'`);
      throw new Errno('EINVAL');
    }
    // fs_parse: every hugetlbfs parameter takes a value.
    if (value === null) {
      log(`hugetlbfs: Bad value for '${key}'`);
      throw new Errno('EINVAL');
    }
    const bad_val = (): never => {
      log(`hugetlbfs: Bad value '${value}' for mount option '${key}'`);
      throw new Errno('EINVAL');
    };
    switch (key) {
      case 'uid':
        try {
          uid = parse_id(value);
        } catch (e) {
          log(`hugetlbfs: Bad value for '${key}'`);
          throw e;
        }
        break;
      case 'gid':
        try {
          gid = parse_id(value);
        } catch (e) {
          log(`hugetlbfs: Bad value for '${key}'`);
          throw e;
        }
        break;
      case 'mode':
        if (!/^[0-7]+$/.test(value) || parseInt(value, 8) > 0xffffffff) {
          log(`hugetlbfs: Bad value for '${key}'`);
          throw new Errno('EINVAL');
        }
        mode = parseInt(value, 8) & 0o1777;
        break;
      case 'size':
      case 'min_size': {
        // memparse() will accept a K/M/G without a digit
        if (!/^[0-9]/.test(value)) bad_val();
        const { value: v, rest } = memparse(value);
        const type: SizeType = rest.startsWith('%') ? 'percent' : 'std';
        if (key === 'size') {
          max_size_opt = v;
          max_val_type = type;
        } else {
          min_size_opt = v;
          min_val_type = type;
        }
        break;
      }
      case 'nr_inodes':
        if (!/^[0-9]/.test(value)) bad_val();
        nr_inodes = memparse(value).value;
        break;
      case 'pagesize': {
        const { value: ps } = memparse(value);
        const h = Number.isNaN(ps) ? null : pools.size_to_hstate(ps);
        if (!h) {
          log(`hugetlbfs: Unsupported page size ${Math.floor((Number.isNaN(ps) ? 0 : ps) / (1024 * 1024))} MB`);
          throw new Errno('EINVAL');
        }
        hstate = h;
        break;
      }
    }
  }
  // hugetlbfs_validate()
  const max_hpages = hugetlbfs_size_to_hpages(hstate, max_size_opt, max_val_type);
  const min_hpages = hugetlbfs_size_to_hpages(hstate, min_size_opt, min_val_type);
  if (max_val_type !== 'none' && min_hpages > max_hpages) {
    log('hugetlbfs: Minimum size can not be greater than maximum size');
    throw new Errno('EINVAL');
  }
  return { hstate, max_hpages, min_hpages, nr_inodes, uid, gid, mode };
}

/** hugetlbfs_show_options(): what /proc/mounts shows after the generic options. */
export function hugetlbfs_show_options(sbinfo: HugetlbfsSbInfo): string {
  let s = '';
  if (sbinfo.uid !== 0) s += `,uid=${sbinfo.uid}`;
  if (sbinfo.gid !== 0) s += `,gid=${sbinfo.gid}`;
  if (sbinfo.mode !== 0o755) s += `,mode=${sbinfo.mode.toString(8)}`;
  if (sbinfo.max_inodes !== -1) s += `,nr_inodes=${sbinfo.max_inodes}`;
  let hpage_size = sbinfo.hstate.size / 1024;
  let mod = 'K';
  if (hpage_size >= 1024) {
    hpage_size /= 1024;
    mod = 'M';
  }
  s += `,pagesize=${hpage_size}${mod}`;
  const spool = sbinfo.spool;
  if (spool) {
    if (spool.max_hpages !== -1) s += `,size=${spool.max_hpages * sbinfo.hstate.size}`;
    if (spool.min_hpages !== -1) s += `,min_size=${spool.min_hpages * sbinfo.hstate.size}`;
  }
  return s;
}

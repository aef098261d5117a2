/**
 * tmpfs mount options (mm/shmem.c: shmem_fs_parameters, shmem_parse_one,
 * shmem_reconfigure, shmem_show_options, shmem_default_max_blocks/_inodes).
 */
import { Errno } from '../../../lib/errno.ts';
import { memparse, PAGE_SIZE } from '../../../lib/size.ts';
import { SHMEM_HUGE_NAMES, type ShmemSbInfo } from './shmem_fs.ts';

/** What a mount's option string asked for (struct shmem_options), with `seen` flags. */
export interface ShmemOptions {
  blocks?: number;
  inodes?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  huge?: number;
  full_inums?: boolean;
}

/** shmem_default_max_blocks(): half of RAM. */
export function shmem_default_max_blocks(totalram: number): number {
  return Math.floor(totalram / 2);
}

/** shmem_default_max_inodes(): half as many inodes as RAM has pages (no highmem on x86-64). */
export function shmem_default_max_inodes(totalram: number): number {
  return Math.floor(totalram / 2);
}

/** Generic superblock flags vfs_parse_sb_flag() takes out of the option string first. */
const SB_FLAG_WORDS = new Set(['ro', 'rw', 'sync', 'async', 'dirsync', 'lazytime', 'nolazytime', 'mand', 'nomand', 'silent']);

/** A memparse() that must consume the whole string (else EINVAL, as "bad value"). */
function parseWhole(value: string, allowPercent: boolean, totalram: number): number {
  const { value: v, rest } = memparse(value);
  let size = Number.isNaN(v) ? 0 : v;
  let r = Number.isNaN(v) ? value : rest;
  if (allowPercent && r.startsWith('%')) {
    // size=N%: N% of RAM, in bytes
    size = Math.floor((size * PAGE_SIZE * totalram) / 100);
    r = r.slice(1);
  }
  if (r !== '') throw new Errno('EINVAL');
  return size;
}

/** A decimal id (uid=, gid=). */
function parseUint(value: string, base: number): number {
  const re = base === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!re.test(value)) throw new Errno('EINVAL');
  const n = parseInt(value, base);
  if (n > 0xffffffff) throw new Errno('EINVAL');
  return n;
}

/**
 * shmem_parse_one() over a comma-separated option string. Unknown options and bad
 * values are EINVAL.
 */
export function shmem_parse_options(data: string, totalram: number): ShmemOptions {
  const ctx: ShmemOptions = {};
  for (const opt of data.split(',')) {
    if (opt === '' || SB_FLAG_WORDS.has(opt)) continue;
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? null : opt.slice(eq + 1);
    const need = (): string => {
      if (value === null) throw new Errno('EINVAL');
      return value;
    };
    switch (key) {
      case 'size':
        ctx.blocks = Math.ceil(parseWhole(need(), true, totalram) / PAGE_SIZE);
        break;
      case 'nr_blocks':
        ctx.blocks = parseWhole(need(), false, totalram);
        break;
      case 'nr_inodes':
        ctx.inodes = parseWhole(need(), false, totalram);
        break;
      case 'mode':
        ctx.mode = parseUint(need(), 8) & 0o7777;
        break;
      case 'uid':
        ctx.uid = parseUint(need(), 10);
        break;
      case 'gid':
        ctx.gid = parseUint(need(), 10);
        break;
      case 'huge': {
        const i = SHMEM_HUGE_NAMES.indexOf(need());
        if (i < 0) throw new Errno('EINVAL');
        ctx.huge = i;
        break;
      }
      case 'inode32':
      case 'inode64':
        if (value !== null) throw new Errno('EINVAL');
        ctx.full_inums = key === 'inode64';
        break;
      case 'noswap':
        if (value !== null) throw new Errno('EINVAL');
        break;
      default:
        throw new Errno('EINVAL');
    }
  }
  return ctx;
}

/** Apply parsed options to a new superblock (shmem_fill_super's defaults first). */
export function shmem_apply_new(sbinfo: ShmemSbInfo, ctx: ShmemOptions, kernmount: boolean, totalram: number): void {
  if (!kernmount) {
    sbinfo.max_blocks = ctx.blocks ?? shmem_default_max_blocks(totalram);
    sbinfo.max_inodes = ctx.inodes ?? shmem_default_max_inodes(totalram);
  }
  sbinfo.free_inodes = sbinfo.max_inodes;
  if (ctx.mode !== undefined) sbinfo.mode = ctx.mode;
  if (ctx.uid !== undefined) sbinfo.uid = ctx.uid;
  if (ctx.gid !== undefined) sbinfo.gid = ctx.gid;
  if (ctx.huge !== undefined) sbinfo.huge = ctx.huge;
  if (ctx.full_inums !== undefined) sbinfo.full_inums = ctx.full_inums;
}

/** shmem_reconfigure(): EINVAL for a limit below current use or a limit added later. */
export function shmem_reconfigure(sbinfo: ShmemSbInfo, ctx: ShmemOptions): void {
  const inodes_in_use = sbinfo.max_inodes - sbinfo.free_inodes;
  if (ctx.blocks) {
    if (!sbinfo.max_blocks) throw new Errno('EINVAL', 'Cannot retroactively limit size');
    if (sbinfo.used_blocks > ctx.blocks) throw new Errno('EINVAL', 'Too small a size for current use');
  }
  if (ctx.inodes) {
    if (!sbinfo.max_inodes) throw new Errno('EINVAL', 'Cannot retroactively limit inodes');
    if (ctx.inodes < inodes_in_use) throw new Errno('EINVAL', 'Too few inodes for current use');
  }
  if (ctx.full_inums === false && sbinfo.full_inums) throw new Errno('EINVAL', 'Cannot disable inode64');
  if (ctx.blocks !== undefined) sbinfo.max_blocks = ctx.blocks;
  if (ctx.inodes !== undefined) {
    sbinfo.max_inodes = ctx.inodes;
    sbinfo.free_inodes = ctx.inodes ? ctx.inodes - inodes_in_use : 0;
  }
  if (ctx.huge !== undefined) sbinfo.huge = ctx.huge;
  if (ctx.full_inums !== undefined) sbinfo.full_inums = ctx.full_inums;
}

/** shmem_show_options(): only what differs from the defaults (size in KiB). */
export function shmem_show_options(sbinfo: ShmemSbInfo, totalram: number): string {
  let s = '';
  if (sbinfo.max_blocks !== shmem_default_max_blocks(totalram)) s += `,size=${sbinfo.max_blocks * (PAGE_SIZE / 1024)}k`;
  if (sbinfo.max_inodes !== shmem_default_max_inodes(totalram)) s += `,nr_inodes=${sbinfo.max_inodes}`;
  if (sbinfo.mode !== 0o1777) s += `,mode=${sbinfo.mode.toString(8).padStart(3, '0')}`;
  if (sbinfo.uid !== 0) s += `,uid=${sbinfo.uid}`;
  if (sbinfo.gid !== 0) s += `,gid=${sbinfo.gid}`;
  // CONFIG_TMPFS_INODE64=y: always say which.
  s += sbinfo.full_inums ? ',inode64' : ',inode32';
  if (sbinfo.huge) s += `,huge=${SHMEM_HUGE_NAMES[sbinfo.huge]}`;
  return s;
}

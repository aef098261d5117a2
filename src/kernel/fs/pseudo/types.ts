/**
 * The proc, sysfs and debugfs filesystem types over host-provided trees
 * (fs/proc/root.c proc_parse_param/proc_show_options, fs/sysfs/mount.c,
 * fs/debugfs/inode.c debugfs_parse_param/debugfs_show_options).
 */
import { Errno } from '../../../lib/errno.ts';
import { DEBUGFS_MAGIC, PROC_SUPER_MAGIC, SYSFS_MAGIC } from '../../../uapi/fcntl.ts';
import type { FileSystemType } from '../vfs/super.ts';
import type { Vfs } from '../vfs/vfs.ts';
import { pseudo_fs_type } from './fs.ts';
import { PseudoDir } from './node.ts';

/** Generic superblock words vfs_parse_sb_flag() consumes before the filesystem sees them. */
const SB_WORDS = new Set(['ro', 'rw', 'sync', 'async', 'dirsync', 'lazytime', 'nolazytime', 'mand', 'nomand', 'silent']);

/** Split an option string into [key, value|null] pairs, skipping generic words. */
function options(data: string): [string, string | null][] {
  const out: [string, string | null][] = [];
  for (const opt of data.split(',')) {
    if (opt === '' || SB_WORDS.has(opt)) continue;
    const eq = opt.indexOf('=');
    out.push(eq < 0 ? [opt, null] : [opt.slice(0, eq), opt.slice(eq + 1)]);
  }
  return out;
}

/** An unsigned number in `base`, else EINVAL. */
function num(v: string | null, base: number): number {
  if (v === null || !(base === 8 ? /^[0-7]+$/ : /^[0-9]+$/).test(v)) throw new Errno('EINVAL');
  return parseInt(v, base);
}

/** proc mount options. */
interface ProcOpts {
  hidepid: number;
  gid: number;
  pidonly: boolean;
}

const HIDEPID: Record<string, number> = { '0': 0, off: 0, '1': 1, noaccess: 1, '2': 2, invisible: 2, '4': 4, ptraceable: 4 };
const HIDEPID_NAME: Record<number, string> = { 1: 'noaccess', 2: 'invisible', 4: 'ptraceable' };

/** "proc": a new superblock per mount (Linux 5.8+), missing names are ENOENT, writes without store EIO. */
export function proc_fs_type(root: PseudoDir, clockNs: () => number): FileSystemType {
  return pseudo_fs_type(
    {
      name: 'proc',
      magic: PROC_SUPER_MAGIC,
      dirMode: 0o555,
      fileSize: 0,
      missing: 'ENOENT',
      noStore: 'write-EIO',
      writeLimit: Infinity,
      single: false,
      parse(data): ProcOpts {
        const o: ProcOpts = { hidepid: 0, gid: 0, pidonly: false };
        for (const [k, v] of options(data)) {
          if (k === 'hidepid') {
            const h = v === null ? undefined : HIDEPID[v];
            if (h === undefined) throw new Errno('EINVAL');
            o.hidepid = h;
          } else if (k === 'gid') o.gid = num(v, 10);
          else if (k === 'subset') {
            if (v !== 'pid') throw new Errno('EINVAL');
            o.pidonly = true;
          } else throw new Errno('EINVAL');
        }
        return o;
      },
      show(opts) {
        const o = opts as ProcOpts;
        let s = '';
        if (o.gid) s += `,gid=${o.gid}`;
        if (o.hidepid) s += `,hidepid=${HIDEPID_NAME[o.hidepid]}`;
        if (o.pidonly) s += ',subset=pid';
        return s;
      },
      rootMode: () => 0o555,
    },
    root,
    clockNs,
  );
}

/** "sysfs": one superblock, 4096-byte attributes, opening an attribute it cannot serve is EACCES. */
export function sysfs_fs_type(root: PseudoDir, clockNs: () => number): FileSystemType {
  return pseudo_fs_type(
    {
      name: 'sysfs',
      magic: SYSFS_MAGIC,
      dirMode: 0o755,
      fileSize: 4096,
      missing: 'negative',
      noStore: 'open-EACCES',
      writeLimit: 4096,
      single: true,
      parse(data) {
        if (options(data).length) throw new Errno('EINVAL');
        return null;
      },
      show: () => '',
      rootMode: () => 0o555,
    },
    root,
    clockNs,
  );
}

/** debugfs mount options. */
interface DebugfsOpts {
  uid: number;
  gid: number;
  mode: number;
}

/** DEBUGFS_DEFAULT_MODE. */
const DEBUGFS_DEFAULT_MODE = 0o700;

/** "debugfs": one superblock; unknown options are ignored, as debugfs always has. */
export function debugfs_fs_type(root: PseudoDir, clockNs: () => number): FileSystemType {
  return pseudo_fs_type(
    {
      name: 'debugfs',
      magic: DEBUGFS_MAGIC,
      dirMode: 0o755,
      fileSize: 0,
      missing: 'negative',
      noStore: 'write-EACCES',
      writeLimit: Infinity,
      single: true,
      parse(data): DebugfsOpts {
        const o: DebugfsOpts = { uid: 0, gid: 0, mode: DEBUGFS_DEFAULT_MODE };
        for (const [k, v] of options(data)) {
          if (k === 'uid') o.uid = num(v, 10);
          else if (k === 'gid') o.gid = num(v, 10);
          else if (k === 'mode') o.mode = num(v, 8) & 0o7777;
        }
        return o;
      },
      show(opts) {
        const o = opts as DebugfsOpts;
        let s = '';
        if (o.uid) s += `,uid=${o.uid}`;
        if (o.gid) s += `,gid=${o.gid}`;
        if (o.mode !== DEBUGFS_DEFAULT_MODE) s += `,mode=${o.mode.toString(8)}`;
        return s;
      },
      rootMode: (opts) => (opts as DebugfsOpts).mode,
    },
    root,
    clockNs,
  );
}

/** The three trees a host fills in, and the types that serve them. */
export interface PseudoFilesystems {
  /** /proc content. */
  proc: PseudoDir;
  /** /sys content (with kernel/debug, debugfs's mount point). */
  sys: PseudoDir;
  /** /sys/kernel/debug content. */
  debug: PseudoDir;
}

/** Create the proc, sysfs and debugfs trees and register their filesystem types. */
export function register_pseudo_filesystems(vfs: Vfs): PseudoFilesystems {
  const proc = new PseudoDir();
  const sys = new PseudoDir();
  const debug = new PseudoDir();
  sys.dir('kernel/debug'); // sysfs_create_mount_point(kernel_kobj, "debug")
  vfs.register_filesystem(sysfs_fs_type(sys, vfs.clockNs));
  vfs.register_filesystem(proc_fs_type(proc, vfs.clockNs));
  vfs.register_filesystem(debugfs_fs_type(debug, vfs.clockNs));
  return { proc, sys, debug };
}

/**
 * `mount -t dmemfs` under `dmemfs sh --linux`: a user-space dmemfs per mount
 * point (fs.ts over a real pool, backing.ts), reached by LinuxSyscalls for
 * paths under the mount point and for its descriptors. /proc/mounts (and
 * /proc/self/mounts) are the host's with these mounts appended.
 *
 * Options (fs/dmemfs/inode.c dmemfs_parse_param, via the model's
 * kernel/fs/dmemfs/options.ts): pagesize=4K|2M|1G (default 4K, as the kernel);
 * ours: size=SIZE of the pool (default 64M, 1G for 1G dpages), pool=hugetlb|memfd
 * (require hugetlb, or force the ordinary memfd; the environment variable
 * DMEMFS_LINUX_POOL does the same). The mount says what it reserved on stderr.
 */
import { Errno } from '../../lib/errno.ts';
import { formatSizeSuffix, memparse, PUD_SIZE } from '../../lib/size.ts';
import { MNT_DETACH, S_ISDIR } from '../../uapi/fcntl.ts';
import { dmemfs_parse_param } from '../../kernel/fs/dmemfs/options.ts';
import * as libc from '../libc.ts';
import { readText, type LinuxSession } from '../session.ts';
import { decodeStat } from '../structs.ts';
import { DmemBacking, type PoolKind } from './backing.ts';
import { DmemfsFile, dmemfsUnmapped, unmapFileRange, type MapIndex } from './file.ts';
import { UserDmemfs } from './fs.ts';

export { DmemfsFile, dmemfsMmap } from './file.ts';

/** The user-space dmemfs mounts of one session. */
interface Registry {
  mounts: UserDmemfs[];
  maps: MapIndex;
  hooks: Map<UserDmemfs, { release(): void }>;
}
const registries = new WeakMap<LinuxSession, Registry>();

/** The session's registry (created on first use). */
export function dmemfsRegistry(session: LinuxSession): Registry {
  let r = registries.get(session);
  if (!r) registries.set(session, (r = { mounts: [], maps: new Set(), hooks: new Map() }));
  return r;
}

/** The mount holding absolute path `abs` and the components below its root, or null. */
export function dmemfsAt(session: LinuxSession, abs: string): { fs: UserDmemfs; rel: string[] } | null {
  const reg = registries.get(session);
  if (!reg) return null;
  let best: UserDmemfs | null = null;
  for (const m of reg.mounts) if ((abs === m.dir || abs.startsWith(m.dir === '/' ? '/' : m.dir + '/')) && (!best || m.dir.length > best.dir.length)) best = m;
  if (!best) return null;
  return { fs: best, rel: abs.slice(best.dir.length).split('/').filter((c) => c) };
}

/** mount(2) of a user-space dmemfs at `dir` (absolute); `say` gets the message. */
export function dmemfsMount(session: LinuxSession, source: string, dir: string, data: string, say: (s: string) => void): void {
  const st = decodeStat(libc.statRaw('stat', dir));
  if (!S_ISDIR(st.mode)) throw new Errno('ENOTDIR');
  const reg = dmemfsRegistry(session);
  if (reg.mounts.some((m) => m.dir === dir)) throw new Errno('EBUSY', `${dir}: a user-space dmemfs is mounted there`);
  let size = 0;
  let want: PoolKind | null = null;
  const env = process.env.DMEMFS_LINUX_POOL;
  if (env === 'memfd' || env === 'hugetlb') want = env;
  const rest: string[] = [];
  for (const opt of data.split(',')) {
    const [k, v] = opt.split('=', 2) as [string, string | undefined];
    if (k === 'size') {
      const m = memparse(v ?? '');
      if (!v || Number.isNaN(m.value) || m.rest) throw new Errno('EINVAL', `dmemfs: bad size ${v}`);
      size = m.value;
    } else if (k === 'pool') {
      if (v !== 'memfd' && v !== 'hugetlb') throw new Errno('EINVAL', `dmemfs: pool=${v}: hugetlb or memfd`);
      want = v;
    } else rest.push(opt);
  }
  const opts = dmemfs_parse_param(rest.join(','), (m) => say(`${m}\n`));
  const dsize = opts.dpage_size;
  if (!size) size = dsize === PUD_SIZE ? PUD_SIZE : 64 * 1024 * 1024;
  size = Math.floor(size / dsize) * dsize;
  if (size === 0) throw new Errno('EINVAL', `dmemfs: size= is less than one ${formatSizeSuffix(dsize)} dpage`);
  const backing = DmemBacking.reserve(session, size, dsize, want);
  let fs: UserDmemfs;
  try {
    const shown = source === 'none' ? (backing.kind === 'hugetlb' ? `hugetlb-${formatSizeSuffix(dsize)}` : 'memfd') : source;
    fs = new UserDmemfs(backing, dir, shown, 0x2ace00 + reg.mounts.length);
  } catch (e) {
    backing.release();
    throw e;
  }
  fs.unmapRange = unmapFileRange;
  reg.mounts.push(fs);
  const hook = { release: () => fs.release() };
  reg.hooks.set(fs, hook);
  session.live.add(hook);
  say(`dmemfs: ${dir}: user-space dmemfs, ${backing.describe()}\n`);
}

/** umount2(2) of a user-space dmemfs: EBUSY while files are open or mapped, unless MNT_DETACH. */
export function dmemfsUmount(session: LinuxSession, dir: string, flags: number): boolean {
  const reg = registries.get(session);
  const fs = reg?.mounts.find((m) => m.dir === dir);
  if (!reg || !fs) return false;
  if (fs.busy > 0 && !(flags & MNT_DETACH)) throw new Errno('EBUSY');
  reg.mounts.splice(reg.mounts.indexOf(fs), 1);
  session.live.delete(reg.hooks.get(fs)!);
  reg.hooks.delete(fs);
  if (fs.busy > 0) fs.detached = true;
  else fs.release();
  return true;
}

/** Open `rel` on `fs` with open(2)'s flags (O_CREAT, O_EXCL, O_TRUNC, O_DIRECTORY). */
export function dmemfsOpen(fs: UserDmemfs, rel: string[], flags: number, mode: number): DmemfsFile {
  const O_CREAT = 0o100;
  const O_EXCL = 0o200;
  const O_TRUNC = 0o1000;
  const O_DIRECTORY = 0o200000;
  let node;
  try {
    node = fs.lookup(rel);
    if (flags & O_CREAT && flags & O_EXCL) throw new Errno('EEXIST');
  } catch (e) {
    if (!(e instanceof Errno) || e.code !== 'ENOENT' || !(flags & O_CREAT)) throw e;
    node = fs.create(rel, 0o100000 | (mode & 0o7777 & ~process.umask()));
  }
  if (flags & O_DIRECTORY && !node.isDir) throw new Errno('ENOTDIR');
  if (node.isDir && (flags & 3) !== 0) throw new Errno('EISDIR');
  if (flags & O_TRUNC && !node.isDir && (flags & 3) !== 0) fs.truncate(node, 0);
  const parentIno = rel.length > 1 ? fs.lookup(rel.slice(0, -2)).ino : 1;
  return new DmemfsFile(fs, node, flags, parentIno);
}

/** munmap hook: the pieces of `space` really unmapped. */
export function dmemfsUnmap(session: LinuxSession, space: Parameters<typeof dmemfsUnmapped>[1], s: number, e: number): void {
  const reg = registries.get(session);
  if (reg && reg.maps.size) dmemfsUnmapped(reg.maps, space, s, e);
}

/** Does [s, e) of `space` hold a dmemfs mapping (mremap refuses those: VM_DMEM)? */
export function dmemfsMapped(session: LinuxSession, space: Parameters<typeof dmemfsUnmapped>[1], s: number, e: number): boolean {
  const reg = registries.get(session);
  for (const r of reg?.maps ?? []) if (r.space === space && r.start < e && r.end > s) return true;
  return false;
}

/** /proc/mounts with the session's user-space dmemfs mounts appended, or null when it has none. */
export function dmemfsProcMounts(session: LinuxSession): string | null {
  const reg = registries.get(session);
  if (!reg || reg.mounts.length === 0) return null;
  let text = readText('/proc/self/mounts');
  for (const m of reg.mounts) {
    text += `${m.source} ${m.dir} dmemfs rw,relatime,pagesize=${formatSizeSuffix(m.dpageSize)},size=${formatSizeSuffix(m.backing.size)},pool=${m.backing.kind} 0 0\n`;
  }
  return text;
}

/**
 * Path walk (fs/namei.c: getname, link_path_walk, walk_component, step_into,
 * follow_dotdot, lookup_fast/lookup_slow, filename_parentat, path_lookupat).
 *
 * The walk resolves every component but the last (filename_parentat), then the
 * caller decides what the last one means (lookup, create, delete). Mounts are
 * crossed on the way down (a mount hides what is under it) and ".." at a mount's
 * root climbs to the parent mount first (follow_dotdot).
 */
import { Errno } from '../../../lib/errno.ts';
import { d_add, d_alloc, d_delete, type Dentry } from './dcache.ts';
import { isDir, isLnk, PATH_MAX, S_DEAD, type Inode } from './inode.ts';
import { mnt_is_readonly, type Mount, type Path } from './mount.ts';

/** Lookup flags (include/linux/namei.h). */
export const LOOKUP_FOLLOW = 0x1;
export const LOOKUP_DIRECTORY = 0x2;

/** Type of the last component (enum last_type). */
export const LAST_NORM = 0;
export const LAST_ROOT = 1;
export const LAST_DOT = 2;
export const LAST_DOTDOT = 3;

/** Most symlinks followed in one walk (MAXSYMLINKS). */
export const MAXSYMLINKS = 40;

/** What the walk hands back before the last component (struct nameidata). */
export interface NameiData {
  /** The directory the last component is in. */
  path: Path;
  /** The last component ('' for LAST_ROOT). */
  last: string;
  lastType: number;
  /** The name ended in '/': the last component must be a directory. */
  trailing: boolean;
}

/** What a walk needs from the VFS: the namespace root. */
export interface WalkRoot {
  rootPath(): Path;
}

/** Per-walk state: symlinks followed so far. */
interface WalkState {
  depth: number;
}

const utf8 = new TextEncoder();

/** Length of a name in bytes, as the kernel counts it. */
export function byteLength(s: string): number {
  return utf8.encode(s).length;
}

/** getname(): an empty name is ENOENT, one of PATH_MAX bytes or more is ENAMETOOLONG. */
export function getname(name: string): void {
  if (name === '') throw new Errno('ENOENT');
  if (byteLength(name) >= PATH_MAX) throw new Errno('ENAMETOOLONG');
}

/** mnt_want_write(): EROFS on a read-only mount. */
export function mnt_want_write(mnt: Mount): void {
  if (mnt_is_readonly(mnt)) throw new Errno('EROFS');
}

/** The inode of a positive dentry. */
export function d_inode(d: Dentry): Inode {
  if (!d.d_inode) throw new Error(`negative dentry ${d.d_name}`);
  return d.d_inode;
}

/** follow_mount(): descend through every mount stacked on the path's dentry. */
export function follow_mount(path: Path): Path {
  let p = path;
  while (p.dentry.d_mounted > 0) {
    const child = p.mnt.mnt_mounts.get(p.dentry);
    if (!child) break;
    p = { mnt: child, dentry: child.mnt_root };
  }
  return p;
}

/** follow_dotdot(): "..", climbing out of mount roots, never above the namespace root. */
export function follow_dotdot(vfs: WalkRoot, path: Path): Path {
  const root = vfs.rootPath();
  let p = path;
  for (;;) {
    if (p.dentry === root.dentry && p.mnt === root.mnt) return p;
    if (p.dentry !== p.mnt.mnt_root) {
      p = { mnt: p.mnt, dentry: p.dentry.d_parent };
      break;
    }
    if (p.mnt.mnt_parent === p.mnt) return p; // a detached or internal mount's root
    p = { mnt: p.mnt.mnt_parent, dentry: p.mnt.mnt_mountpoint };
  }
  return follow_mount(p);
}

/**
 * lookup_fast + lookup_slow: the child `name` of a directory dentry, from the
 * dcache (revalidated) or from ->lookup. May return a negative, unhashed dentry.
 */
export function lookup_one(dir: Dentry, name: string): Dentry {
  const inode = d_inode(dir);
  // IS_DEADDIR: a removed directory has no entries and accepts none.
  if (inode.i_flags & S_DEAD) throw new Errno('ENOENT');
  const cached = dir.d_subdirs.get(name);
  if (cached) {
    const valid = cached.d_op?.d_revalidate?.(cached) ?? true;
    if (valid || cached.d_mounted > 0) return cached;
    d_delete(cached); // d_invalidate
  }
  const dentry = d_alloc(dir, name);
  const found = inode.i_op.lookup ? inode.i_op.lookup(inode, dentry) : null;
  if (found) d_add(dentry, found);
  return dentry;
}

/** Split a name into components and note a trailing slash. */
function split(name: string): { comps: string[]; trailing: boolean } {
  const comps = name.split('/').filter((c) => c !== '');
  return { comps, trailing: comps.length > 0 && name.endsWith('/') };
}

/** step_into(): cross mounts; follow a symlink when asked (pick_link). */
function step_into(vfs: WalkRoot, st: WalkState, parent: Path, dentry: Dentry, follow: boolean): Path {
  const p = follow_mount({ mnt: parent.mnt, dentry });
  const inode = d_inode(p.dentry);
  if (!follow || !isLnk(inode)) return p;
  if (++st.depth > MAXSYMLINKS) throw new Errno('ELOOP');
  const target = inode.i_op.get_link?.(p.dentry) ?? '';
  if (target === '') throw new Errno('ENOENT');
  const nd = walk_parent(vfs, st, parent, target);
  return walk_last(vfs, st, nd, LOOKUP_FOLLOW);
}

/** walk_component(): one step of the walk. */
function walk_component(vfs: WalkRoot, st: WalkState, path: Path, name: string, follow: boolean): Path {
  if (name === '.') return path;
  if (name === '..') return follow_dotdot(vfs, path);
  const dentry = lookup_one(path.dentry, name);
  if (!dentry.d_inode) throw new Errno('ENOENT');
  return step_into(vfs, st, path, dentry, follow);
}

/** link_path_walk(): resolve all but the last component. */
function walk_parent(vfs: WalkRoot, st: WalkState, start: Path, name: string): NameiData {
  let path = name.startsWith('/') ? vfs.rootPath() : start;
  const { comps, trailing } = split(name);
  if (comps.length === 0) return { path, last: '', lastType: LAST_ROOT, trailing: false };
  for (let i = 0; i < comps.length - 1; i++) {
    path = walk_component(vfs, st, path, comps[i]!, true);
    if (!isDir(d_inode(path.dentry))) throw new Errno('ENOTDIR');
  }
  const last = comps[comps.length - 1]!;
  const lastType = last === '.' ? LAST_DOT : last === '..' ? LAST_DOTDOT : LAST_NORM;
  return { path, last, lastType, trailing };
}

/** The last component, as path_lookupat resolves it. */
function walk_last(vfs: WalkRoot, st: WalkState, nd: NameiData, flags: number): Path {
  let p: Path;
  if (nd.lastType === LAST_ROOT || nd.lastType === LAST_DOT) p = nd.path;
  else if (nd.lastType === LAST_DOTDOT) p = follow_dotdot(vfs, nd.path);
  else p = walk_component(vfs, st, nd.path, nd.last, (flags & LOOKUP_FOLLOW) !== 0 || nd.trailing);
  if (((flags & LOOKUP_DIRECTORY) !== 0 || nd.trailing) && !isDir(d_inode(p.dentry))) throw new Errno('ENOTDIR');
  return p;
}

/** filename_parentat(): the parent directory and the last component. */
export function filename_parentat(vfs: WalkRoot, cwd: Path, name: string): NameiData {
  getname(name);
  return walk_parent(vfs, { depth: 0 }, cwd, name);
}

/** filename_lookup() / path_lookupat(): the object a name refers to. */
export function filename_lookup(vfs: WalkRoot, cwd: Path, name: string, flags: number): Path {
  getname(name);
  const st = { depth: 0 };
  return walk_last(vfs, st, walk_parent(vfs, st, cwd, name), flags);
}

/**
 * The open-time resolution of the last component (open_last_lookups without
 * O_CREAT): follows a final symlink unless `follow` is false (O_NOFOLLOW).
 */
export function lookup_last(vfs: WalkRoot, nd: NameiData, follow: boolean): Path {
  return walk_last(vfs, { depth: 0 }, nd, follow ? LOOKUP_FOLLOW : 0);
}

/** step_into() for a dentry found by the caller (open with O_CREAT). */
export function step_into_dentry(vfs: WalkRoot, parent: Path, dentry: Dentry, follow: boolean): Path {
  return step_into(vfs, { depth: 0 }, parent, dentry, follow);
}

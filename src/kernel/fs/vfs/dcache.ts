/**
 * The dentry cache (fs/dcache.c, include/linux/dcache.h). Only positive dentries
 * are hashed into their parent; a negative lookup result is a transient Dentry
 * with d_inode === null that is never hashed.
 */
import type { Inode } from './inode.ts';
import type { SuperBlock } from './super.ts';

/** struct dentry_operations (the subset modelled). */
export interface DentryOperations {
  /** False when a cached dentry no longer names the same object (proc, sysfs). */
  d_revalidate?(dentry: Dentry): boolean;
  /** A generated name for d_path (pipes: "pipe:[ino]"). */
  d_dname?(dentry: Dentry): string;
}

/** First readdir offset for children ("." and ".." take 0 and 1, as DIR_OFFSET_MIN). */
export const DIR_OFFSET_MIN = 2;

/** struct dentry. */
export class Dentry {
  d_inode: Inode | null = null;
  d_parent: Dentry;
  /** Hashed positive children, by name. */
  readonly d_subdirs = new Map<string, Dentry>();
  /** Not reachable by lookup any more (deleted, or a pseudo dentry). */
  d_unhashed = true;
  /** Number of mounts on this dentry (DCACHE_MOUNTED when > 0). */
  d_mounted = 0;
  /** Readdir position among the parent's children (simple_offset, Linux 6.6+). */
  d_offset = 0;
  /** Next d_offset to hand out to a child of this directory. */
  d_next_offset = DIR_OFFSET_MIN;
  d_op: DentryOperations | null = null;
  d_fsdata: unknown = null;

  constructor(
    public d_name: string,
    parent: Dentry | null,
    readonly d_sb: SuperBlock,
  ) {
    this.d_parent = parent ?? this;
  }
}

/** IS_ROOT(): the dentry is its own parent. */
export function IS_ROOT(d: Dentry): boolean {
  return d.d_parent === d;
}

/** d_make_root(): the root dentry of a superblock. */
export function d_make_root(inode: Inode): Dentry {
  const d = new Dentry('/', null, inode.i_sb);
  d.d_inode = inode;
  d.d_unhashed = false;
  return d;
}

/** d_alloc(): a new unhashed dentry for `name` under `parent`. */
export function d_alloc(parent: Dentry, name: string): Dentry {
  const d = new Dentry(name, parent, parent.d_sb);
  d.d_op = parent.d_op;
  return d;
}

/** d_alloc_pseudo(): a dentry that is never hashed (pipes, memfd, shmem_file_setup). */
export function d_alloc_pseudo(sbRoot: Dentry, name: string, inode: Inode): Dentry {
  const d = new Dentry(name, sbRoot, sbRoot.d_sb);
  d.d_inode = inode;
  return d;
}

/** d_add() / d_instantiate(): make `dentry` positive and hash it into its parent. */
export function d_add(dentry: Dentry, inode: Inode): void {
  const parent = dentry.d_parent;
  dentry.d_inode = inode;
  dentry.d_unhashed = false;
  dentry.d_offset = parent.d_next_offset++;
  parent.d_subdirs.set(dentry.d_name, dentry);
}

/** d_delete() + d_drop(): unhash a dentry (it keeps its inode for open files). */
export function d_delete(dentry: Dentry): void {
  const parent = dentry.d_parent;
  if (parent.d_subdirs.get(dentry.d_name) === dentry) parent.d_subdirs.delete(dentry.d_name);
  dentry.d_unhashed = true;
}

/** d_move(): rename `dentry` to `name` under `newParent` (a new readdir offset, as simple_offset_rename). */
export function d_move(dentry: Dentry, newParent: Dentry, name: string): void {
  d_delete(dentry);
  dentry.d_parent = newParent;
  dentry.d_name = name;
  d_add(dentry, dentry.d_inode!);
}

/** d_unlinked(): deleted but still referenced (shows as " (deleted)"). */
export function d_unlinked(d: Dentry): boolean {
  return d.d_unhashed && !IS_ROOT(d);
}

/**
 * d_ancestor(p1, p2): if p1 is a proper ancestor of p2, the child of p1 on the
 * way to p2; else null.
 */
export function d_ancestor(p1: Dentry, p2: Dentry): Dentry | null {
  for (let p = p2; !IS_ROOT(p); p = p.d_parent) if (p.d_parent === p1) return p;
  return null;
}

/** simple_empty(): no positive children. */
export function simple_empty(d: Dentry): boolean {
  return d.d_subdirs.size === 0;
}

/**
 * The user-space dmemfs namespace and file data (the model's
 * kernel/fs/dmemfs/inode.ts, file.ts and dpages.ts over a real pool,
 * backing.ts): directories and regular files, each file's offset → pool offset
 * table (DpageTable, extent.ts), truncate in whole dpages, read/write with
 * holes as zeros, fallocate (mode 0 and PUNCH_HOLE|KEEP_SIZE), statfs with the
 * pool's dpages. Every dpage is zeroed as it enters a file.
 *
 * Kernel paths mirrored: fs/dmemfs/inode.c dmemfs_truncate, dmemfs_statfs,
 * radix_get_create_entry, inode_drop_dpages; fs/libfs.c simple_unlink/rmdir.
 */
import { Errno } from '../../lib/errno.ts';
import { DT_DIR, DT_REG, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, S_IFDIR, S_IFMT, type Dirent, type Stat, type Statfs } from '../../uapi/fcntl.ts';
import { DMEMFS_MAGIC } from '../../kernel/fs/dmemfs/dmemfs_fs.ts';
import { DpageTable, NO_DPAGE, free_dpage_runs } from '../../kernel/fs/dmemfs/extent.ts';
import type { AddressSpace } from '../memory.ts';
import type { DmemBacking } from './backing.ts';

/** NAME_MAX. */
const NAME_MAX = 255;

/** A range of a pseudo-process's address space that maps part of a file. */
export interface MapRec {
  space: AddressSpace;
  start: number;
  end: number;
  /** File offset mapped at start. */
  off: number;
}

/** One inode. */
export class DNode {
  size = 0;
  nlink: number;
  /** Open files and mappings holding the inode after its last name is gone. */
  users = 0;
  mtimeNs = Date.now() * 1e6;
  ctimeNs = this.mtimeNs;
  readonly table: DpageTable | null;
  readonly children: Map<string, DNode> | null;
  readonly maps = new Set<MapRec>();
  constructor(
    readonly ino: number,
    public mode: number,
  ) {
    const dir = (mode & S_IFMT) === S_IFDIR;
    this.nlink = dir ? 2 : 1;
    this.table = dir ? null : new DpageTable();
    this.children = dir ? new Map() : null;
  }
  get isDir(): boolean {
    return this.children !== null;
  }
}

/** One mounted user-space dmemfs. */
export class UserDmemfs {
  readonly root: DNode;
  private nextIno = 2;
  /** Open files and mapping records over the whole mount (umount refuses while any). */
  busy = 0;
  /** Called to replace a file's mapped pages past a truncate or a punched hole (mmap.ts). */
  unmapRange: (node: DNode, from: number, to: number) => void = () => {};

  constructor(
    readonly backing: DmemBacking,
    readonly dir: string,
    readonly source: string,
    readonly dev: number,
  ) {
    this.root = new DNode(1, S_IFDIR | 0o1777);
  }

  get dpageSize(): number {
    return this.backing.dpageSize;
  }

  /** The inode at `rel` (components below the mount point), or ENOENT/ENOTDIR. */
  lookup(rel: string[]): DNode {
    let n = this.root;
    for (const c of rel) {
      if (!n.children) throw new Errno('ENOTDIR');
      const next = n.children.get(c);
      if (!next) throw new Errno('ENOENT');
      n = next;
    }
    return n;
  }

  /** The parent directory of `rel` and the last component. */
  parent(rel: string[]): [DNode, string] {
    if (rel.length === 0) throw new Errno('EBUSY', 'the mount point itself');
    const dir = this.lookup(rel.slice(0, -1));
    if (!dir.children) throw new Errno('ENOTDIR');
    const name = rel[rel.length - 1]!;
    if (name.length > NAME_MAX) throw new Errno('ENAMETOOLONG');
    return [dir, name];
  }

  /** dmemfs_create / dmemfs_mkdir. */
  create(rel: string[], mode: number): DNode {
    const [dir, name] = this.parent(rel);
    if (dir.children!.has(name)) throw new Errno('EEXIST');
    const n = new DNode(this.nextIno++, mode);
    dir.children!.set(name, n);
    if (n.isDir) dir.nlink++;
    dir.mtimeNs = dir.ctimeNs = Date.now() * 1e6;
    return n;
  }

  /** simple_unlink / simple_rmdir: the dpages go when the last user does. */
  remove(rel: string[], dirWanted: boolean): void {
    const [dir, name] = this.parent(rel);
    const n = dir.children!.get(name);
    if (!n) throw new Errno('ENOENT');
    if (dirWanted && !n.isDir) throw new Errno('ENOTDIR');
    if (!dirWanted && n.isDir) throw new Errno('EISDIR');
    if (n.isDir && n.children!.size) throw new Errno('ENOTEMPTY');
    dir.children!.delete(name);
    if (n.isDir) dir.nlink--;
    n.nlink = 0;
    this.maybeEvict(n);
  }

  /** simple_rename (no flags): replaces a file, or an empty directory with a directory. */
  rename(from: string[], to: string[]): void {
    const [odir, oname] = this.parent(from);
    const n = odir.children!.get(oname);
    if (!n) throw new Errno('ENOENT');
    const [ndir, nname] = this.parent(to);
    if (n.isDir && to.length > from.length && from.every((c, i) => to[i] === c)) throw new Errno('EINVAL');
    const old = ndir.children!.get(nname);
    if (old === n) return;
    if (old) {
      if (old.isDir && !n.isDir) throw new Errno('EISDIR');
      if (!old.isDir && n.isDir) throw new Errno('ENOTDIR');
      if (old.isDir && old.children!.size) throw new Errno('ENOTEMPTY');
      if (old.isDir) ndir.nlink--;
      old.nlink = 0;
      this.maybeEvict(old);
    }
    odir.children!.delete(oname);
    ndir.children!.set(nname, n);
    if (n.isDir) {
      odir.nlink--;
      ndir.nlink++;
    }
  }

  /** dmemfs_evict_inode: no name, no open file, no mapping. */
  maybeEvict(n: DNode): void {
    if (n.nlink === 0 && n.users === 0 && n.table) this.drop(n, 0, Infinity);
  }

  /** inode_drop_dpages: give dpages [from, to) back, physically contiguous runs in one call. */
  drop(n: DNode, from: number, to: number): void {
    free_dpage_runs(n.table!, this.backing.pool, this.dpageSize, from, to);
  }

  /** Give every hole among dpages [from, to) a zeroed dpage; ENOSPC when the pool runs out (what was added stays). */
  fill(n: DNode, from: number, to: number, added: [number, number][]): void {
    const t = n.table!;
    const size = this.dpageSize;
    for (let i = from; i < to; ) {
      if (t.lookup(i) !== NO_DPAGE) {
        i++;
        continue;
      }
      const holeEnd = t.next(i + 1, to);
      const run = this.backing.pool.dmem_alloc_pages_nodemask(0, undefined, holeEnd - i);
      if (!run) throw new Errno('ENOSPC');
      this.backing.zero(run.phys, run.nr * size);
      t.storeRun(i, run.nr, run.phys, size);
      added.push([i, run.nr]);
      i += run.nr;
    }
  }

  /** Undo fill(). */
  undoFill(n: DNode, added: readonly [number, number][]): void {
    for (const [i, nr] of added) this.drop(n, i, i + nr);
  }

  /** dmemfs_truncate: whole dpages only; growing allocates nothing; shrinking unmaps, then frees. */
  truncate(n: DNode, newsize: number): void {
    if (n.isDir) throw new Errno('EISDIR');
    if (!(newsize >= 0)) throw new Errno('EINVAL');
    if (newsize % this.dpageSize) throw new Errno('EINVAL');
    const old = n.size;
    n.size = newsize;
    if (newsize !== old) n.mtimeNs = n.ctimeNs = Date.now() * 1e6;
    if (newsize >= old) return;
    this.unmapRange(n, newsize, Infinity);
    this.drop(n, newsize / this.dpageSize, Infinity);
  }

  /** read(2)/pread(2): up to EOF, holes as zeros. */
  read(n: DNode, count: number, pos: number): Uint8Array {
    if (n.isDir) throw new Errno('EISDIR');
    if (pos >= n.size || count <= 0) return new Uint8Array(0);
    const len = Math.min(count, n.size - pos);
    const out = new Uint8Array(len);
    const size = this.dpageSize;
    for (let done = 0; done < len; ) {
      const at = pos + done;
      const index = Math.floor(at / size);
      const off = at - index * size;
      const chunk = Math.min(size - off, len - done);
      const phys = n.table!.lookup(index);
      if (phys !== NO_DPAGE) out.set(this.backing.read(phys + off, chunk), done);
      done += chunk;
    }
    return out;
  }

  /** write(2)/pwrite(2): allocate the holes written to, extend the size; ENOSPC, or short when part went in. */
  write(n: DNode, data: Uint8Array, pos: number): number {
    if (n.isDir) throw new Errno('EISDIR');
    const size = this.dpageSize;
    const t = n.table!;
    let written = 0;
    while (written < data.length) {
      const at = pos + written;
      const index = Math.floor(at / size);
      const off = at - index * size;
      const chunk = Math.min(size - off, data.length - written);
      let phys = t.lookup(index);
      if (phys === NO_DPAGE) {
        const last = Math.floor((pos + data.length - 1) / size);
        let err: unknown = null;
        try {
          this.fill(n, index, t.next(index + 1, last + 1), []);
        } catch (e) {
          if (!(e instanceof Errno)) throw e;
          err = e;
        }
        phys = t.lookup(index);
        if (phys === NO_DPAGE) {
          if (written > 0) break;
          throw err;
        }
      }
      this.backing.write(phys + off, data.subarray(written, written + chunk));
      written += chunk;
      if (pos + written > n.size) n.size = pos + written;
    }
    if (written) n.mtimeNs = n.ctimeNs = Date.now() * 1e6;
    return written;
  }

  /** fallocate(2): mode 0 allocates (undone on ENOSPC); PUNCH_HOLE|KEEP_SIZE frees whole dpages, zeroes partial ones. */
  fallocate(n: DNode, mode: number, offset: number, len: number): void {
    if (n.isDir) throw new Errno('EISDIR');
    if (offset < 0 || len <= 0) throw new Errno('EINVAL');
    if (mode !== 0 && mode !== (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) throw new Errno('EOPNOTSUPP');
    const size = this.dpageSize;
    const end = offset + len;
    if (mode & FALLOC_FL_PUNCH_HOLE) {
      const first = Math.ceil(offset / size);
      const last = Math.floor(end / size);
      if (last > first) {
        this.unmapRange(n, first * size, last * size);
        this.drop(n, first, last);
      }
      this.zeroPartial(n, offset, Math.min(end, first * size));
      if (last >= first) this.zeroPartial(n, Math.max(offset, last * size), end);
      return;
    }
    const added: [number, number][] = [];
    try {
      this.fill(n, Math.floor(offset / size), Math.ceil(end / size), added);
    } catch (e) {
      this.undoFill(n, added);
      throw e;
    }
    if (end > n.size) n.size = end;
    n.ctimeNs = Date.now() * 1e6;
  }

  private zeroPartial(n: DNode, from: number, to: number): void {
    if (to <= from) return;
    const index = Math.floor(from / this.dpageSize);
    const phys = n.table!.lookup(index);
    if (phys !== NO_DPAGE) this.backing.zero(phys + from - index * this.dpageSize, to - from);
  }

  /** stat(2) of an inode. */
  stat(n: DNode): Stat {
    return {
      dev: this.dev,
      ino: n.ino,
      mode: n.mode,
      nlink: n.nlink,
      uid: 0,
      gid: 0,
      rdev: 0,
      size: n.isDir ? 0 : n.size,
      blksize: this.dpageSize,
      blocks: n.table ? (n.table.size * this.dpageSize) / 512 : 0,
      atimeNs: n.mtimeNs,
      mtimeNs: n.mtimeNs,
      ctimeNs: n.ctimeNs,
    };
  }

  /** dmemfs_statfs (the model's: the pool's dpages; no inode limit). */
  statfs(): Statfs {
    const pool = this.backing.pool;
    const free = pool.free_dpages();
    return { type: DMEMFS_MAGIC, bsize: this.dpageSize, blocks: pool.total_dpages(), bfree: free, bavail: free, files: 0, ffree: 0, namelen: NAME_MAX, frsize: this.dpageSize, flags: 0 };
  }

  /** getdents64 of a directory: ".", "..", then the names. */
  dirents(n: DNode, parentIno: number): Dirent[] {
    if (!n.children) throw new Errno('ENOTDIR');
    const out: Dirent[] = [
      { ino: n.ino, type: DT_DIR, name: '.' },
      { ino: parentIno, type: DT_DIR, name: '..' },
    ];
    for (const [name, c] of n.children) out.push({ ino: c.ino, type: c.isDir ? DT_DIR : DT_REG, name });
    return out;
  }

  /** Unmounted with MNT_DETACH while busy: released by the last put(). */
  detached = false;
  private released = false;

  /** An open file or mapping record went away. */
  put(): void {
    this.busy--;
    if (this.detached && this.busy === 0) this.release();
  }

  /** Everything goes back (kill_litter_super), then the memory. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    const walk = (n: DNode): void => {
      if (n.table) this.drop(n, 0, Infinity);
      for (const c of n.children?.values() ?? []) walk(c);
    };
    walk(this.root);
    this.backing.release();
  }
}

/**
 * An open file of the user-space dmemfs, and its mmap: the mapping is
 * assembled from the file's pool extents — one reserved contiguous range, then
 * the backing fd mapped MAP_FIXED at each run of physically contiguous dpages —
 * with the model's errno rules (kernel/fs/dmemfs/mmap.ts: dmemfs_get_unmapped_area,
 * dmemfs_file_mmap; mm/mmap.c do_mmap's order of checks).
 *
 * Differs from the model's default mapping=fault: every dpage of the mapped range
 * below EOF is allocated at mmap time (the model's mapping=remap), since user
 * space cannot take the fault. Pages past EOF, and those a truncate or punched
 * hole removed, are PROT_NONE anonymous memory: an access there is SIGBUS
 * BUS_ADRERR (memory.ts), as the model's fault past EOF.
 */
import { Errno } from '../../lib/errno.ts';
import { alignUp } from '../../lib/size.ts';
import { O_ACCMODE, O_APPEND, O_RDONLY, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET, type Dirent, type Stat } from '../../uapi/fcntl.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, PROT_NONE, PROT_WRITE } from '../../uapi/mman.ts';
import { LFile } from '../files.ts';
import * as libc from '../libc.ts';
import type { AddressSpace } from '../memory.ts';
import type { DNode, MapRec, UserDmemfs } from './fs.ts';

/** MAP_TYPE. */
const MAP_TYPE = 0x0f;

/** One open file (or directory) of a user-space dmemfs. */
export class DmemfsFile extends LFile {
  pos = 0;
  constructor(
    readonly fs: UserDmemfs,
    readonly node: DNode,
    readonly flags: number,
    private readonly parentIno: number,
  ) {
    super();
    node.users++;
    fs.busy++;
  }
  protected override release(): void {
    this.node.users--;
    this.fs.maybeEvict(this.node);
    this.fs.put();
  }
  private readable(): void {
    if ((this.flags & O_ACCMODE) === O_WRONLY) throw new Errno('EBADF');
  }
  private writable(): void {
    if ((this.flags & O_ACCMODE) === O_RDONLY) throw new Errno('EBADF');
  }
  read(count: number): Uint8Array {
    this.readable();
    const r = this.fs.read(this.node, count, this.pos);
    this.pos += r.length;
    return r;
  }
  write(data: Uint8Array): number {
    this.writable();
    if (this.flags & O_APPEND) this.pos = this.node.size;
    const n = this.fs.write(this.node, data, this.pos);
    this.pos += n;
    return n;
  }
  pread(count: number, offset: number): Uint8Array {
    this.readable();
    if (offset < 0) throw new Errno('EINVAL');
    return this.fs.read(this.node, count, offset);
  }
  pwrite(data: Uint8Array, offset: number): number {
    this.writable();
    if (offset < 0) throw new Errno('EINVAL');
    return this.fs.write(this.node, data, offset);
  }
  lseek(offset: number, whence: number): number {
    const base = whence === SEEK_SET ? 0 : whence === SEEK_CUR ? this.pos : whence === SEEK_END ? this.node.size : NaN;
    const to = base + offset;
    if (!(to >= 0)) throw new Errno('EINVAL');
    return (this.pos = to);
  }
  ftruncate(length: number): void {
    // do_sys_ftruncate: a descriptor not open for writing is EINVAL (not EBADF).
    if ((this.flags & O_ACCMODE) === O_RDONLY) throw new Errno('EINVAL');
    this.fs.truncate(this.node, length);
  }
  fallocate(mode: number, offset: number, len: number): void {
    this.writable();
    this.fs.fallocate(this.node, mode, offset, len);
  }
  stat(): Stat {
    return this.fs.stat(this.node);
  }
  getdents(): Dirent[] {
    if (this.pos > 0) return [];
    const d = this.fs.dirents(this.node, this.parentIno);
    this.pos = 1;
    return d;
  }
}

/** The mapping records of every mount of a session, for munmap. */
export type MapIndex = Set<MapRec & { fs: UserDmemfs; node: DNode }>;

/** mmap(2) of a dmemfs file into `space`: the model's checks, then the extents MAP_FIXED into one range. */
export function dmemfsMmap(f: DmemfsFile, space: AddressSpace, index: MapIndex, addr: number, length: number, prot: number, flags: number, offset: number): number {
  const fs = f.fs;
  const node = f.node;
  const size = fs.dpageSize;
  if (node.isDir) throw new Errno('ENODEV');
  if (!(length > 0)) throw new Errno('EINVAL');
  // dmemfs_get_unmapped_area: whole dpages, a dpage-aligned MAP_FIXED address.
  if (length % size) throw new Errno('EINVAL');
  if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) && addr % size) throw new Errno('EINVAL');
  const shared = (flags & MAP_TYPE) !== MAP_PRIVATE;
  const mode = f.flags & O_ACCMODE;
  if (mode === O_WRONLY) throw new Errno('EACCES');
  if (shared && prot & PROT_WRITE && mode === O_RDONLY) throw new Errno('EACCES');
  // dmemfs_file_mmap: dpage-aligned offset; VM_SHARED (do_mmap drops it for a read-only file).
  if (offset % size) throw new Errno('EINVAL');
  if (!shared || mode === O_RDONLY) throw new Errno('EINVAL');
  const first = offset / size;
  const last = Math.min(first + length / size, Math.ceil(node.size / size));
  const added: [number, number][] = [];
  try {
    fs.fill(node, first, last, added);
  } catch (e) {
    fs.undoFill(node, added);
    if (e instanceof Errno) throw new Errno('ENOMEM', 'dmemfs: the pool cannot back the mapping');
    throw e;
  }
  const start = reserve(space, addr, length, size, flags);
  try {
    let runIdx = -1;
    let runPhys = -1;
    let runNr = 0;
    const flush = (): void => {
      if (runNr > 0) libc.mmap(start + (runIdx - first) * size, runNr * size, prot, MAP_SHARED | MAP_FIXED, fs.backing.fd, runPhys);
    };
    node.table!.forEach(first, last, (i, phys) => {
      if (runNr > 0 && i === runIdx + runNr && phys === runPhys + runNr * size) {
        runNr++;
        return;
      }
      flush();
      [runIdx, runPhys, runNr] = [i, phys, 1];
    });
    flush();
  } catch (e) {
    libc.munmap(start, length);
    fs.undoFill(node, added);
    throw e;
  }
  dmemfsUnmapped(index, space, start, start + length); // MAP_FIXED over an earlier dmemfs mapping
  space.insert({ start, end: start + length, prot, pageSize: fs.backing.hostPageSize });
  const rec = { space, start, end: start + length, off: offset, fs, node };
  node.maps.add(rec);
  index.add(rec);
  node.users++;
  fs.busy++;
  return start;
}

/** One contiguous dpage-aligned range of PROT_NONE anonymous memory for the mapping. */
function reserve(space: AddressSpace, addr: number, length: number, align: number, flags: number): number {
  const anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
    // Never replace memory the session did not map (syscalls.ts does the same).
    const fixed = flags & MAP_FIXED && space.covers(addr, addr + length) ? MAP_FIXED : MAP_FIXED_NOREPLACE;
    return libc.mmap(addr, length, PROT_NONE, anon | fixed, -1, 0);
  }
  // The original padded the search by one dpage and aligned up inside it.
  const pad = length + align;
  const got = libc.mmap(0, pad, PROT_NONE, anon, -1, 0);
  const start = alignUp(got, align);
  if (start > got) libc.munmap(got, start - got);
  if (got + pad > start + length) libc.munmap(start + length, got + pad - start - length);
  return start;
}

/** After a truncate or punched hole: the file's mapped pages in [from, to) become PROT_NONE (SIGBUS on access). */
export function unmapFileRange(node: DNode, from: number, to: number): void {
  for (const r of node.maps) {
    const lo = Math.max(from, r.off);
    const hi = Math.min(to, r.off + (r.end - r.start));
    if (hi <= lo) continue;
    libc.mmap(r.start + lo - r.off, hi - lo, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  }
}

/** munmap of [s, e) in `space` (already unmapped for real): forget or trim the records it covers. */
export function dmemfsUnmapped(index: MapIndex, space: AddressSpace, s: number, e: number): void {
  for (const r of [...index]) {
    if (r.space !== space || r.end <= s || r.start >= e) continue;
    index.delete(r);
    r.node.maps.delete(r);
    const pieces = [
      { ...r, end: Math.min(r.end, s) },
      { ...r, start: Math.max(r.start, e), off: r.off + Math.max(r.start, e) - r.start },
    ].filter((p) => p.end > p.start);
    for (const p of pieces) {
      index.add(p);
      p.node.maps.add(p);
      p.node.users++;
      p.fs.busy++;
    }
    r.node.users--;
    r.fs.maybeEvict(r.node);
    r.fs.put();
  }
}

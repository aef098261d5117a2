/**
 * tmpfs (mm/shmem.c): limits, statfs, the page cache in real frames, truncation
 * and hole punching (unmap first, then free), faults, memfd.
 *
 * A file's pages, 4 KiB each (· = hole, # = cached page):
 *
 *   pgoff    0    1    2    3
 *          [####|····|####|##  ]   i_size = 3.5 pages → faults at pgoff ≥ 4 are SIGBUS
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DT_DIR,
  DT_REG,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  O_CREAT,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  S_IFDIR,
  SEEK_SET,
  TMPFS_MAGIC,
} from '../../src/uapi/fcntl.ts';
import { VmArea, VM_FAULT_OOM, VM_FAULT_SIGBUS, VM_SHARED, type VmFault } from '../../src/kernel/mm/vm_area.ts';
import { SHMEM_I, shmem_vm_ops } from '../../src/kernel/fs/tmpfs/index.ts';
import { SEEK_DATA, SEEK_HOLE, type File, type Path, type Vfs } from '../../src/kernel/fs/vfs/index.ts';
import { boot, errno, text, type Booted } from './helpers.ts';

let b: Booted;
let v: Vfs;
let r: Path;
const PAGE = 4096;

beforeEach(() => {
  b = boot();
  v = b.vfs;
  r = b.root;
  v.mkdir(r, '/mnt', 0o755);
});

/** A fault on `file` at pgoff, as the mm would deliver it. */
function fault(vma: VmArea, pgoff: number): { ret: number; pfn: number } {
  const vmf: VmFault = { vma, address: vma.start + (pgoff - vma.pgoff) * PAGE, pgoff, flags: 0, pfn: -1 };
  const ret = vma.vm_ops!.fault!(vmf);
  return { ret, pfn: vmf.pfn };
}

/** A VMA mapping `file` at `start`, linked into its i_mmap, recording zaps. */
function mapFile(file: File, start: number, pages: number, pgoff = 0, flags = VM_SHARED) {
  const zaps: { start: number; end: number; even_cows: boolean; cachedAtZap: number }[] = [];
  const vma = new VmArea(start, start + pages * PAGE, flags, pgoff, file.get());
  vma.vm_mm = {
    zap_vma_range: (_vma, s, e, even_cows) => zaps.push({ start: s, end: e, even_cows, cachedAtZap: file.f_mapping.nrpages }),
  };
  file.f_op.mmap!(file, vma);
  file.f_mapping.i_mmap.add(vma);
  return { vma, zaps };
}

describe('statfs and limits', () => {
  it('statfs is shmem_statfs: blocks = size limit in pages, files from nr_inodes (the root uses one)', () => {
    v.do_mount(r, 'none', '/mnt', 'tmpfs', 0, 'size=64k,nr_inodes=10');
    expect(v.statfs(r, '/mnt')).toEqual({
      type: TMPFS_MAGIC, bsize: 4096, blocks: 16, bfree: 16, bavail: 16, files: 10, ffree: 9, namelen: 255, frsize: 4096,
      flags: 0x1020,
    });
    const f = v.open(r, '/mnt/f', O_CREAT | O_RDWR, 0o644);
    v.write(f, new Uint8Array(5000));
    const st = v.statfs(r, '/mnt');
    expect([st.bfree, st.bavail, st.ffree]).toEqual([14, 14, 8]);
  });

  it('size=0 and nr_inodes=0 mean unlimited: statfs reports zeros', () => {
    v.do_mount(r, 'none', '/mnt', 'tmpfs', 0, 'size=0,nr_inodes=0');
    const st = v.statfs(r, '/mnt');
    expect([st.blocks, st.bfree, st.files, st.ffree]).toEqual([0, 0, 0, 0]);
    expect(v.proc_mounts()).toContain('none /mnt tmpfs rw,relatime,size=0k,nr_inodes=0,inode64 0 0');
  });

  it('writing past the size limit is ENOSPC; a write that starts fits partly and returns the short count', () => {
    v.do_mount(r, 'none', '/mnt', 'tmpfs', 0, 'size=8k');
    const f = v.open(r, '/mnt/f', O_CREAT | O_RDWR, 0o644);
    expect(v.write(f, new Uint8Array(10000).fill(7))).toBe(8192);
    expect(errno(() => v.write(f, 'x'))).toBe('ENOSPC');
    expect(v.fstat(f).size).toBe(8192);
    expect(errno(() => v.fallocate(f, 0, 0, 3 * PAGE))).toBe('ENOSPC');
  });

  it('creating past nr_inodes is ENOSPC, for files and directories', () => {
    v.do_mount(r, 'none', '/mnt', 'tmpfs', 0, 'nr_inodes=3');
    v.open(r, '/mnt/a', O_CREAT | O_WRONLY, 0o644).fput();
    v.mkdir(r, '/mnt/b', 0o755);
    expect(errno(() => v.open(r, '/mnt/c', O_CREAT | O_WRONLY, 0o644))).toBe('ENOSPC');
    expect(errno(() => v.mkdir(r, '/mnt/c', 0o755))).toBe('ENOSPC');
    v.unlink(r, '/mnt/a');
    expect(errno(() => v.mkdir(r, '/mnt/c', 0o755))).toBe('ok');
  });

  it('no memory at all is ENOMEM for write, and the fs is unchanged', () => {
    const f = v.open(r, '/tmp/f', O_CREAT | O_RDWR, 0o644);
    b.mem.failNext = 1;
    expect(errno(() => v.write(f, 'abc'))).toBe('ENOMEM');
    expect(v.fstat(f).size).toBe(0);
  });
});

describe('the page cache', () => {
  let f: File;
  beforeEach(() => {
    f = v.open(r, '/tmp/f', O_CREAT | O_RDWR, 0o644);
  });

  it('holes read as zeros without allocating; writes allocate zeroed pages', () => {
    v.ftruncate(f, 3 * PAGE);
    expect(v.pread(f, 3 * PAGE, 0)).toEqual(new Uint8Array(3 * PAGE));
    expect(f.f_mapping.nrpages).toBe(0);
    v.pwrite(f, 'A', PAGE + 100);
    expect(f.f_mapping.nrpages).toBe(1);
    expect(v.fstat(f).blocks).toBe(8);
    // the fresh frame held 0xCC: the rest of the page must read as zero
    const page = v.pread(f, PAGE, PAGE);
    expect(page[100]).toBe(0x41);
    expect(page.filter((x, i) => i !== 100 && x !== 0).length).toBe(0);
    expect(b.mem.nr_shmem).toBe(1);
  });

  it('shrinking frees pages past EOF and zeroes the tail of the last one', () => {
    v.write(f, new Uint8Array(2 * PAGE).fill(0x61));
    v.ftruncate(f, 100);
    expect(f.f_mapping.nrpages).toBe(1);
    v.ftruncate(f, 2 * PAGE);
    const back = v.pread(f, 2 * PAGE, 0);
    expect(back.subarray(0, 100).every((x) => x === 0x61)).toBe(true);
    expect(back.subarray(100).every((x) => x === 0)).toBe(true);
  });

  it('truncate unmaps from every mapping before freeing (holebegin rounded up, to EOF, even_cows)', () => {
    v.write(f, new Uint8Array(4 * PAGE).fill(1));
    const { zaps } = mapFile(f, 0x10000, 4);
    const { zaps: zaps2 } = mapFile(f, 0x40000, 2, 2);
    v.ftruncate(f, PAGE + 1); // keep pages 0 and 1
    expect(zaps).toEqual([{ start: 0x10000 + 2 * PAGE, end: 0x10000 + 4 * PAGE, even_cows: true, cachedAtZap: 4 }]);
    expect(zaps2).toEqual([{ start: 0x40000, end: 0x40000 + 2 * PAGE, even_cows: true, cachedAtZap: 4 }]);
    expect(f.f_mapping.nrpages).toBe(2);
  });

  it('fallocate mode 0 allocates and extends; KEEP_SIZE allocates only', () => {
    v.fallocate(f, 0, 0, 2 * PAGE);
    expect([v.fstat(f).size, f.f_mapping.nrpages]).toEqual([2 * PAGE, 2]);
    v.fallocate(f, FALLOC_FL_KEEP_SIZE, 2 * PAGE, 2 * PAGE);
    expect([v.fstat(f).size, f.f_mapping.nrpages]).toEqual([2 * PAGE, 4]);
    expect(v.pread(f, 2 * PAGE, 0)).toEqual(new Uint8Array(2 * PAGE));
  });

  it('a failed fallocate frees only the pages it added', () => {
    v.pwrite(f, 'keep', PAGE);
    const before = b.mem.allocated.size;
    b.mem.failNext = 0;
    // succeed twice (pages 0 and 2; page 1 exists), then run out
    const orig = b.mem.alloc_page.bind(b.mem);
    let n = 0;
    b.mem.alloc_page = () => (++n > 2 ? -1 : orig());
    expect(errno(() => v.fallocate(f, 0, 0, 4 * PAGE))).toBe('ENOMEM');
    expect(b.mem.allocated.size).toBe(before);
    expect(text(v.pread(f, 4, PAGE))).toBe('keep');
  });

  it('PUNCH_HOLE|KEEP_SIZE unmaps whole pages (keeping COW copies), frees them, zeroes the edges', () => {
    //   before: [aaaa|aaaa|aaaa]    punch [100, 2*PAGE+10)    after: [a···|····|··aa] (page 1 freed)
    v.write(f, new Uint8Array(3 * PAGE).fill(0x61));
    const { zaps } = mapFile(f, 0x10000, 3);
    v.fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 2 * PAGE - 90);
    expect(zaps).toEqual([{ start: 0x10000 + PAGE, end: 0x10000 + 2 * PAGE, even_cows: false, cachedAtZap: 3 }]);
    expect(SHMEM_I(f.f_inode).pages.has(1)).toBe(false);
    expect(v.fstat(f).size).toBe(3 * PAGE);
    const back = v.pread(f, 3 * PAGE, 0);
    expect(back.subarray(0, 100).every((x) => x === 0x61)).toBe(true);
    expect(back.subarray(100, 2 * PAGE + 10).every((x) => x === 0)).toBe(true);
    expect(back.subarray(2 * PAGE + 10).every((x) => x === 0x61)).toBe(true);
  });

  it('SEEK_DATA and SEEK_HOLE follow the page cache', () => {
    v.ftruncate(f, 4 * PAGE);
    v.pwrite(f, 'x', 2 * PAGE + 5);
    expect(v.lseek(f, 0, SEEK_DATA)).toBe(2 * PAGE);
    expect(v.lseek(f, 2 * PAGE + 7, SEEK_HOLE)).toBe(3 * PAGE);
    expect(errno(() => v.lseek(f, 4 * PAGE, SEEK_DATA))).toBe('ENXIO');
    expect(errno(() => v.lseek(f, 3 * PAGE, SEEK_DATA))).toBe('ENXIO');
  });

  it('an unlinked file lives while open or mapped, then its pages are freed', () => {
    v.write(f, new Uint8Array(2 * PAGE));
    const mapped = f.get();
    v.unlink(r, '/tmp/f');
    expect(v.fstat(f).nlink).toBe(0);
    expect(v.d_path(f.f_path)).toBe('/tmp/f (deleted)');
    f.fput();
    expect(b.mem.nr_shmem).toBe(2);
    mapped.fput();
    expect(b.mem.nr_shmem).toBe(0);
    expect(b.mem.allocated.size).toBe(0);
  });
});

describe('mmap and faults', () => {
  it('shmem_mmap installs shmem_vm_ops; faults allocate zeroed pages inside EOF and SIGBUS past it', () => {
    const f = v.open(r, '/tmp/f', O_CREAT | O_RDWR, 0o644);
    v.ftruncate(f, PAGE + 1); // two pages, the second partly
    const { vma } = mapFile(f, 0x100000, 4);
    expect(vma.vm_ops).toBe(shmem_vm_ops);
    const a = fault(vma, 0);
    expect(a.ret).toBe(0);
    expect(b.mem.read(a.pfn * PAGE, PAGE)).toEqual(new Uint8Array(PAGE));
    expect(fault(vma, 0).pfn).toBe(a.pfn); // found in the page cache
    expect(fault(vma, 1).ret).toBe(0);
    expect(fault(vma, 2).ret).toBe(VM_FAULT_SIGBUS);
    // the page the fault installed is the one read(2) sees
    b.mem.write(a.pfn * PAGE + 7, new Uint8Array([42]));
    expect(v.pread(f, 1, 7)[0]).toBe(42);
  });

  it('a fault with no memory is VM_FAULT_OOM; over the size limit VM_FAULT_SIGBUS', () => {
    v.do_mount(r, 'none', '/mnt', 'tmpfs', 0, 'size=4k');
    const f = v.open(r, '/mnt/f', O_CREAT | O_RDWR, 0o644);
    v.ftruncate(f, 2 * PAGE);
    const { vma } = mapFile(f, 0x100000, 2);
    b.mem.failNext = 1;
    expect(fault(vma, 0).ret).toBe(VM_FAULT_OOM);
    expect(fault(vma, 0).ret).toBe(0);
    expect(fault(vma, 1).ret).toBe(VM_FAULT_SIGBUS);
  });

  it('/dev/zero: MAP_SHARED becomes a "dev/zero" shmem file, MAP_PRIVATE anonymous', () => {
    const z = v.open(r, '/dev/zero', O_RDWR);
    const shared = new VmArea(0x200000, 0x200000 + 2 * PAGE, VM_SHARED, 0, z.get());
    z.f_op.mmap!(z, shared);
    expect(shared.file).not.toBe(z);
    expect(v.d_path((shared.file as File).f_path)).toBe('/dev/zero (deleted)');
    expect(fault(shared, 1).ret).toBe(0);
    expect(fault(shared, 2).ret).toBe(VM_FAULT_SIGBUS);
    const priv = new VmArea(0x300000, 0x300000 + PAGE, 0, 0, z.get());
    z.f_op.mmap!(z, priv);
    expect(priv.vm_ops).toBeNull();
    expect(z.f_count).toBe(2); // the shared VMA moved its reference to the shmem file
  });
});

describe('memfd_create', () => {
  it('is an unlinked tmpfs file named "/memfd:NAME (deleted)" whose pages go with the last reference', () => {
    const m = b.shmem.memfd_create('guest', 0);
    expect(v.d_path(m.f_path)).toBe('/memfd:guest (deleted)');
    expect(v.fstat(m).nlink).toBe(0);
    v.ftruncate(m, 3 * PAGE);
    v.pwrite(m, 'hi', PAGE);
    expect(text(v.pread(m, 2, PAGE))).toBe('hi');
    expect(b.mem.nr_shmem).toBe(1);
    m.fput();
    expect(b.mem.nr_shmem).toBe(0);
  });

  it('rejects unknown flags, MFD_HUGETLB (hugetlbfs\'s) and names over 249 bytes with EINVAL', () => {
    expect(errno(() => b.shmem.memfd_create('x', 0x100))).toBe('EINVAL');
    expect(errno(() => b.shmem.memfd_create('x', 0x4))).toBe('EINVAL');
    expect(errno(() => b.shmem.memfd_create('n'.repeat(250), 0))).toBe('EINVAL');
    expect(errno(() => b.shmem.memfd_create('n'.repeat(249), 0).fput())).toBe('ok');
  });
});

describe('directories', () => {
  it('i_size grows by 20 per entry from 40; nlink counts subdirectories; readdir is in creation order', () => {
    v.mkdir(r, '/tmp/d', 0o750);
    v.mkdir(r, '/tmp/d/s1', 0o755);
    v.open(r, '/tmp/d/f', O_CREAT | O_WRONLY, 0o644).fput();
    v.mkdir(r, '/tmp/d/s2', 0o755);
    const st = v.stat(r, '/tmp/d');
    expect([st.size, st.nlink, st.mode]).toEqual([40 + 3 * 20, 4, S_IFDIR | 0o750]);
    const d = v.open(r, '/tmp/d', O_RDONLY);
    const ents = v.getdents(d);
    expect(ents.map((e) => [e.name, e.type])).toEqual([['.', DT_DIR], ['..', DT_DIR], ['s1', DT_DIR], ['f', DT_REG], ['s2', DT_DIR]]);
    expect(ents[1]!.ino).toBe(v.stat(r, '/tmp').ino);
    expect(v.getdents(d)).toEqual([]);
    v.lseek(d, 0, SEEK_SET);
    expect(v.getdents(d)).toHaveLength(5);
    v.rename(r, '/tmp/d/s1', '/tmp/d/s3');
    v.lseek(d, 0, SEEK_SET);
    expect(v.getdents(d).map((e) => e.name)).toEqual(['.', '..', 'f', 's2', 's3']);
  });

  it('the root of a tmpfs is inode 1 with mode= applied', () => {
    v.do_mount(r, 'none', '/mnt', 'tmpfs', 0, 'mode=1700');
    const st = v.stat(r, '/mnt');
    expect([st.ino, st.mode]).toEqual([1, S_IFDIR | 0o1700]);
  });
});

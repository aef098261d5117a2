/**
 * Mapping hugetlbfs files: hugetlbfs_file_mmap's and hugetlb_get_unmapped_area's
 * rules, reservations (HugePages_Rsvd/Free) across shared, private and
 * MAP_NORESERVE mappings, COW after fork, truncate/punch/madvise, SIGBUS cases,
 * MAP_HUGETLB and memfd_create(MFD_HUGETLB).
 *
 *   file:  | page 0 | page 1 | page 2 | page 3 |   (2 MiB each)
 *   map:   a        a+2M     a+4M     a+6M     a+8M
 */
import { describe, expect, it } from 'vitest';
import { MiB } from '../../src/lib/size.ts';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../../src/uapi/fcntl.ts';
import {
  MADV_DONTNEED,
  MADV_POPULATE_WRITE,
  MADV_REMOVE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_HUGE_1GB,
  MAP_HUGE_2MB,
  MAP_HUGETLB,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_HUGETLB,
  PROT_READ,
  PROT_WRITE,
} from '../../src/uapi/mman.ts';
import { counts, errno, openFile, readFile, setup, signal } from './helpers.ts';

const RW = PROT_READ | PROT_WRITE;
const B = (v: number) => new Uint8Array([v]);

function mounted(n2m = 8) {
  const s = setup({ n2m });
  s.task.mount('none', '/mnt/huge', 'hugetlbfs', 0, '');
  const fd = openFile(s.task, '/mnt/huge/f');
  return { ...s, fd };
}

describe('mmap rules', () => {
  it('offset not huge-page aligned → EINVAL; length rounded up; hint aligned', () => {
    const { task, fd } = mounted();
    expect(errno(() => task.mmap(0, 2 * MiB, RW, MAP_SHARED, fd, 4096))).toBe('EINVAL');
    const a = task.mmap(0x40001000, 4096, RW, MAP_SHARED, fd, 2 * MiB);
    expect(a % (2 * MiB)).toBe(0);
    expect(a).toBeGreaterThanOrEqual(0x40200000);
    expect(task.fstat(fd).size).toBe(4 * MiB); // offset 2M + one whole page
    expect(readFile(task, `/proc/self/smaps`)).toMatch(/KernelPageSize:\s+2048 kB/);
  });

  it('MAP_FIXED at a misaligned address → EINVAL; munmap/mprotect/mremap at unaligned addresses → EINVAL', () => {
    const { task, fd } = mounted();
    expect(errno(() => task.mmap(0x40100000, 2 * MiB, RW, MAP_SHARED | MAP_FIXED, fd, 0))).toBe('EINVAL');
    const a = task.mmap(0x40000000, 4 * MiB, RW, MAP_SHARED | MAP_FIXED, fd, 0);
    expect(errno(() => task.munmap(a + 4096, 4096))).toBe('EINVAL');
    expect(errno(() => task.mprotect(a, 4096, PROT_READ))).toBe('EINVAL');
    expect(errno(() => task.mremap(a, 4 * MiB, 2 * MiB, 0))).toBe('EINVAL');
    expect(errno(() => task.munmap(a + 2 * MiB, 2 * MiB))).toBe('ok');
    expect(errno(() => task.madvise(a + 4096, 4096, MADV_DONTNEED))).toBe('EINVAL');
  });

  it('MAP_HUGETLB on a file that is not on hugetlbfs → EINVAL; MAP_HUGETLB of an unknown size → EINVAL', () => {
    const { task } = mounted();
    const fd = task.open('/tmp-file', 0o102, 0o600);
    expect(errno(() => task.mmap(0, 2 * MiB, RW, MAP_SHARED | MAP_HUGETLB, fd, 0))).toBe('EINVAL');
    // A configured size with no pages: the reservation fails; a size with no hstate: EINVAL.
    expect(errno(() => task.mmap(0, 2 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB, -1, 0))).toBe('ENOMEM');
    expect(errno(() => task.mmap(0, 2 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (24 << 26), -1, 0))).toBe('EINVAL');
  });
});

describe('reservations', () => {
  it('shared: mmap reserves, touch consumes, munmap keeps the page cache, truncate frees', () => {
    const { task, fd, h2m } = mounted();
    const a = task.mmap(0, 8 * MiB, RW, MAP_SHARED, fd, 0);
    expect(counts(h2m)).toEqual([8, 8, 4, 0]);
    task.store(a, B(1));
    task.store(a + 2 * MiB, B(2));
    expect(counts(h2m)).toEqual([8, 6, 2, 0]);
    // A second shared mapping of the same range reserves nothing more.
    const b = task.mmap(0, 8 * MiB, RW, MAP_SHARED, fd, 0);
    expect(counts(h2m)).toEqual([8, 6, 2, 0]);
    expect(task.load(b + 2 * MiB, 1)[0]).toBe(2);
    task.munmap(a, 8 * MiB);
    task.munmap(b, 8 * MiB);
    expect(counts(h2m)).toEqual([8, 6, 2, 0]); // reservations live with the inode
    task.ftruncate(fd, 2 * MiB);
    expect(counts(h2m)).toEqual([8, 7, 0, 0]);
    task.ftruncate(fd, 0);
    expect(counts(h2m)).toEqual([8, 8, 0, 0]);
  });

  it('mmap fails with ENOMEM when the reservation cannot be had; MAP_NORESERVE maps and SIGBUSes on an empty pool', () => {
    const { task, fd, h2m } = mounted(2);
    expect(errno(() => task.mmap(0, 6 * MiB, RW, MAP_SHARED, fd, 0))).toBe('ENOMEM');
    expect(counts(h2m)).toEqual([2, 2, 0, 0]);
    const a = task.mmap(0, 6 * MiB, RW, MAP_SHARED | MAP_NORESERVE, fd, 0);
    expect(counts(h2m)).toEqual([2, 2, 0, 0]);
    task.store(a, B(1));
    task.store(a + 2 * MiB, B(1));
    expect(counts(h2m)).toEqual([2, 0, 0, 0]);
    expect(signal(() => task.store(a + 4 * MiB, B(1)))).toBe('SIGBUS/2');
  });

  it('private: reserves the whole range, COW copies pages of the cache, munmap returns what was not used', () => {
    const { task, fd, h2m } = mounted();
    task.fallocate(fd, 0, 0, 4 * MiB);
    const s = task.mmap(0, 4 * MiB, RW, MAP_SHARED, fd, 0);
    task.store(s, B(5));
    expect(counts(h2m)).toEqual([8, 6, 0, 0]);
    const p = task.mmap(0, 4 * MiB, RW, MAP_PRIVATE, fd, 0);
    expect(counts(h2m)).toEqual([8, 6, 2, 0]);
    expect(task.load(p, 1)[0]).toBe(5); // a read maps the page-cache page
    expect(counts(h2m)).toEqual([8, 6, 2, 0]);
    task.store(p, B(9)); // COW: a private copy consumes a reservation
    expect(counts(h2m)).toEqual([8, 5, 1, 0]);
    expect(task.load(s, 1)[0]).toBe(5);
    expect(task.load(p, 1)[0]).toBe(9);
    task.munmap(p, 4 * MiB);
    expect(counts(h2m)).toEqual([8, 6, 0, 0]);
  });

  it('fork: the child shares private pages copy-on-write; each write takes another page', () => {
    const { task, fd, h2m } = mounted();
    const p = task.mmap(0, 4 * MiB, RW, MAP_PRIVATE, fd, 0);
    expect(counts(h2m)).toEqual([8, 8, 2, 0]);
    task.store(p, B(1));
    expect(counts(h2m)).toEqual([8, 7, 1, 0]);
    const child = task.fork();
    expect(child.load(p, 1)[0]).toBe(1);
    child.store(p, B(2)); // the child has no reservations
    expect(counts(h2m)).toEqual([8, 6, 1, 0]);
    task.store(p, B(3)); // the parent's page is now its alone: reused
    expect(counts(h2m)).toEqual([8, 6, 1, 0]);
    expect([task.load(p, 1)[0], child.load(p, 1)[0]]).toEqual([3, 2]);
    child.exit(0);
    expect(counts(h2m)).toEqual([8, 7, 1, 0]);
  });

  it('the owner of a private mapping that cannot COW takes the page from its child (unmap_ref_private)', () => {
    //   parent: reserves 1 page, writes it (consumed); child shares it; pool then empty.
    const { task, fd, h2m, log } = mounted(2);
    const p = task.mmap(0, 2 * MiB, RW, MAP_PRIVATE, fd, 0);
    task.store(p, B(1));
    const child = task.fork();
    expect(child.load(p, 1)[0]).toBe(1);
    const hog = task.mmap(0, 2 * MiB, RW, MAP_SHARED, fd, 2 * MiB);
    task.store(hog, B(1));
    expect(counts(h2m)).toEqual([2, 0, 0, 0]);
    task.store(p, B(2)); // no page to copy into: the child loses its mapping, the parent reuses
    expect(task.load(p, 1)[0]).toBe(2);
    expect(signal(() => child.load(p, 1))).toBe('SIGBUS/2');
    expect(log().some((l) => /PID \d+ killed due to inadequate hugepage pool/.test(l))).toBe(true);
  });

  it('MAP_POPULATE and MADV_POPULATE_WRITE fault every page; MADV_DONTNEED on shared frees nothing, on private drops copies; MADV_REMOVE punches', () => {
    const { task, fd, h2m } = mounted();
    const s = task.mmap(0, 4 * MiB, RW, MAP_SHARED | MAP_POPULATE, fd, 0);
    expect(counts(h2m)).toEqual([8, 6, 0, 0]);
    task.madvise(s, 4 * MiB, MADV_DONTNEED);
    expect(counts(h2m)).toEqual([8, 6, 0, 0]);
    const p = task.mmap(0, 4 * MiB, RW, MAP_PRIVATE, fd, 0);
    task.madvise(p, 4 * MiB, MADV_POPULATE_WRITE);
    expect(counts(h2m)).toEqual([8, 4, 0, 0]);
    task.madvise(p, 4 * MiB, MADV_DONTNEED);
    expect(counts(h2m)).toEqual([8, 6, 0, 0]);
    task.madvise(s, 2 * MiB, MADV_REMOVE);
    expect(counts(h2m)).toEqual([8, 7, 0, 0]);
  });

  it('punch hole unmaps and frees whole pages; only a removed page takes its reservation along', () => {
    const { task, fd, h2m } = mounted();
    const a = task.mmap(0, 8 * MiB, RW, MAP_SHARED, fd, 0);
    task.store(a + 2 * MiB, B(7));
    expect(counts(h2m)).toEqual([8, 7, 3, 0]);
    // Pages 1 and 2: page 1 is freed with its map entry; page 2's reservation stays.
    task.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * MiB, 4 * MiB);
    expect(counts(h2m)).toEqual([8, 8, 3, 0]);
    expect(task.load(a + 2 * MiB, 1)[0]).toBe(0); // refaulted without a reservation
    expect(counts(h2m)).toEqual([8, 7, 3, 0]);
  });
});

describe('SIGBUS', () => {
  it('beyond EOF after truncate', () => {
    const { task, fd } = mounted();
    const a = task.mmap(0, 4 * MiB, RW, MAP_SHARED, fd, 0);
    task.store(a + 2 * MiB, B(1));
    task.ftruncate(fd, 2 * MiB);
    expect(signal(() => task.load(a + 2 * MiB, 1))).toBe('SIGBUS/2');
    expect(task.load(a, 1)[0]).toBe(0);
  });
});

describe('MAP_HUGETLB and memfd_create(MFD_HUGETLB)', () => {
  it('anonymous MAP_HUGETLB: private reserves at mmap, length rounded up, /anon_hugepage in maps', () => {
    const { task, h2m } = setup({ n2m: 8 });
    const a = task.mmap(0, 3 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
    expect(counts(h2m)).toEqual([8, 8, 2, 0]);
    task.store(a + 3 * MiB, B(4));
    expect(counts(h2m)).toEqual([8, 7, 1, 0]);
    expect(readFile(task, '/proc/self/maps')).toContain('/anon_hugepage (deleted)');
    task.munmap(a, 4 * MiB);
    expect(counts(h2m)).toEqual([8, 8, 0, 0]);
  });

  it('memfd: MFD_HUGETLB files take huge pages; bad size bits → EINVAL/ENODEV', () => {
    const { task, h2m } = setup({ n2m: 8 });
    const fd = task.memfd_create('guest', MFD_HUGETLB);
    task.ftruncate(fd, 4 * MiB);
    const a = task.mmap(0, 4 * MiB, RW, MAP_SHARED, fd, 0);
    expect(counts(h2m)).toEqual([8, 8, 2, 0]);
    task.store(a, B(1));
    expect(counts(h2m)).toEqual([8, 7, 1, 0]);
    expect(readFile(task, '/proc/self/maps')).toContain('/memfd:guest (deleted)');
    expect(errno(() => task.memfd_create('x', MFD_HUGETLB | (25 << 26)))).toBe('ENODEV');
    expect(errno(() => task.memfd_create('x', 0x40 | MFD_HUGETLB))).toBe('EINVAL');
    task.munmap(a, 4 * MiB);
    task.close(fd);
    expect(counts(h2m)).toEqual([8, 8, 0, 0]);
  });
});

/**
 * The errno of every invalid mmap, munmap, mprotect, mremap, madvise, mbind and
 * set_mempolicy call, in the order Linux checks (mm/mmap.c do_mmap, mm/vma.c
 * do_vmi_munmap, mm/mprotect.c do_mprotect_pkey, mm/mremap.c check_mremap_params
 * and check_prep_vma, mm/madvise.c, mm/mempolicy.c do_mbind), and that a call
 * failing before it changes anything leaves /proc/self/maps as it was.
 *
 * Pictures show the address space in pages:
 *   |AAAA|  a private anonymous VMA     |SSSS| a shared mapping
 *   |RRRR|  a read-only VMA             |....| unmapped
 */
import { describe, expect, it } from 'vitest';
import { MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { TASK_SIZE } from '../../src/kernel/mm/mmap.ts';
import { VM_PFNMAP, VM_READ, VM_WRITE, VmArea } from '../../src/kernel/mm/vm_area.ts';
import type { Task } from '../../src/kernel/process.ts';
import { O_CREAT, O_RDONLY, O_RDWR, O_WRONLY } from '../../src/uapi/fcntl.ts';
import {
  MADV_DONTNEED,
  MADV_HUGEPAGE,
  MADV_NOHUGEPAGE,
  MADV_NORMAL,
  MADV_REMOVE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_SYNC,
  MPOL_BIND,
  MPOL_DEFAULT,
  MPOL_INTERLEAVE,
  MPOL_LOCAL,
  MPOL_PREFERRED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from '../../src/uapi/mman.ts';
import { boot, errno, readFile, signal } from './helpers.ts';

const P = PAGE_SIZE;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

function maps(task: Task): string {
  return readFile(task, '/proc/self/maps');
}

/** errno of fn, and that /proc/self/maps did not change. */
function fails(task: Task, fn: () => unknown): string {
  const before = maps(task);
  const e = errno(fn);
  expect(maps(task), `a failing call (${e}) changed the address space`).toBe(before);
  return e;
}

/** A file of `pages` pages under /tmp, opened with `flags`. */
function tmpfile(task: Task, name: string, pages: number, flags = O_RDWR): number {
  const fd = task.open(`/tmp/${name}`, O_RDWR | O_CREAT, 0o644);
  task.ftruncate(fd, pages * P);
  if (flags === O_RDWR) return fd;
  task.close(fd);
  return task.open(`/tmp/${name}`, flags);
}

/** Three private anonymous VMAs of 4 pages with 4-page holes between them: |AAAA|....|BBBB|....|CCCC|. */
function threeVmas(task: Task): number {
  const base = task.mmap(0, 20 * P, RW, ANON, -1, 0);
  task.munmap(base + 4 * P, 4 * P);
  task.munmap(base + 12 * P, 4 * P);
  return base;
}

describe('mmap: do_mmap checks in order', () => {
  it('sys_mmap checks the offset before the fd: EINVAL beats EBADF', () => {
    const { task } = boot();
    expect(fails(task, () => task.mmap(0, P, RW, MAP_PRIVATE, 99, 1))).toBe('EINVAL');
    expect(fails(task, () => task.mmap(0, P, RW, MAP_PRIVATE, 99, 0))).toBe('EBADF');
  });

  it('a zero length is EINVAL; a length past TASK_SIZE is ENOMEM', () => {
    const { task } = boot();
    expect(fails(task, () => task.mmap(0, 0, RW, ANON, -1, 0))).toBe('EINVAL');
    expect(fails(task, () => task.mmap(0, TASK_SIZE + P, RW, ANON, -1, 0))).toBe('ENOMEM');
  });

  /*
   *  0 ............................ TASK_SIZE
   *                        |FFFF|...→ past TASK_SIZE   MAP_FIXED: ENOMEM
   *  0x1001 (unaligned)                               MAP_FIXED: EINVAL
   */
  it('a bad MAP_FIXED address fails in get_unmapped_area, before the file is looked at', () => {
    const { task } = boot();
    const ro = tmpfile(task, 'ro', 4, O_RDONLY);
    expect(fails(task, () => task.mmap(0x1001, P, RW, ANON | MAP_FIXED, -1, 0))).toBe('EINVAL');
    expect(fails(task, () => task.mmap(TASK_SIZE - P, 2 * P, RW, ANON | MAP_FIXED, -1, 0))).toBe('ENOMEM');
    // A shared writable mapping of a read-only file would be EACCES, but the address is checked first.
    expect(fails(task, () => task.mmap(TASK_SIZE - P, 2 * P, RW, MAP_SHARED | MAP_FIXED, ro, 0))).toBe('ENOMEM');
    expect(fails(task, () => task.mmap(0x1001, P, RW, MAP_SHARED | MAP_FIXED, ro, 0))).toBe('EINVAL');
    expect(fails(task, () => task.mmap(0, P, RW, MAP_SHARED, ro, 0))).toBe('EACCES');
  });

  /*
   *  |AAAA|         MAP_FIXED_NOREPLACE at A+P: EEXIST, A untouched
   */
  it('MAP_FIXED_NOREPLACE over a mapping is EEXIST', () => {
    const { task } = boot();
    const a = task.mmap(0, 4 * P, RW, ANON, -1, 0);
    expect(fails(task, () => task.mmap(a + P, P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0))).toBe('EEXIST');
    expect(task.mmap(a + 4 * P, P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0)).toBe(a + 4 * P);
  });

  it('anonymous memory takes MAP_SHARED or MAP_PRIVATE only (MAP_SHARED_VALIDATE is EINVAL)', () => {
    const { task } = boot();
    expect(fails(task, () => task.mmap(0, P, RW, MAP_ANONYMOUS, -1, 0))).toBe('EINVAL');
    expect(fails(task, () => task.mmap(0, P, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0))).toBe('EINVAL');
    expect(fails(task, () => task.mmap(0, P, RW, 0x0f | MAP_ANONYMOUS, -1, 0))).toBe('EINVAL');
    expect(fails(task, () => task.mmap(0, P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0))).toBe('EINVAL');
  });

  it('file mappings: type, MAP_SHARED_VALIDATE flags, access mode, ->mmap, GROWSDOWN, MAP_HUGETLB', () => {
    const { task } = boot();
    const rw = tmpfile(task, 'rw', 4);
    const ro = tmpfile(task, 'ro', 4, O_RDONLY);
    const wo = tmpfile(task, 'wo', 4, O_WRONLY);
    expect(fails(task, () => task.mmap(0, P, RW, 0x0f, rw, 0))).toBe('EINVAL');
    // MAP_SHARED ignores flags it does not know; MAP_SHARED_VALIDATE refuses them.
    expect(fails(task, () => task.mmap(0, P, RW, MAP_SHARED_VALIDATE | MAP_SYNC, rw, 0))).toBe('EOPNOTSUPP');
    expect(fails(task, () => task.mmap(0, P, RW, MAP_SHARED_VALIDATE | MAP_FIXED_NOREPLACE, rw, 0))).toBe('EOPNOTSUPP');
    expect(errno(() => task.mmap(0, P, RW, MAP_SHARED | MAP_SYNC, rw, 0))).toBe('ok');
    expect(errno(() => task.mmap(0, P, RW, MAP_SHARED_VALIDATE | MAP_LOCKED, rw, 0))).toBe('ok');
    // A shared writable mapping needs a writable file; a private one does not.
    expect(fails(task, () => task.mmap(0, P, RW, MAP_SHARED, ro, 0))).toBe('EACCES');
    expect(errno(() => task.mmap(0, P, RW, MAP_PRIVATE, ro, 0))).toBe('ok');
    expect(errno(() => task.mmap(0, P, PROT_READ, MAP_SHARED, ro, 0))).toBe('ok');
    // Every file mapping needs a readable file.
    expect(fails(task, () => task.mmap(0, P, PROT_READ, MAP_PRIVATE, wo, 0))).toBe('EACCES');
    expect(fails(task, () => task.mmap(0, P, PROT_READ, MAP_SHARED, wo, 0))).toBe('EACCES');
    // A pipe has no ->mmap.
    const [r] = task.pipe();
    expect(fails(task, () => task.mmap(0, P, PROT_READ, MAP_PRIVATE, r, 0))).toBe('ENODEV');
    expect(fails(task, () => task.mmap(0, P, RW, MAP_PRIVATE | MAP_GROWSDOWN, rw, 0))).toBe('EINVAL');
    // ksys_mmap_pgoff: MAP_HUGETLB on a file outside hugetlbfs.
    expect(fails(task, () => task.mmap(0, P, RW, MAP_SHARED | MAP_HUGETLB, rw, 0))).toBe('EINVAL');
  });
});

describe('munmap: do_vmi_munmap checks', () => {
  /*
   *  |AAAA|....      munmap(A+1, P): EINVAL; munmap(A, 0): EINVAL; past TASK_SIZE: EINVAL
   *  |AAAA|....|     munmap of the hole after it: 0
   */
  it('unaligned, zero length and past TASK_SIZE are EINVAL; a hole is fine', () => {
    const { task } = boot();
    const a = task.mmap(0, 4 * P, RW, ANON, -1, 0);
    expect(fails(task, () => task.munmap(a + 1, P))).toBe('EINVAL');
    expect(fails(task, () => task.munmap(a, 0))).toBe('EINVAL');
    expect(fails(task, () => task.munmap(TASK_SIZE + P, P))).toBe('EINVAL');
    expect(fails(task, () => task.munmap(TASK_SIZE - P, 2 * P))).toBe('EINVAL');
    expect(errno(() => task.munmap(a + 4 * P, 4 * P))).toBe('ok');
    expect(task.mm.vmas.count).toBe(1);
  });

  /*
   *  |..AAAA|  → munmap from A+2 over the end of the last VMA: |..AA|
   */
  it('a range that runs past the last VMA is unmapped up to it', () => {
    const { task } = boot();
    const a = task.mmap(0, 4 * P, RW, ANON, -1, 0);
    task.store(a + 3 * P, new Uint8Array([1]));
    expect(errno(() => task.munmap(a + 2 * P, 64 * P))).toBe('ok');
    expect(task.mm.vmas.vma_lookup(a)!.end).toBe(a + 2 * P);
    expect(signal(() => task.load(a + 3 * P, 1))).toBe('SIGSEGV/1');
  });
});

describe('mprotect: do_mprotect_pkey checks', () => {
  it('unaligned start, unknown prot bits and GROWSDOWN|GROWSUP are EINVAL; len 0 and PROT_SEM are fine', () => {
    const { task } = boot();
    const a = task.mmap(0, 4 * P, RW, ANON, -1, 0);
    expect(fails(task, () => task.mprotect(a + 1, P, PROT_READ))).toBe('EINVAL');
    expect(fails(task, () => task.mprotect(a, P, 0x10))).toBe('EINVAL');
    expect(fails(task, () => task.mprotect(a, P, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP))).toBe('EINVAL');
    // A VMA that does not grow down takes no PROT_GROWSDOWN; x86 has no VM_GROWSUP at all.
    expect(fails(task, () => task.mprotect(a, P, PROT_READ | PROT_GROWSDOWN))).toBe('EINVAL');
    expect(fails(task, () => task.mprotect(a, P, PROT_READ | PROT_GROWSUP))).toBe('EINVAL');
    expect(fails(task, () => task.mprotect(a, 0, PROT_READ))).toBe('ok');
    expect(errno(() => task.mprotect(a, P, PROT_READ | 0x8 /* PROT_SEM */))).toBe('ok');
    expect(fails(task, () => task.mprotect(TASK_SIZE - P, 2 ** 64, PROT_READ))).toBe('ENOMEM');
  });

  /*
   *  |....|AAAA|     mprotect from the hole before A: ENOMEM, nothing changes
   *  |AAAA|....|BBBB|....|CCCC|   mprotect over all of it: ENOMEM at the first hole,
   *                               but A is already read-only (Linux changes VMAs in turn)
   */
  it('a hole is ENOMEM; the VMAs before it are already changed, as in Linux', () => {
    const { task } = boot();
    const base = threeVmas(task);
    expect(fails(task, () => task.mprotect(base - P, 2 * P, PROT_READ))).toBe('ENOMEM');
    expect(errno(() => task.mprotect(base, 20 * P, PROT_READ))).toBe('ENOMEM');
    expect(task.mm.vmas.vma_lookup(base)!.flags & VM_WRITE).toBe(0);
    expect(task.mm.vmas.vma_lookup(base + 8 * P)!.flags & VM_WRITE).toBe(VM_WRITE);
    expect(signal(() => task.store(base, new Uint8Array(1)))).toBe('SIGSEGV/2');
  });

  /*
   *  |RRRR|  MAP_SHARED of an O_RDONLY file: PROT_WRITE is EACCES (no VM_MAYWRITE)
   */
  it('PROT_WRITE on a read-only shared file mapping is EACCES; PROT_EXEC is fine', () => {
    const { task } = boot();
    const ro = tmpfile(task, 'ro', 4, O_RDONLY);
    const a = task.mmap(0, 4 * P, PROT_READ, MAP_SHARED, ro, 0);
    expect(fails(task, () => task.mprotect(a, 4 * P, RW))).toBe('EACCES');
    expect(errno(() => task.mprotect(a, 4 * P, PROT_READ | PROT_EXEC))).toBe('ok');
    // A private mapping of the same file may be made writable: writes are copied.
    const b = task.mmap(0, 4 * P, PROT_READ, MAP_PRIVATE, ro, 0);
    expect(errno(() => task.mprotect(b, 4 * P, RW))).toBe('ok');
  });

  /*
   *  |AAAA| written, then PROT_NONE: loads fault although the pages stay mapped
   */
  it('PROT_NONE makes mapped pages fault and PROT_READ brings them back', () => {
    const { task } = boot();
    const a = task.mmap(0, 4 * P, RW, ANON, -1, 0);
    task.store(a, new Uint8Array([42]));
    task.load(a + P, 1);
    task.mprotect(a, 4 * P, PROT_NONE);
    expect(signal(() => task.load(a, 1))).toBe('SIGSEGV/2');
    expect(signal(() => task.load(a + P, 1))).toBe('SIGSEGV/2');
    task.mprotect(a, 4 * P, PROT_READ);
    expect(task.load(a, 1)[0]).toBe(42);
    expect(signal(() => task.store(a, new Uint8Array(1)))).toBe('SIGSEGV/2');
  });

  it('MAP_POPULATE of PROT_NONE memory faults nothing in', () => {
    const { task } = boot();
    const a = task.mmap(0, 4 * P, PROT_NONE, ANON | 0x8000 /* MAP_POPULATE */, -1, 0);
    expect(task.mm.pgtables.count_leaves().pte).toBe(0);
    expect(signal(() => task.load(a, 1))).toBe('SIGSEGV/2');
  });
});

describe('mremap: check_mremap_params and check_prep_vma', () => {
  it('flags, alignment and lengths', () => {
    const { task } = boot();
    const a = task.mmap(0, 4 * P, RW, ANON, -1, 0);
    const far = a + 64 * MiB;
    expect(fails(task, () => task.mremap(a, P, P, 8))).toBe('EINVAL');
    expect(fails(task, () => task.mremap(a, P, P, MREMAP_FIXED, far))).toBe('EINVAL');
    expect(fails(task, () => task.mremap(a, P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, far))).toBe('EINVAL');
    expect(fails(task, () => task.mremap(a, P, P, MREMAP_DONTUNMAP, far))).toBe('EINVAL');
    expect(fails(task, () => task.mremap(a + 1, P, P, 0))).toBe('EINVAL');
    expect(fails(task, () => task.mremap(a, P, 0, MREMAP_MAYMOVE))).toBe('EINVAL');
    expect(fails(task, () => task.mremap(a, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, far + 1))).toBe('EINVAL');
    expect(fails(task, () => task.mremap(a, P, TASK_SIZE + P, MREMAP_MAYMOVE))).toBe('EINVAL');
    // old_len 0 duplicates shared mappings only.
    expect(fails(task, () => task.mremap(a, 0, P, MREMAP_MAYMOVE))).toBe('EINVAL');
  });

  /*
   *  |AAAA|....|BBBB|....|CCCC|
   *   mremap of the hole: EFAULT; growing A+2 with old_len 4 (across A's end): EFAULT
   *   growing A in place without MREMAP_MAYMOVE: ENOMEM (B is in the way after the hole)
   */
  it('no VMA and across a VMA end are EFAULT; no room without MAYMOVE is ENOMEM', () => {
    const { task } = boot();
    const base = threeVmas(task);
    expect(fails(task, () => task.mremap(base + 4 * P, P, 2 * P, MREMAP_MAYMOVE))).toBe('EFAULT');
    expect(fails(task, () => task.mremap(base + 2 * P, 4 * P, 8 * P, MREMAP_MAYMOVE))).toBe('EFAULT');
    expect(fails(task, () => task.mremap(base, 4 * P, 12 * P, 0))).toBe('ENOMEM');
    // A fits in place up to B.
    expect(task.mremap(base, 4 * P, 8 * P, 0)).toBe(base);
  });

  /*
   *  |AAAAAAAA|       MREMAP_FIXED from A to A+2: the ranges overlap, EINVAL
   *  |....|  ... |BB| MREMAP_FIXED of a hole onto B: EFAULT, and B is still mapped
   */
  it('an overlapping FIXED move is EINVAL; a failing FIXED move leaves the destination mapped', () => {
    const { task } = boot();
    const a = task.mmap(0, 8 * P, RW, ANON, -1, 0);
    const b = task.mmap(0, 2 * P, RW, ANON, -1, 0);
    task.store(b, new Uint8Array([7]));
    expect(fails(task, () => task.mremap(a, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, a + 2 * P))).toBe('EINVAL');
    // The overlap check comes before the VMA lookup.
    expect(fails(task, () => task.mremap(a + 64 * P, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, a + 66 * P))).toBe('EINVAL');
    expect(fails(task, () => task.mremap(a + 64 * P, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, b))).toBe('EFAULT');
    expect(fails(task, () => task.mremap(a + 6 * P, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, b))).toBe('EFAULT');
    expect(task.load(b, 1)[0]).toBe(7);
  });

  /*
   *  |SS|  shared anonymous; mremap(S, 0, 2 pages, MAYMOVE) duplicates it: |SS| ... |SS|
   */
  it('old_len 0 duplicates a shared mapping', () => {
    const { task } = boot();
    const s = task.mmap(0, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    task.store(s, new Uint8Array([5]));
    const d = task.mremap(s, 0, 2 * P, MREMAP_MAYMOVE);
    expect(d).not.toBe(s);
    expect(task.load(d, 1)[0]).toBe(5);
    task.store(d + P, new Uint8Array([6]));
    expect(task.load(s + P, 1)[0]).toBe(6);
  });

  /*
   *  |YYYY|............|XXXXXXXX|    a search for free space caches the gap between Y and X
   *  |YYYY|..........|ZZ|XXXXXXXX|
   *  |YYYYYYYY|......|ZZ|XXXXXXXX|    Y grown in place: the cached gap must follow
   */
  it('growing in place keeps the free-area bookkeeping right', () => {
    const { task } = boot();
    const x = task.mmap(0, 8 * P, RW, ANON, -1, 0);
    const y = task.mmap(x - 16 * P, 4 * P, PROT_READ, ANON | MAP_FIXED, -1, 0);
    const z = task.mmap(0, 2 * P, RW, ANON, -1, 0);
    expect(z).toBe(x - 2 * P);
    expect(task.mremap(y, 4 * P, 8 * P, 0)).toBe(y);
    task.mm.vmas.validate();
    const w = task.mmap(0, 6 * P, RW, ANON, -1, 0);
    expect(w).toBe(z - 6 * P);
    task.mm.vmas.validate();
  });
});

describe('madvise: do_madvise checks', () => {
  it('unknown advice and unaligned start are EINVAL', () => {
    const { task } = boot();
    const a = task.mmap(0, 4 * P, RW, ANON, -1, 0);
    expect(fails(task, () => task.madvise(a, P, 999))).toBe('EINVAL');
    expect(fails(task, () => task.madvise(a + 1, P, MADV_NORMAL))).toBe('EINVAL');
    expect(fails(task, () => task.madvise(a, 0, MADV_DONTNEED))).toBe('ok');
  });

  /*
   *  |AAAA|....|BBBB|....|CCCC|   DONTNEED over all: ENOMEM, but A, B and C are zapped
   */
  it('a hole is ENOMEM but the mapped parts are still advised', () => {
    const { task } = boot();
    const base = threeVmas(task);
    for (const off of [0, 8, 16]) task.store(base + off * P, new Uint8Array([9]));
    expect(errno(() => task.madvise(base, 20 * P, MADV_DONTNEED))).toBe('ENOMEM');
    for (const off of [0, 8, 16]) expect(task.load(base + off * P, 1)[0]).toBe(0);
    expect(errno(() => task.madvise(base - 4 * P, 8 * P, MADV_NOHUGEPAGE))).toBe('ENOMEM');
    expect(readFile(task, '/proc/self/smaps')).toMatch(/nh/);
  });

  /*
   *  |LLLL| MAP_LOCKED      DONTNEED: EINVAL
   *  |PPPP| VM_PFNMAP       DONTNEED: EINVAL
   */
  it('MADV_DONTNEED on VM_LOCKED or VM_PFNMAP memory is EINVAL', () => {
    const { task } = boot();
    const l = task.mmap(0, 4 * P, RW, ANON | MAP_LOCKED, -1, 0);
    expect(fails(task, () => task.madvise(l, 4 * P, MADV_DONTNEED))).toBe('EINVAL');
    const pfn = new VmArea(0x40000000, 0x40000000 + 4 * P, VM_READ | VM_PFNMAP, 0, null, { name: 'pfnmap' });
    task.mm.vmas.insert(pfn);
    expect(fails(task, () => task.madvise(pfn.start, 4 * P, MADV_DONTNEED))).toBe('EINVAL');
  });

  /*
   *  |FFFF| MAP_PRIVATE file: MADV_REMOVE is EACCES    |AAAA| anonymous: EINVAL
   *  |SSSS| MAP_SHARED file: the range is punched out of the file
   */
  it('MADV_REMOVE needs a shared writable file mapping', () => {
    const { task } = boot();
    const fd = tmpfile(task, 'f', 4);
    task.pwrite(fd, new Uint8Array(4 * P).fill(1), 0);
    const priv = task.mmap(0, 4 * P, RW, MAP_PRIVATE, fd, 0);
    expect(fails(task, () => task.madvise(priv, P, MADV_REMOVE))).toBe('EACCES');
    const anon = task.mmap(0, 4 * P, RW, ANON, -1, 0);
    expect(fails(task, () => task.madvise(anon, P, MADV_REMOVE))).toBe('EINVAL');
    const sh = task.mmap(0, 4 * P, RW, MAP_SHARED, fd, 0);
    expect(errno(() => task.madvise(sh + P, P, MADV_REMOVE))).toBe('ok');
    expect(task.pread(fd, 1, P)[0]).toBe(0);
    expect(task.pread(fd, 1, 0)[0]).toBe(1);
  });
});

describe('mbind and set_mempolicy: mpol_new and queue_pages_range checks', () => {
  it('bad mode, flags, empty mask, offline nodes', () => {
    const { task } = boot({ nodes: 2 });
    const a = task.mmap(0, 4 * P, RW, ANON, -1, 0);
    const pol = (): unknown => task.mm.vmas.vma_lookup(a)!.policy;
    const mb = (mode: number, nodes: number[], flags = 0): string => fails(task, () => task.mbind(a, 4 * P, mode, nodes, flags));
    expect(mb(99, [0])).toBe('EINVAL');
    expect(mb(-1, [0])).toBe('EINVAL');
    expect(mb(MPOL_BIND, [0], 0x100)).toBe('EINVAL');
    expect(errno(() => task.mbind(a + 1, P, MPOL_BIND, [0], 0))).toBe('EINVAL');
    expect(mb(MPOL_BIND, [])).toBe('EINVAL');
    expect(mb(MPOL_INTERLEAVE, [])).toBe('EINVAL');
    expect(mb(MPOL_DEFAULT, [0])).toBe('EINVAL');
    expect(mb(MPOL_LOCAL, [1])).toBe('EINVAL');
    // A mask of offline nodes only is EINVAL; offline nodes beside online ones are dropped.
    expect(mb(MPOL_BIND, [5])).toBe('EINVAL');
    expect(mb(MPOL_BIND, [2000])).toBe('EINVAL');
    expect(pol()).toBe(null);
    expect(errno(() => task.mbind(a, 4 * P, MPOL_BIND, [1, 5], 0))).toBe('ok');
    expect(pol()).toEqual({ mode: MPOL_BIND, nodes: [1] });
    // MPOL_PREFERRED with no node means local allocation.
    expect(errno(() => task.mbind(a, 4 * P, MPOL_PREFERRED, [], 0))).toBe('ok');
    expect(pol()).toEqual({ mode: MPOL_LOCAL, nodes: [] });
    expect(errno(() => task.set_mempolicy(99, []))).toBe('EINVAL');
    expect(errno(() => task.set_mempolicy(MPOL_BIND, []))).toBe('EINVAL');
    expect(errno(() => task.set_mempolicy(MPOL_INTERLEAVE, [7]))).toBe('EINVAL');
    expect(errno(() => task.set_mempolicy(MPOL_INTERLEAVE, [0, 1]))).toBe('ok');
  });

  /*
   *  |AAAA|....|BBBB|....|CCCC|   MPOL_BIND over all: EFAULT, no VMA changed
   *                               MPOL_DEFAULT over all: fine (MPOL_MF_DISCONTIG_OK)
   *       |....|                  MPOL_DEFAULT over the hole only: EFAULT
   */
  it('a hole is EFAULT before anything changes, except for MPOL_DEFAULT', () => {
    const { task } = boot({ nodes: 2 });
    const base = threeVmas(task);
    expect(fails(task, () => task.mbind(base, 20 * P, MPOL_BIND, [1], 0))).toBe('EFAULT');
    expect(task.mm.vmas.vmas_in(base, base + 20 * P).every((v) => v.policy === null)).toBe(true);
    task.mbind(base, 4 * P, MPOL_BIND, [1], 0);
    task.mbind(base + 16 * P, 4 * P, MPOL_BIND, [1], 0);
    expect(errno(() => task.mbind(base, 20 * P, MPOL_DEFAULT, [], 0))).toBe('ok');
    expect(task.mm.vmas.vmas_in(base, base + 20 * P).every((v) => v.policy === null)).toBe(true);
    expect(errno(() => task.mbind(base + 4 * P, 4 * P, MPOL_DEFAULT, [], 0))).toBe('EFAULT');
  });
});

describe('huge pages across VMA boundaries', () => {
  /*
   *  0 ......... 2M          one THP, then mprotect / madvise / mbind of one page in the
   *  |HHHHHHHHHHH|           middle splits the VMA; the PMD is split first, and fork copies
   *  |HHHH|R|HHHH|           every page once
   */
  it('splitting a VMA splits the huge entry across its new boundaries', () => {
    const { host, task } = boot({ nodes: 2 });
    const a = task.mmap(0, 2 * MiB, RW, ANON, -1, 0);
    task.store(a, new Uint8Array([1]));
    task.store(a + 100 * P, new Uint8Array([2]));
    expect(task.mm.pgtables.count_leaves().pmd).toBe(1);
    expect(errno(() => task.mprotect(a + 10 * P, P, PROT_READ))).toBe('ok');
    expect(task.mm.pgtables.count_leaves().pmd).toBe(0);
    expect(errno(() => task.madvise(a + 20 * P, P, MADV_HUGEPAGE))).toBe('ok');
    expect(errno(() => task.mbind(a + 30 * P, P, MPOL_BIND, [1], 0))).toBe('ok');
    const child = task.fork();
    expect(child.load(a + 100 * P, 1)[0]).toBe(2);
    child.store(a + 100 * P, new Uint8Array([3]));
    expect(task.load(a + 100 * P, 1)[0]).toBe(2);
    child.exit(0);
    task.wait4(child.pid, 0);
    task.munmap(a, 2 * MiB);
    expect(host.kmem.anon.nrThps).toBe(0);
  });
});

/**
 * The fault path through the syscall interface: what each access installs, by
 * level, and what it costs in /proc/meminfo. Addresses are drawn as
 *   |....|  unmapped pages   |0000| zero-page entries   |AAAA| private anonymous pages
 */
import { describe, expect, it } from 'vitest';
import { MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import {
  MADV_DONTNEED,
  MADV_HUGEPAGE,
  MADV_NOHUGEPAGE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from '../../src/uapi/mman.ts';
import { boot, errno, meminfo, readFile, signal } from './helpers.ts';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('anonymous 4K faults', () => {
  /*
   *  before        |........|   8 pages, MADV_NOHUGEPAGE
   *  read page 0   |0.......|   zero page: no memory used
   *  write page 0  |A.......|   copy-on-write from the zero page: one page
   */
  it('read maps the zero page, write replaces it with a zeroed page', () => {
    const { task } = boot();
    const a = task.mmap(0, 8 * PAGE_SIZE, RW, ANON, -1, 0);
    task.madvise(a, 8 * PAGE_SIZE, MADV_NOHUGEPAGE);
    const anon0 = meminfo(task, 'AnonPages');
    expect(task.load(a, 4)).toEqual(new Uint8Array(4));
    expect(task.mm.faultsByLevel[1]).toBe(1);
    expect(meminfo(task, 'AnonPages')).toBe(anon0);
    task.store(a, new Uint8Array([7]));
    expect(task.mm.faultsByLevel[1]).toBe(2);
    expect(meminfo(task, 'AnonPages')).toBe(anon0 + 4);
    expect(task.load(a, 2)).toEqual(new Uint8Array([7, 0]));
  });

  /*
   *  write 8 pages |AAAAAAAA|  8 faults, 8 pages
   *  DONTNEED 2..5 |AA....AA|  pages freed; reading them again gives zeros
   */
  it('MADV_DONTNEED frees pages and they read back as zero', () => {
    const { task } = boot();
    const a = task.mmap(0, 8 * PAGE_SIZE, RW, ANON, -1, 0);
    task.madvise(a, 8 * PAGE_SIZE, MADV_NOHUGEPAGE);
    const free0 = meminfo(task, 'MemFree');
    for (let i = 0; i < 8; i++) task.store(a + i * PAGE_SIZE, new Uint8Array([0xaa]));
    // 8 pages plus the PUD, PMD and PTE table pages the first fault needed
    // (PageTables also counts the PGDs of init and of this task).
    expect(meminfo(task, 'PageTables')).toBe(5 * 4);
    expect(meminfo(task, 'MemFree')).toBe(free0 - 32 - 12);
    task.madvise(a + 2 * PAGE_SIZE, 4 * PAGE_SIZE, MADV_DONTNEED);
    // MADV_DONTNEED frees pages, not page tables.
    expect(meminfo(task, 'MemFree')).toBe(free0 - 16 - 12);
    expect(task.load(a + 2 * PAGE_SIZE, 1)[0]).toBe(0);
    expect(task.load(a + 7 * PAGE_SIZE, 1)[0]).toBe(0xaa);
  });

  it('a freed page does not leak its old bytes to the next owner', () => {
    const { task } = boot();
    const a = task.mmap(0, PAGE_SIZE, RW, ANON, -1, 0);
    task.store(a, new Uint8Array(PAGE_SIZE).fill(0x5a));
    task.munmap(a, PAGE_SIZE);
    const b = task.mmap(0, PAGE_SIZE, RW, ANON, -1, 0);
    task.store(b, new Uint8Array([1]));
    expect(task.load(b + 1, PAGE_SIZE - 1).every((x) => x === 0)).toBe(true);
  });
});

describe('transparent huge pages', () => {
  /*
   *  0 ......... 2M ......... 4M      a 4 MiB mapping aligned to 2 MiB
   *  |AAAAAAAAAAA|...........|        one write → one 2M entry, 512 pages
   */
  it('a write in an eligible 2M range installs a PMD', () => {
    const { task } = boot();
    const a = task.mmap(0, 4 * MiB, RW, ANON, -1, 0);
    expect(a % (2 * MiB)).toBe(0);
    task.store(a + 12345, new Uint8Array([1]));
    expect(Array.from(task.mm.faultsByLevel)).toEqual([0, 0, 1, 0]);
    expect(meminfo(task, 'AnonHugePages')).toBe(2048);
    expect(meminfo(task, 'AnonPages')).toBe(2048);
  });

  it('never/madvise modes follow /sys/kernel/mm/transparent_hugepage/enabled', () => {
    const { task } = boot();
    const fd = task.open('/sys/kernel/mm/transparent_hugepage/enabled', 1);
    task.write(fd, 'madvise\n');
    task.close(fd);
    expect(readFile(task, '/sys/kernel/mm/transparent_hugepage/enabled')).toBe('always [madvise] never\n');
    const a = task.mmap(0, 4 * MiB, RW, ANON, -1, 0);
    task.store(a, new Uint8Array([1]));
    expect(task.mm.faultsByLevel[2]).toBe(0);
    task.madvise(a, 4 * MiB, MADV_HUGEPAGE);
    task.store(a + 2 * MiB, new Uint8Array([1]));
    expect(task.mm.faultsByLevel[2]).toBe(1);
    const bad = task.open('/sys/kernel/mm/transparent_hugepage/enabled', 1);
    expect(errno(() => task.write(bad, 'sometimes'))).toBe('EINVAL');
  });

  it('a read fault maps the huge zero page and uses no memory', () => {
    const { task } = boot();
    const a = task.mmap(0, 2 * MiB, RW, ANON, -1, 0);
    const anon0 = meminfo(task, 'AnonPages');
    expect(task.load(a, 1)[0]).toBe(0);
    expect(task.mm.faultsByLevel[2]).toBe(1);
    expect(meminfo(task, 'AnonPages')).toBe(anon0);
    task.store(a, new Uint8Array([3]));
    expect(meminfo(task, 'AnonHugePages')).toBe(2048);
  });
});

describe('fork and copy-on-write', () => {
  it('parent and child share pages until one of them writes', () => {
    const { task } = boot();
    const a = task.mmap(0, 4 * PAGE_SIZE, RW, ANON, -1, 0);
    task.madvise(a, 4 * PAGE_SIZE, MADV_NOHUGEPAGE);
    for (let i = 0; i < 4; i++) task.store(a + i * PAGE_SIZE, new Uint8Array([i + 1]));
    const anon0 = meminfo(task, 'AnonPages');
    const child = task.fork();
    expect(meminfo(task, 'AnonPages')).toBe(anon0);
    child.store(a, new Uint8Array([9]));
    expect(meminfo(task, 'AnonPages')).toBe(anon0 + 4);
    expect(task.load(a, 1)[0]).toBe(1);
    expect(child.load(a, 1)[0]).toBe(9);
    task.store(a + PAGE_SIZE, new Uint8Array([8]));
    expect(child.load(a + PAGE_SIZE, 1)[0]).toBe(2);
    expect(meminfo(task, 'AnonPages')).toBe(anon0 + 8);
    // The child's copy and the page only it still mapped go; the parent keeps four.
    child.exit(0);
    expect(meminfo(task, 'AnonPages')).toBe(anon0);
    task.wait4(child.pid, 0);
  });

  it('a THP shared by fork is split and copied 4K at a time on write', () => {
    const { task } = boot();
    const a = task.mmap(0, 2 * MiB, RW, ANON, -1, 0);
    task.store(a, new Uint8Array([5]));
    const child = task.fork();
    child.store(a + PAGE_SIZE, new Uint8Array([6]));
    expect(task.load(a + PAGE_SIZE, 1)[0]).toBe(0);
    expect(child.load(a, 1)[0]).toBe(5);
    expect(child.load(a + PAGE_SIZE, 1)[0]).toBe(6);
    child.exit(0);
    task.wait4(child.pid, 0);
  });
});

describe('signals', () => {
  it('unmapped → SIGSEGV/SEGV_MAPERR, PROT_NONE and read-only writes → SEGV_ACCERR', () => {
    const { task } = boot();
    expect(signal(() => task.load(0x1000, 1))).toBe('SIGSEGV/1');
    const a = task.mmap(0, PAGE_SIZE, PROT_NONE, ANON, -1, 0);
    expect(signal(() => task.load(a, 1))).toBe('SIGSEGV/2');
    task.mprotect(a, PAGE_SIZE, PROT_READ);
    expect(signal(() => task.load(a, 1))).toBe('ok');
    expect(signal(() => task.store(a, new Uint8Array(1)))).toBe('SIGSEGV/2');
  });

  it('a shared file mapping past EOF raises SIGBUS', () => {
    const { task } = boot();
    const fd = task.open('/tmp/f', 0o102, 0o644);
    task.ftruncate(fd, PAGE_SIZE);
    const a = task.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    task.store(a, new Uint8Array([1]));
    expect(signal(() => task.load(a + PAGE_SIZE, 1))).toBe('SIGBUS/2');
  });
});

describe('mmap errnos', () => {
  it('rejects invalid calls as Linux does and leaves no mapping behind', () => {
    const { task } = boot();
    expect(errno(() => task.mmap(0, 0, RW, ANON, -1, 0))).toBe('EINVAL');
    expect(errno(() => task.mmap(0, PAGE_SIZE, RW, MAP_ANONYMOUS, -1, 0))).toBe('EINVAL');
    expect(errno(() => task.mmap(0, PAGE_SIZE, RW, ANON, -1, 1))).toBe('EINVAL');
    expect(errno(() => task.mmap(0x1001, PAGE_SIZE, RW, ANON | MAP_FIXED, -1, 0))).toBe('EINVAL');
    expect(errno(() => task.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE, 99, 0))).toBe('EBADF');
    const ro = task.open('/tmp/ro', 0o102, 0o644);
    task.close(ro);
    const fd = task.open('/tmp/ro', 0);
    expect(errno(() => task.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0))).toBe('EACCES');
    expect(task.mm.vmas.count).toBe(0);
  });

  it('MAP_POPULATE faults everything in up front', () => {
    const { task } = boot();
    task.mmap(0, 16 * PAGE_SIZE, RW, ANON | MAP_POPULATE, -1, 0);
    expect(task.mm.faultsByLevel[1]).toBe(16);
  });

  it('munmap frees the pages and the page tables', () => {
    const { task } = boot();
    const pt0 = meminfo(task, 'PageTables');
    const free0 = meminfo(task, 'MemFree');
    const a = task.mmap(0, 64 * PAGE_SIZE, RW, ANON | MAP_POPULATE, -1, 0);
    expect(meminfo(task, 'PageTables')).toBeGreaterThan(pt0);
    task.munmap(a, 64 * PAGE_SIZE);
    expect(meminfo(task, 'PageTables')).toBe(pt0);
    expect(meminfo(task, 'MemFree')).toBe(free0);
  });
});

describe('signals to init', () => {
  it('init is unkillable: kill -9 1 succeeds and init lives on', () => {
    const { host, task } = boot();
    task.kill(1, 9);
    expect(host.init.state).toBe('S');
    expect(host.tasks.has(1)).toBe(true);
  });
});

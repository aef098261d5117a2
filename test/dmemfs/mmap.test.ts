/**
 * Mapping dmemfs files through a task's mmap, with the original's fault path
 * (mapping=fault): what each access installs, and the errors around it.
 *
 * A 2M mount, a file of 2 dpages mapped with 4 dpages of address space:
 *
 *   va      a         a+2M      a+4M      a+6M      a+8M
 *           |  PMD    |  PMD    | SIGBUS  | SIGBUS  |      (i_size = 4M)
 */
import { describe, expect, it } from 'vitest';
import { GiB, MiB, PAGE_SIZE, PMD_SIZE, PUD_SIZE } from '../../src/lib/size.ts';
import { O_RDONLY } from '../../src/uapi/fcntl.ts';
import { MAP_FIXED, MAP_PRIVATE, MAP_SHARED, MREMAP_FIXED, MREMAP_MAYMOVE, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { pte_pfn, pte_special } from '../../src/kernel/mm/pgtable.ts';
import { VM_DONTCOPY, VM_DONTEXPAND, VM_HUGEPAGE, VM_IO, VM_PFNMAP } from '../../src/kernel/mm/vm_area.ts';
import { POOL_BASE, createFile, errno, mountDmemfs, setup, signal } from './helpers.ts';

const RW = PROT_READ | PROT_WRITE;
const bytes = (...b: number[]) => new Uint8Array(b);

describe('mmap checks', () => {
  it('MAP_PRIVATE is EINVAL; so is MAP_SHARED of a read-only fd (no VM_SHARED)', () => {
    const { task } = setup();
    mountDmemfs(task);
    const fd = createFile(task, '/mnt/dmem/f', PAGE_SIZE);
    expect(errno(() => task.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE, fd, 0))).toBe('EINVAL');
    const ro = task.open('/mnt/dmem/f', O_RDONLY);
    expect(errno(() => task.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, ro, 0))).toBe('EINVAL');
    expect(errno(() => task.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0))).toBe('ok');
  });

  it('offset, length and a MAP_FIXED address must be dpage aligned', () => {
    const { task } = setup();
    mountDmemfs(task, 'pagesize=2M');
    const fd = createFile(task, '/mnt/dmem/f', 4 * PMD_SIZE);
    expect(errno(() => task.mmap(0, PMD_SIZE, RW, MAP_SHARED, fd, PAGE_SIZE))).toBe('EINVAL');
    expect(errno(() => task.mmap(0, PMD_SIZE + PAGE_SIZE, RW, MAP_SHARED, fd, 0))).toBe('EINVAL');
    expect(errno(() => task.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0))).toBe('EINVAL');
    expect(errno(() => task.mmap(0x7f0000001000, PMD_SIZE, RW, MAP_SHARED | MAP_FIXED, fd, 0))).toBe('EINVAL');
    expect(task.mmap(0x7f0000200000, PMD_SIZE, RW, MAP_SHARED | MAP_FIXED, fd, PMD_SIZE)).toBe(0x7f0000200000);
  });

  it.each([
    ['4K', PAGE_SIZE, VM_PFNMAP | VM_IO | VM_DONTCOPY],
    ['2M', PMD_SIZE, VM_PFNMAP | VM_IO | VM_DONTCOPY | VM_HUGEPAGE],
    ['1G', PUD_SIZE, VM_PFNMAP | VM_IO | VM_DONTCOPY | VM_HUGEPAGE],
  ])('pagesize=%s: the address is dpage aligned, the VMA flags are the original\'s', (ps, size, flags) => {
    const { task } = setup({ poolBytes: 4 * GiB });
    mountDmemfs(task, `pagesize=${ps}`);
    const fd = createFile(task, '/mnt/dmem/f', 2 * size);
    task.mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE | 0x20, -1, 0); // something below mmap_base first
    const a = task.mmap(0x10001000, 2 * size, RW, MAP_SHARED, fd, 0);
    expect(a % size).toBe(0);
    const vma = task.mm.vmas.find_vma(a)!;
    expect(vma.flags & flags).toBe(flags);
    expect(vma.flags & VM_DONTEXPAND).toBe(0);
  });
});

describe('faults install one raw pfn entry of the dpage size', () => {
  it.each([
    ['4K', PAGE_SIZE, 1],
    ['2M', PMD_SIZE, 2],
    ['1G', PUD_SIZE, 3],
  ])('pagesize=%s → one level-%i entry, special, no struct page', (ps, size, level) => {
    const { host, task, pool } = setup({ poolBytes: 4 * GiB });
    mountDmemfs(task, `pagesize=${ps}`);
    const fd = createFile(task, '/mnt/dmem/f', 2 * size);
    const a = task.mmap(0, 2 * size, RW, MAP_SHARED, fd, 0);
    const rss0 = task.rss();
    const within = size === PAGE_SIZE ? 100 : 4100;
    task.store(a + size + within, bytes(0xab));
    expect([...task.mm.faultsByLevel]).toEqual([0, level === 1 ? 1 : 0, level === 2 ? 1 : 0, level === 3 ? 1 : 0]);
    const leaves = task.mm.pgtables.count_leaves(a, a + 2 * size);
    expect([leaves.pte, leaves.pmd, leaves.pud]).toEqual([level === 1 ? 1 : 0, level === 2 ? 1 : 0, level === 3 ? 1 : 0]);
    const e = task.mm.pgtables.walk(a + size + within);
    expect(pte_special(e)).toBe(true);
    // The first dpage of the pool (first fit) went to this fault; the leaf maps all of it.
    const pfn = pte_pfn(e);
    expect(pfn).toBe(POOL_BASE / PAGE_SIZE);
    expect(host.mem.sparse.pfn_valid(pfn)).toBe(false);
    expect(task.rss()).toEqual(rss0);
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 1);
    // The byte landed in the dpage, where read(2) sees it.
    expect(task.pread(fd, 1, size + within)).toEqual(bytes(0xab));
    expect(host.dram.read(POOL_BASE + within, 1)).toEqual(bytes(0xab));
  });

  it('a 4K fault on a 2M mount (MADV_NOHUGEPAGE) maps the right 4K frame of the dpage', () => {
    const { task } = setup();
    mountDmemfs(task, 'pagesize=2M');
    const fd = createFile(task, '/mnt/dmem/f', PMD_SIZE);
    task.pwrite(fd, bytes(5), 3 * PAGE_SIZE + 7);
    const a = task.mmap(0, PMD_SIZE, RW, MAP_SHARED, fd, 0);
    task.madvise(a, PMD_SIZE, 15 /* MADV_NOHUGEPAGE */);
    expect(task.load(a + 3 * PAGE_SIZE + 7, 1)).toEqual(bytes(5));
    expect(task.mm.faultsByLevel[1]).toBe(1);
    expect(pte_pfn(task.mm.pgtables.walk(a + 3 * PAGE_SIZE))).toBe(POOL_BASE / PAGE_SIZE + 3);
  });

  it('past EOF is SIGBUS, not an allocation', () => {
    const { task, pool } = setup();
    mountDmemfs(task, 'pagesize=2M');
    const fd = createFile(task, '/mnt/dmem/f', 2 * PMD_SIZE);
    const a = task.mmap(0, 4 * PMD_SIZE, RW, MAP_SHARED, fd, 0);
    expect(signal(() => task.load(a + PMD_SIZE, 1))).toBe('ok');
    expect(signal(() => task.load(a + 2 * PMD_SIZE, 1))).toBe('SIGBUS/2');
    expect(signal(() => task.store(a + 4 * PMD_SIZE - 1, bytes(1)))).toBe('SIGBUS/2');
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 1);
  });

  it('an empty pool is SIGBUS, never the OOM killer', () => {
    const { task, pool, host } = setup({ poolBytes: PMD_SIZE });
    mountDmemfs(task, 'pagesize=2M');
    const fd = createFile(task, '/mnt/dmem/f', 2 * PMD_SIZE);
    const a = task.mmap(0, 2 * PMD_SIZE, RW, MAP_SHARED, fd, 0);
    task.store(a, bytes(1));
    expect(signal(() => task.store(a + PMD_SIZE, bytes(1)))).toBe('SIGBUS/2');
    expect(host.tasks.get(task.pid)?.state).not.toBe('Z');
    expect(pool.free_dpages()).toBe(0);
  });
});

describe('max_alloc_try_dpages', () => {
  /*
   *  index   0   1   2   3   4   5   6   7     i_size = 8 dpages, max_alloc_try_dpages = 4
   *                      #                     pwrite allocated dpage 3
   *  touch 0 ###########  #                    [0, 3): bounded by the entry at 3
   *  touch 5                     #######       [5, 8): bounded by EOF (try 3)
   *  touch 4                 #                 [4, 5): bounded by the entry at 5
   */
  it('allocates several dpages per fault, bounded by the next entry and by EOF', () => {
    const { task, pool, params } = setup();
    params.max_alloc_try_dpages = 4;
    mountDmemfs(task);
    const fd = createFile(task, '/mnt/dmem/f', 8 * PAGE_SIZE);
    task.pwrite(fd, bytes(1), 3 * PAGE_SIZE);
    const a = task.mmap(0, 8 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    pool.calls.length = 0;
    task.load(a, 1);
    task.load(a + PAGE_SIZE, 1);
    task.load(a + 2 * PAGE_SIZE, 1);
    expect(pool.calls).toEqual([[3, 3]]);
    task.load(a + 5 * PAGE_SIZE, 1);
    expect(pool.calls.at(-1)).toEqual([3, 3]);
    task.load(a + 4 * PAGE_SIZE, 1);
    expect(pool.calls.at(-1)).toEqual([1, 1]);
    expect(pool.calls.length).toBe(3);
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 8);
    // Every fault still installs only its own entry.
    expect(task.mm.pgtables.count_leaves(a, a + 8 * PAGE_SIZE).pte).toBe(5);
  });
});

describe('truncate and other processes', () => {
  it('shrinking unmaps the range from every process, then frees the dpages', () => {
    const { host, task, pool } = setup();
    mountDmemfs(task, 'pagesize=2M');
    const fd = createFile(task, '/mnt/dmem/f', 3 * PMD_SIZE);
    const other = host.spawnConsoleTask('other', { stdout: () => {}, stderr: () => {} });
    const ofd = other.open('/mnt/dmem/f', 2);
    const a = task.mmap(0, 3 * PMD_SIZE, RW, MAP_SHARED, fd, 0);
    const b = other.mmap(0, 3 * PMD_SIZE, RW, MAP_SHARED, ofd, 0);
    for (let i = 0; i < 3; i++) task.store(a + i * PMD_SIZE, bytes(10 + i));
    for (let i = 0; i < 3; i++) expect(other.load(b + i * PMD_SIZE, 1)).toEqual(bytes(10 + i));
    expect(other.mm.pgtables.count_leaves().pmd).toBe(3);
    task.ftruncate(fd, PMD_SIZE);
    expect(task.mm.pgtables.count_leaves().pmd).toBe(1);
    expect(other.mm.pgtables.count_leaves().pmd).toBe(1);
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 1);
    expect(signal(() => other.load(b + PMD_SIZE, 1))).toBe('SIGBUS/2');
    expect(other.load(b, 1)).toEqual(bytes(10));
  });

  it('fork does not copy the mapping (VM_DONTCOPY): the child gets SIGSEGV', () => {
    const { task } = setup();
    mountDmemfs(task);
    const fd = createFile(task, '/mnt/dmem/f', PAGE_SIZE);
    const a = task.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    task.store(a, bytes(3));
    const child = task.fork();
    expect(signal(() => child.load(a, 1))).toBe('SIGSEGV/1');
    expect(task.load(a, 1)).toEqual(bytes(3));
  });
});

describe('what the VMA refuses', () => {
  it('mprotect that changes anything is EINVAL; asking for what it has is fine', () => {
    const { task } = setup();
    mountDmemfs(task);
    const fd = createFile(task, '/mnt/dmem/f', PAGE_SIZE);
    const a = task.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    expect(errno(() => task.mprotect(a, PAGE_SIZE, PROT_READ))).toBe('EINVAL');
    expect(errno(() => task.mprotect(a, PAGE_SIZE, RW))).toBe('ok');
  });

  it('mremap is refused: a move is EINVAL, growing in place EFAULT (VM_PFNMAP)', () => {
    const { task } = setup();
    mountDmemfs(task, 'pagesize=2M');
    const fd = createFile(task, '/mnt/dmem/f', 2 * PMD_SIZE);
    const a = task.mmap(0, PMD_SIZE, RW, MAP_SHARED, fd, 0);
    const to = a + 64 * PMD_SIZE;
    expect(errno(() => task.mremap(a, PMD_SIZE, PMD_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, to))).toBe('EINVAL');
    expect(errno(() => task.mremap(a, PMD_SIZE, 2 * PMD_SIZE, 0))).toBe('EFAULT');
  });

  /*
   *  a          a+2M       a+4M
   *  |   dpage  |   dpage  |      munmap(a+4K, ...) would split inside a dpage: EINVAL
   */
  it('munmap may split only at a dpage boundary', () => {
    const { task } = setup();
    mountDmemfs(task, 'pagesize=2M');
    const fd = createFile(task, '/mnt/dmem/f', 2 * PMD_SIZE);
    const a = task.mmap(0, 2 * PMD_SIZE, RW, MAP_SHARED, fd, 0);
    task.store(a + PMD_SIZE, bytes(1));
    expect(errno(() => task.munmap(a + PAGE_SIZE, PAGE_SIZE))).toBe('EINVAL');
    expect(errno(() => task.munmap(a, PMD_SIZE))).toBe('ok');
    expect(task.load(a + PMD_SIZE, 1)).toEqual(bytes(1));
    expect(task.mm.vmas.find_vma(a)!.start).toBe(a + PMD_SIZE);
  });
});

describe('1 GiB files', () => {
  it('a 1G mount maps a 2 GiB file with two PUD entries', () => {
    const { task, pool } = setup({ poolBytes: 4 * GiB });
    mountDmemfs(task, 'pagesize=1G');
    const fd = createFile(task, '/mnt/dmem/vm', 2 * GiB);
    const a = task.mmap(0, 2 * GiB, RW, MAP_SHARED, fd, 0);
    task.store(a + 5 * MiB, bytes(1));
    task.store(a + GiB + 7 * MiB, bytes(2));
    expect(task.mm.pgtables.count_leaves()).toEqual({ pte: 0, pmd: 0, pud: 2 });
    expect(pool.free_dpages()).toBe(2);
  });
});

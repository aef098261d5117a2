/**
 * remap_pfn_range (mm/memory.c) and dmemfs's mapping=remap mount option: the
 * reviewers' "why not remap_pfn_range + VM_PFNMAP like /dev/mem?", measured.
 *
 * mapping=remap, 2M dpages, a 2-dpage file mapped with 3 dpages of address space:
 *
 *   va      a               a+2M            a+4M            a+6M
 *           |512 special PTEs|512 special PTEs|    SIGBUS     |   all at mmap time
 */
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, PMD_SIZE } from '../../src/lib/size.ts';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { pte_pfn, pte_special, pte_write } from '../../src/kernel/mm/pgtable.ts';
import { remap_pfn_range } from '../../src/kernel/mm/remap.ts';
import { VM_DONTDUMP, VM_DONTEXPAND, VM_IO, VM_MAYREAD, VM_MAYWRITE, VM_PFNMAP, VM_READ, VM_SHARED, VM_WRITE, VmArea } from '../../src/kernel/mm/vm_area.ts';
import { POOL_BASE, createFile, errno, mountDmemfs, setup, signal } from './helpers.ts';

const RW = PROT_READ | PROT_WRITE;
const bytes = (...b: number[]) => new Uint8Array(b);

describe('remap_pfn_range', () => {
  const FRAME = POOL_BASE / PAGE_SIZE;

  function vmaOf(flags: number, start = 0x7f0000000000, pages = 4): VmArea {
    return new VmArea(start, start + pages * PAGE_SIZE, flags, 0, null);
  }

  it('maps consecutive frames as special 4K PTEs and marks the VMA', () => {
    const { task } = setup();
    const vma = vmaOf(VM_READ | VM_WRITE | VM_SHARED | VM_MAYREAD | VM_MAYWRITE);
    remap_pfn_range(task.mm, vma, vma.start, FRAME, 4 * PAGE_SIZE);
    expect(vma.flags & (VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP)).toBe(VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
    for (let i = 0; i < 4; i++) {
      const e = task.mm.pgtables.walk(vma.start + i * PAGE_SIZE);
      expect([pte_pfn(e), pte_special(e), pte_write(e), task.mm.pgtables.lastLevel]).toEqual([FRAME + i, true, true, 1]);
    }
  });

  it('never installs huge entries, even for an aligned 2M range', () => {
    const { task } = setup();
    const vma = vmaOf(VM_READ | VM_SHARED, 0x7f0000000000, 512);
    remap_pfn_range(task.mm, vma, vma.start, FRAME, PMD_SIZE);
    expect(task.mm.pgtables.count_leaves()).toEqual({ pte: 512, pmd: 0, pud: 0 });
  });

  it('EINVAL for an unaligned address or part of a COW mapping; a whole COW mapping records the pfn', () => {
    const { task } = setup();
    const shared = vmaOf(VM_READ | VM_SHARED);
    expect(errno(() => remap_pfn_range(task.mm, shared, shared.start + 1, FRAME, PAGE_SIZE))).toBe('EINVAL');
    const cow = vmaOf(VM_READ | VM_MAYWRITE);
    expect(errno(() => remap_pfn_range(task.mm, cow, cow.start, FRAME, PAGE_SIZE))).toBe('EINVAL');
    expect(task.mm.pgtables.count_leaves().pte).toBe(0);
    remap_pfn_range(task.mm, cow, cow.start, FRAME + 8, 4 * PAGE_SIZE);
    expect(cow.pgoff).toBe(FRAME + 8);
  });

  it('remapping over a present entry is a kernel bug', () => {
    const { task } = setup();
    const vma = vmaOf(VM_READ | VM_SHARED);
    remap_pfn_range(task.mm, vma, vma.start, FRAME, PAGE_SIZE);
    expect(() => remap_pfn_range(task.mm, vma, vma.start, FRAME, PAGE_SIZE)).toThrow(/BUG/);
  });
});

describe('dmemfs mapping=remap', () => {
  it('mmap allocates and maps the whole range below EOF with 4K entries', () => {
    const { task, pool } = setup();
    mountDmemfs(task, 'pagesize=2M,mapping=remap');
    const fd = createFile(task, '/mnt/dmem/f', 2 * PMD_SIZE);
    task.pwrite(fd, bytes(42), PMD_SIZE + 9);
    const a = task.mmap(0, 3 * PMD_SIZE, RW, MAP_SHARED, fd, 0);
    expect(task.mm.pgtables.count_leaves()).toEqual({ pte: 1024, pmd: 0, pud: 0 });
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 2);
    const vma = task.mm.vmas.find_vma(a)!;
    expect(vma.flags & (VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP)).toBe(VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP);
    expect(vma.vm_ops?.huge_fault).toBeUndefined();
    // Accesses need no fault at all; past EOF there is nothing but SIGBUS.
    expect(task.load(a + PMD_SIZE + 9, 1)).toEqual(bytes(42));
    task.store(a + 5, bytes(7));
    expect([...task.mm.faultsByLevel]).toEqual([0, 0, 0, 0]);
    expect(task.pread(fd, 1, 5)).toEqual(bytes(7));
    expect(signal(() => task.load(a + 2 * PMD_SIZE, 1))).toBe('SIGBUS/2');
    expect(pte_special(task.mm.pgtables.walk(a))).toBe(true);
  });

  it('a second mapping reuses the file\'s dpages; munmap keeps them', () => {
    const { task, pool } = setup();
    mountDmemfs(task, 'pagesize=2M,mapping=remap');
    const fd = createFile(task, '/mnt/dmem/f', 2 * PMD_SIZE);
    const a = task.mmap(0, 2 * PMD_SIZE, RW, MAP_SHARED, fd, 0);
    const b = task.mmap(0, PMD_SIZE, RW, MAP_SHARED, fd, PMD_SIZE);
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 2);
    expect(pte_pfn(task.mm.pgtables.walk(b))).toBe(pte_pfn(task.mm.pgtables.walk(a + PMD_SIZE)));
    task.munmap(a, 2 * PMD_SIZE);
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 2);
  });

  it('an empty pool fails the mmap with ENOMEM and leaves nothing behind', () => {
    const { task, pool } = setup({ poolBytes: 3 * PMD_SIZE });
    mountDmemfs(task, 'pagesize=2M,mapping=remap');
    const fd = createFile(task, '/mnt/dmem/f', 4 * PMD_SIZE);
    task.pwrite(fd, bytes(1), 0);
    const vmas = task.mm.vmas.count;
    expect(errno(() => task.mmap(0, 4 * PMD_SIZE, RW, MAP_SHARED, fd, 0))).toBe('ENOMEM');
    expect(task.mm.vmas.count).toBe(vmas);
    expect(task.mm.pgtables.count_leaves()).toEqual({ pte: 0, pmd: 0, pud: 0 });
    expect(pool.free_dpages()).toBe(2);
    expect(task.pread(fd, 1, 0)).toEqual(bytes(1));
  });

  it('truncate zaps the remapped entries; the regrown range is SIGBUS (no fault handler)', () => {
    const { task, pool } = setup();
    mountDmemfs(task, 'pagesize=2M,mapping=remap');
    const fd = createFile(task, '/mnt/dmem/f', 2 * PMD_SIZE);
    const a = task.mmap(0, 2 * PMD_SIZE, RW, MAP_SHARED, fd, 0);
    task.ftruncate(fd, PMD_SIZE);
    expect(task.mm.pgtables.count_leaves().pte).toBe(512);
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 1);
    task.ftruncate(fd, 2 * PMD_SIZE);
    expect(signal(() => task.load(a + PMD_SIZE, 1))).toBe('SIGBUS/2');
  });
});

/**
 * Long-term pins of memory with struct pages: anonymous 4K pages, THPs and
 * tmpfs page cache stay allocated while DMA-mapped even after every CPU
 * mapping is gone, and go back to the buddy allocator at VFIO_IOMMU_UNMAP_DMA.
 */
import { describe, expect, it } from 'vitest';
import { MiB, PAGE_SIZE, PMD_SIZE, alignUp } from '../../src/lib/size.ts';
import { mm_lock_state } from '../../src/kernel/mm/gup.ts';
import { MADV_DONTNEED, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { iommuOf, mapDma, meminfo, openContainer, setup, stats, unmapDma } from './helpers.ts';

/** Free memory plus what page tables hold (tables may be kept by the mm after munmap). */
function freeish(t: ReturnType<typeof setup>['task']): number {
  return meminfo(t, 'MemFree') + meminfo(t, 'PageTables');
}

describe('anonymous memory', () => {
  /*
   * vaddr v       v+16K
   *       |=anon==|        touched, then DMA-mapped at iova 1M
   *       munmap  → frames stay (pinned), MemFree unchanged
   *       unmap_dma → frames freed, MemFree back to where it started
   */
  it('4K pages stay pinned after munmap until VFIO_IOMMU_UNMAP_DMA', () => {
    const { host, task } = setup();
    const fd = openContainer(task);
    const before = freeish(task);
    const v = task.mmap(0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    task.store(v, new Uint8Array(4 * PAGE_SIZE).fill(7));
    mapDma(task, fd, v, MiB, 4 * PAGE_SIZE);
    expect(host.kmem.nrPinned).toBe(4);
    expect(mm_lock_state(task.mm).locked_vm).toBe(4);
    const phys = iommuOf(task, fd).domain.iommu_iova_to_phys(MiB + PAGE_SIZE);
    task.munmap(v, 4 * PAGE_SIZE);
    expect(host.kmem.nrDeferred).toBe(4);
    expect(host.dram.read(phys, 4)).toEqual(new Uint8Array([7, 7, 7, 7])); // still the DMA target, not reused
    expect(unmapDma(task, fd, MiB, 4 * PAGE_SIZE)).toBe(4 * PAGE_SIZE);
    expect([host.kmem.nrPinned, host.kmem.nrPins, host.kmem.nrDeferred, mm_lock_state(task.mm).locked_vm]).toEqual([0, 0, 0, 0]);
    expect(freeish(task)).toBe(before);
  });

  /*
   * vaddr  a (2M aligned)          a+4M
   *        |===THP===|===THP===|          iova 0 → two 2M IOMMU leaves
   */
  it('THPs map as 2M IOMMU entries and survive munmap and MADV_DONTNEED', () => {
    const { host, task } = setup();
    const fd = openContainer(task);
    const before = freeish(task);
    const raw = task.mmap(0, 6 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const a = alignUp(raw, PMD_SIZE);
    task.store(a, new Uint8Array([1]));
    task.store(a + PMD_SIZE, new Uint8Array([2]));
    expect(host.kmem.anon.nrThps).toBe(2);
    mapDma(task, fd, a, 0, 2 * PMD_SIZE);
    expect(stats(task, fd)).toMatchObject({ leaves_2m: 2, leaves_4k: 0, locked_pages: 1024 });
    task.madvise(a, PMD_SIZE, MADV_DONTNEED);
    task.munmap(raw, 6 * MiB);
    expect(host.kmem.nrDeferred).toBe(1024);
    expect(host.kmem.nrPinned).toBe(1024);
    unmapDma(task, fd, 0, 2 * PMD_SIZE);
    expect([host.kmem.nrPinned, host.kmem.nrDeferred, stats(task, fd).iommu_tables]).toEqual([0, 0, 1]);
    expect(freeish(task)).toBe(before);
  });

  it('closing the container unmaps and unpins everything; IOMMU tables leave SecPageTables', () => {
    const { host, task } = setup();
    const sec0 = meminfo(task, 'SecPageTables');
    const fd = openContainer(task);
    const v = task.mmap(0, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    task.store(v, new Uint8Array(8 * PAGE_SIZE));
    mapDma(task, fd, v, 0, 4 * PAGE_SIZE);
    mapDma(task, fd, v + 4 * PAGE_SIZE, 1 << 30, 4 * PAGE_SIZE);
    // PGD + (PUD, PMD, PTE) for each of the two 1G windows sharing the PUD: 1 + 1 + 2 + 2.
    expect(stats(task, fd).iommu_tables).toBe(6);
    expect(meminfo(task, 'SecPageTables') - sec0).toBe(6 * 4);
    task.close(fd);
    expect([host.kmem.nrPinned, mm_lock_state(task.mm).locked_vm, meminfo(task, 'SecPageTables')]).toEqual([0, 0, sec0]);
  });
});

describe('tmpfs page cache', () => {
  /*
   * memfd  0        16K
   *        |=pages==|   MAP_SHARED, DMA-mapped; ftruncate(0) drops them from the cache,
   *                     but the frames stay until the DMA mapping goes
   */
  it('pages pinned across truncate are freed at unmap', () => {
    const { host, task } = setup();
    const fd = openContainer(task);
    const before = freeish(task);
    const mfd = task.memfd_create('guest', 0);
    task.ftruncate(mfd, 4 * PAGE_SIZE);
    const v = task.mmap(0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    task.store(v, new Uint8Array(4 * PAGE_SIZE).fill(9));
    mapDma(task, fd, v, 0, 4 * PAGE_SIZE);
    const shmem = meminfo(task, 'Shmem');
    task.ftruncate(mfd, 0);
    expect(meminfo(task, 'Shmem')).toBe(shmem - 16);
    expect(host.kmem.nrDeferred).toBe(4);
    const phys = iommuOf(task, fd).domain.iommu_iova_to_phys(0);
    expect(host.dram.read(phys, 1)[0]).toBe(9);
    unmapDma(task, fd, 0, 4 * PAGE_SIZE);
    task.munmap(v, 4 * PAGE_SIZE);
    task.close(mfd);
    expect([host.kmem.nrPinned, host.kmem.nrDeferred]).toEqual([0, 0]);
    expect(freeish(task)).toBe(before);
  });
});

/**
 * DMA mapping of dmemfs memory: VM_PFNMAP with no struct pages, so it is
 * followed (fixup_user_fault + follow_pfnmap), not pinned and not charged to
 * locked_vm; the pool's per-dpage reference keeps truncated dpages allocated
 * until VFIO_IOMMU_UNMAP_DMA; contiguous dpages get 2M / 1G IOMMU entries.
 */
import { describe, expect, it } from 'vitest';
import { GiB, MiB, PMD_SIZE } from '../../src/lib/size.ts';
import { mm_lock_state } from '../../src/kernel/mm/gup.ts';
import { O_CREAT, O_RDWR } from '../../src/uapi/fcntl.ts';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { VFIO_DMA_MAP_FLAG_READ } from '../../src/uapi/vfio.ts';
import { errno, iommuOf, mapDma, openContainer, setup, stats, unmapDma } from './helpers.ts';

function dmemFile(t: ReturnType<typeof setup>['task'], size: number, prot = PROT_READ | PROT_WRITE): { fd: number; v: number } {
  const fd = t.open('/mnt/guest', O_RDWR | O_CREAT, 0o600);
  t.ftruncate(fd, size);
  return { fd, v: t.mmap(0, size, prot, MAP_SHARED, fd, 0) };
}

describe('dmemfs (pagesize=2M)', () => {
  /*
   * file   0      2M     4M     6M     8M
   *        |=dp0==|=dp1==|=dp2==|=dp3==|   mmap'd at v, DMA-mapped at iova 1G
   *  truncate(0): unmapped from the process, dpages stay (VFIO holds a reference)
   *  unmap_dma:   the four dpages go back to the pool
   */
  it('is mapped without pins or locked_vm, and survives truncate until unmap', () => {
    const { host, task } = setup({ mem: 8 * GiB, cmdline: 'dmem=2G' });
    task.mount('none', '/mnt', 'dmemfs', 0, 'pagesize=2M');
    const fd = openContainer(task);
    const total = host.dmem.free_dpages();
    const f = dmemFile(task, 8 * MiB);
    task.store(f.v + 3 * MiB, new Uint8Array([0xab]));
    mapDma(task, fd, f.v, GiB, 8 * MiB);
    expect(stats(task, fd)).toMatchObject({ nr_dmas: 1, locked_pages: 0, dmem_refs: 4, leaves_2m: 4, leaves_4k: 0 });
    expect([host.kmem.nrPinned, mm_lock_state(task.mm).locked_vm]).toEqual([0, 0]);
    expect(host.dmem.free_dpages()).toBe(total - 4);
    const phys = iommuOf(task, fd).domain.iommu_iova_to_phys(GiB + 3 * MiB);
    expect(host.dram.read(phys, 1)[0]).toBe(0xab);
    task.ftruncate(f.fd, 0);
    expect(host.dmem.free_dpages()).toBe(total - 4);
    expect(host.dmem.dmem_page_count(phys - (phys % PMD_SIZE))).toBe(1);
    expect(unmapDma(task, fd, GiB, 8 * MiB)).toBe(8 * MiB);
    expect(host.dmem.free_dpages()).toBe(total);
    task.munmap(f.v, 8 * MiB);
    task.close(f.fd);
  });

  it('a hole punch while mapped keeps the dpage; closing the container frees it', () => {
    const { host, task } = setup({ mem: 8 * GiB, cmdline: 'dmem=2G' });
    task.mount('none', '/mnt', 'dmemfs', 0, 'pagesize=2M');
    const fd = openContainer(task);
    const total = host.dmem.free_dpages();
    const f = dmemFile(task, 4 * MiB);
    mapDma(task, fd, f.v, 0, 4 * MiB);
    task.ftruncate(f.fd, 2 * MiB);
    expect(host.dmem.free_dpages()).toBe(total - 2);
    task.close(fd);
    expect(host.dmem.free_dpages()).toBe(total - 1);
  });

  it('a write mapping of a read-only dmemfs mapping is EFAULT; read-only is fine', () => {
    const { task } = setup({ mem: 8 * GiB, cmdline: 'dmem=2G' });
    task.mount('none', '/mnt', 'dmemfs', 0, 'pagesize=2M');
    const fd = openContainer(task);
    const f = dmemFile(task, 2 * MiB, PROT_READ);
    expect(errno(() => mapDma(task, fd, f.v, 0, 2 * MiB))).toBe('EFAULT');
    expect(errno(() => mapDma(task, fd, f.v, 0, 2 * MiB, VFIO_DMA_MAP_FLAG_READ))).toBe('ok');
  });
});

describe('dmemfs (pagesize=1G)', () => {
  /*
   * file  0         1G        2G
   *       |===dp0===|===dp1===|   iova 0 → two 1G IOMMU leaves (contiguous, aligned)
   *       iova 2M   → the same range can only use 2M leaves (iova not 1G aligned)
   */
  it('contiguous 1G dpages map as 1G IOMMU entries when iova is aligned, else 2M', () => {
    const { host, task } = setup({ mem: 8 * GiB, cmdline: 'dmem=2G:1G' });
    task.mount('none', '/mnt', 'dmemfs', 0, 'pagesize=1G');
    const fd = openContainer(task);
    const f = dmemFile(task, 2 * GiB);
    mapDma(task, fd, f.v, 0, 2 * GiB);
    expect(stats(task, fd)).toMatchObject({ leaves_1g: 2, leaves_2m: 0, leaves_4k: 0, dmem_refs: 2, locked_pages: 0 });
    unmapDma(task, fd, 0, 2 * GiB);
    mapDma(task, fd, f.v, 4 * GiB + PMD_SIZE, GiB);
    expect(stats(task, fd)).toMatchObject({ leaves_1g: 0, leaves_2m: 512, dmem_refs: 1 });
    expect(host.kmem.nrPinned).toBe(0);
  });
});

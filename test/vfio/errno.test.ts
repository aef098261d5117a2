/**
 * Every errno of the container and of VFIO_IOMMU_MAP_DMA / VFIO_IOMMU_UNMAP_DMA,
 * in the order vfio_fops_unl_ioctl, vfio_iommu_type1_map_dma/vfio_dma_do_map and
 * vfio_iommu_type1_unmap_dma/vfio_dma_do_unmap check them.
 */
import { describe, expect, it } from 'vitest';
import { MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { mm_lock_state } from '../../src/kernel/mm/gup.ts';
import { O_RDWR } from '../../src/uapi/fcntl.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import {
  VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_VADDR, VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, VFIO_DMA_UNMAP_FLAG_VADDR, VFIO_GET_API_VERSION,
  VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU, VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL, VFIO_UPDATE_VADDR,
} from '../../src/uapi/vfio.ts';
import { errno, iommuOf, ioctl, mapDma, openContainer, setup, stats, unmapDma } from './helpers.ts';

const RW = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;

function anon(t: ReturnType<typeof setup>['task'], size: number, prot = PROT_READ | PROT_WRITE): number {
  return t.mmap(0, size, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

describe('uapi numbers (include/uapi/linux/vfio.h)', () => {
  it('match _IO(";", 100 + n)', () => {
    expect([VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU, VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA]).toEqual([
      0x3b64, 0x3b65, 0x3b66, 0x3b70, 0x3b71, 0x3b72,
    ]);
  });
});

describe('/dev/vfio/vfio container', () => {
  it('is misc 10:196, mode 0666', () => {
    const { task } = setup();
    const st = task.stat('/dev/vfio/vfio');
    expect(st.rdev).toBe(10 * 256 + 196);
    expect(st.mode & 0o777).toBe(0o666);
  });

  it('GET_API_VERSION, CHECK_EXTENSION before and after SET_IOMMU', () => {
    const { task } = setup();
    const fd = task.open('/dev/vfio/vfio', O_RDWR);
    expect(ioctl(task, fd, VFIO_GET_API_VERSION)).toBe(0);
    const ext = (e: number) => ioctl(task, fd, VFIO_CHECK_EXTENSION, e);
    expect([VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL, VFIO_UPDATE_VADDR, VFIO_SPAPR_TCE_IOMMU, VFIO_DMA_CC_IOMMU].map(ext)).toEqual([1, 1, 1, 0, 0, 0]);
    ioctl(task, fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
    expect(ext(VFIO_UPDATE_VADDR)).toBe(1);
  });

  it('SET_IOMMU: ENODEV for a model no driver offers, EINVAL when open refuses it or one is set', () => {
    const { task } = setup();
    const fd = task.open('/dev/vfio/vfio', O_RDWR);
    expect(errno(() => ioctl(task, fd, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU))).toBe('ENODEV');
    // type1 reports VFIO_UNMAP_ALL as an extension, but vfio_iommu_type1_open refuses it.
    expect(errno(() => ioctl(task, fd, VFIO_SET_IOMMU, VFIO_UNMAP_ALL))).toBe('EINVAL');
    expect(errno(() => ioctl(task, fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))).toBe('ok');
    expect(errno(() => ioctl(task, fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))).toBe('EINVAL');
  });

  it('driver requests before SET_IOMMU are EINVAL; unknown ones after it ENOTTY', () => {
    const { task } = setup();
    const fd = task.open('/dev/vfio/vfio', O_RDWR);
    expect(errno(() => mapDma(task, fd, 0x10000, 0, PAGE_SIZE))).toBe('EINVAL');
    ioctl(task, fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
    expect(errno(() => ioctl(task, fd, 0x3b7f))).toBe('ENOTTY');
    expect(errno(() => ioctl(task, fd, VFIO_IOMMU_MAP_DMA))).toBe('EFAULT');
  });
});

describe('VFIO_IOMMU_MAP_DMA errnos, in check order', () => {
  it('argsz, flags, prot, alignment, wrap', () => {
    const { task } = setup();
    const fd = openContainer(task);
    const v = anon(task, 2 * MiB);
    const map = (a: Partial<{ argsz: number; flags: number; vaddr: number; iova: number; size: number }>) =>
      errno(() => ioctl(task, fd, VFIO_IOMMU_MAP_DMA, { argsz: 32, flags: RW, vaddr: v, iova: 0, size: PAGE_SIZE, ...a }));
    expect(map({ argsz: 31 })).toBe('EINVAL');
    expect(map({ flags: 1 << 3 })).toBe('EINVAL');
    expect(map({ flags: 0 })).toBe('EINVAL'); // no READ/WRITE
    expect(map({ flags: RW | VFIO_DMA_MAP_FLAG_VADDR })).toBe('EINVAL');
    expect(map({ size: 0 })).toBe('EINVAL');
    expect(map({ size: 100 })).toBe('EINVAL');
    expect(map({ iova: 0x800 })).toBe('EINVAL');
    expect(map({ vaddr: v + 1 })).toBe('EINVAL');
    expect(map({ iova: 2 ** 64 - PAGE_SIZE, size: 2 * PAGE_SIZE })).toBe('EINVAL'); // iova wraps
    expect(map({})).toBe('ok');
  });

  /*
   * iova  0      4K     8K     12K
   *       |=====A=====|
   *              |==B==|       B overlaps A → EEXIST
   *                     |==C==|            C abuts A → ok
   */
  it('EEXIST for an overlapping IOVA range, abutting is fine', () => {
    const { task } = setup();
    const fd = openContainer(task);
    const v = anon(task, 16 * PAGE_SIZE);
    mapDma(task, fd, v, 0, 2 * PAGE_SIZE);
    expect(errno(() => mapDma(task, fd, v + 4 * PAGE_SIZE, PAGE_SIZE, 2 * PAGE_SIZE))).toBe('EEXIST');
    expect(errno(() => mapDma(task, fd, v + 4 * PAGE_SIZE, 2 * PAGE_SIZE, PAGE_SIZE))).toBe('ok');
  });

  it('ENOSPC when dma_entry_limit mappings exist', () => {
    const { task } = setup();
    const fd = openContainer(task);
    const v = anon(task, 4 * PAGE_SIZE);
    iommuOf(task, fd).dma_avail = 1;
    mapDma(task, fd, v, 0, PAGE_SIZE);
    expect(errno(() => mapDma(task, fd, v + PAGE_SIZE, PAGE_SIZE, PAGE_SIZE))).toBe('ENOSPC');
  });

  /* iova 0xfee00000..0xfeefffff is the MSI window (IOMMU_RESV_MSI); past 2^47 is outside the aperture. */
  it('EINVAL for IOVA in a reserved region or outside the aperture', () => {
    const { task } = setup();
    const fd = openContainer(task);
    const v = anon(task, 4 * PAGE_SIZE);
    expect(errno(() => mapDma(task, fd, v, 0xfee00000 - PAGE_SIZE, 2 * PAGE_SIZE))).toBe('EINVAL');
    expect(errno(() => mapDma(task, fd, v, 2 ** 47, PAGE_SIZE))).toBe('EINVAL');
    expect(errno(() => mapDma(task, fd, v, 0xfef00000, PAGE_SIZE))).toBe('ok');
  });

  /*
   * vaddr  v            v+8K         v+12K
   *        |==mapped====|  (hole)    |
   *        |========= map request ===|   → EFAULT, nothing left pinned or mapped
   */
  it('EFAULT for an unmapped vaddr and for a write mapping of read-only memory; nothing stays pinned', () => {
    const { host, task } = setup();
    const fd = openContainer(task);
    const v = anon(task, 3 * PAGE_SIZE);
    task.munmap(v + 2 * PAGE_SIZE, PAGE_SIZE);
    expect(errno(() => mapDma(task, fd, v, 0, 3 * PAGE_SIZE))).toBe('EFAULT');
    const ro = anon(task, PAGE_SIZE, PROT_READ);
    expect(errno(() => mapDma(task, fd, ro, 0, PAGE_SIZE))).toBe('EFAULT');
    expect(errno(() => mapDma(task, fd, ro, 0, PAGE_SIZE, VFIO_DMA_MAP_FLAG_READ))).toBe('ok');
    expect(stats(task, fd)).toMatchObject({ nr_dmas: 1, locked_pages: 0 }); // the zero page: reserved, not charged
    expect(host.kmem.nrPinned).toBe(0);
    expect(iommuOf(task, fd).dma_avail).toBe(65534);
  });

  it('ENOMEM past RLIMIT_MEMLOCK without CAP_IPC_LOCK; root (CAP_IPC_LOCK) may exceed it', () => {
    const { host, task, warnings } = setup();
    const fd = openContainer(task);
    const v = anon(task, 4 * PAGE_SIZE);
    const st = mm_lock_state(task.mm);
    st.rlimit_memlock = 2 * PAGE_SIZE;
    st.cap_ipc_lock = false;
    expect(errno(() => mapDma(task, fd, v, 0, 4 * PAGE_SIZE))).toBe('ENOMEM');
    expect(warnings).toEqual(['vfio_pin_pages_remote: RLIMIT_MEMLOCK (8192) exceeded']);
    expect([st.locked_vm, host.kmem.nrPinned, stats(task, fd).nr_dmas]).toEqual([0, 0, 0]);
    expect(errno(() => mapDma(task, fd, v, 0, 2 * PAGE_SIZE))).toBe('ok');
    st.cap_ipc_lock = true;
    expect(errno(() => mapDma(task, fd, v + 2 * PAGE_SIZE, 2 * PAGE_SIZE, 2 * PAGE_SIZE))).toBe('ok');
    expect(st.locked_vm).toBe(4);
  });
});

describe('VFIO_IOMMU_UNMAP_DMA errnos and the size written back', () => {
  /*
   * iova 0      8K     16K    24K
   *      |==A===|==B===|
   *  unmap [4K, 12K)  bisects A and B → EINVAL (v2)
   *  unmap [0, 8K)    → A, size 8K
   *  unmap [0, 1M)    → B, size 8K; again → 0
   */
  it('v2: bisecting is EINVAL, whole mappings go, an empty range unmaps 0', () => {
    const { task } = setup();
    const fd = openContainer(task);
    const v = anon(task, 4 * PAGE_SIZE);
    mapDma(task, fd, v, 0, 2 * PAGE_SIZE);
    mapDma(task, fd, v + 2 * PAGE_SIZE, 2 * PAGE_SIZE, 2 * PAGE_SIZE);
    const arg = { argsz: 24, flags: 0, iova: PAGE_SIZE, size: 2 * PAGE_SIZE };
    expect(errno(() => ioctl(task, fd, VFIO_IOMMU_UNMAP_DMA, arg))).toBe('EINVAL');
    expect(arg.size).toBe(2 * PAGE_SIZE); // not written on error
    expect(unmapDma(task, fd, 0, 2 * PAGE_SIZE)).toBe(2 * PAGE_SIZE);
    expect(unmapDma(task, fd, 0, MiB)).toBe(2 * PAGE_SIZE);
    expect(unmapDma(task, fd, 0, MiB)).toBe(0);
  });

  it('argsz, flags, alignment, size 0, wrap, FLAG_ALL with a range, dirty bitmap', () => {
    const { task } = setup();
    const fd = openContainer(task);
    const un = (a: Partial<{ argsz: number; flags: number; iova: number; size: number }>) =>
      errno(() => ioctl(task, fd, VFIO_IOMMU_UNMAP_DMA, { argsz: 24, flags: 0, iova: 0, size: PAGE_SIZE, ...a }));
    expect(un({ argsz: 23 })).toBe('EINVAL');
    expect(un({ flags: 1 << 3 })).toBe('EINVAL');
    expect(un({ flags: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL })).toBe('EINVAL');
    expect(un({ iova: 0x200 })).toBe('EINVAL');
    expect(un({ size: 0 })).toBe('EINVAL');
    expect(un({ size: 0x800 })).toBe('EINVAL');
    expect(un({ iova: 2 ** 64 - PAGE_SIZE, size: 2 * PAGE_SIZE })).toBe('EINVAL');
    expect(un({ flags: VFIO_DMA_UNMAP_FLAG_ALL })).toBe('EINVAL');
    expect(un({ flags: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP })).toBe('EINVAL');
    expect(un({ flags: VFIO_DMA_UNMAP_FLAG_ALL, size: 0 })).toBe('ok');
  });

  it('FLAG_ALL removes every mapping', () => {
    const { task } = setup();
    const fd = openContainer(task);
    const v = anon(task, 4 * PAGE_SIZE);
    mapDma(task, fd, v, 0, PAGE_SIZE);
    mapDma(task, fd, v + PAGE_SIZE, MiB, 3 * PAGE_SIZE);
    expect(unmapDma(task, fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL)).toBe(4 * PAGE_SIZE);
    expect(stats(task, fd).nr_dmas).toBe(0);
  });

  /* v1: a request starting inside a mapping unmaps nothing (size 0); one covering its start unmaps all of it. */
  it('v1 (TYPE1) keeps the old semantics', () => {
    const { task } = setup();
    const fd = openContainer(task, VFIO_TYPE1_IOMMU);
    const v = anon(task, 4 * PAGE_SIZE);
    mapDma(task, fd, v, 0, 4 * PAGE_SIZE);
    expect(unmapDma(task, fd, PAGE_SIZE, PAGE_SIZE)).toBe(0);
    expect(unmapDma(task, fd, 0, PAGE_SIZE)).toBe(4 * PAGE_SIZE);
  });

  it('FLAG_VADDR invalidates, MAP FLAG_VADDR restores; ENOENT / EINVAL otherwise', () => {
    const { task } = setup();
    const fd = openContainer(task);
    const v = anon(task, 4 * PAGE_SIZE);
    mapDma(task, fd, v, 0, 2 * PAGE_SIZE);
    expect(errno(() => mapDma(task, fd, v, 0, 2 * PAGE_SIZE, VFIO_DMA_MAP_FLAG_VADDR))).toBe('EINVAL'); // not invalidated
    expect(unmapDma(task, fd, 0, 2 * PAGE_SIZE, VFIO_DMA_UNMAP_FLAG_VADDR)).toBe(2 * PAGE_SIZE);
    expect(errno(() => unmapDma(task, fd, 0, 2 * PAGE_SIZE, VFIO_DMA_UNMAP_FLAG_VADDR))).toBe('EINVAL');
    expect(errno(() => mapDma(task, fd, v, MiB, PAGE_SIZE, VFIO_DMA_MAP_FLAG_VADDR))).toBe('ENOENT');
    expect(errno(() => mapDma(task, fd, v, 0, PAGE_SIZE, VFIO_DMA_MAP_FLAG_VADDR))).toBe('EINVAL'); // size differs
    expect(errno(() => mapDma(task, fd, v + 2 * PAGE_SIZE, 0, 2 * PAGE_SIZE, VFIO_DMA_MAP_FLAG_VADDR))).toBe('ok');
    expect(iommuOf(task, fd).dma_list[0]!.vaddr).toBe(v + 2 * PAGE_SIZE);
    expect(stats(task, fd).locked_pages).toBe(2);
  });
});

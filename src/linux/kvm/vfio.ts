/**
 * VFIO type1 container ioctls on the real kernel (include/uapi/linux/vfio.h,
 * drivers/vfio/container.c, vfio_iommu_type1.c): the model's argument objects
 * (uapi/vfio.ts) as the C structs. On Linux a container needs a group attached
 * (VFIO_GROUP_SET_CONTAINER) before VFIO_SET_IOMMU succeeds; the model has no
 * groups, so vmm --vfio on a real host fails there with the kernel's errno.
 */
import { Errno } from '../../lib/errno.ts';
import {
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_MAP_MINSZ,
  VFIO_DMA_UNMAP_MINSZ,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  type VfioIommuType1DmaMap,
  type VfioIommuType1DmaUnmap,
} from '../../uapi/vfio.ts';
import * as libc from '../libc.ts';

const u64 = (v: DataView, at: number, x: unknown): void => {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new Errno('EFAULT', 'ioctl: bad field');
  v.setBigUint64(at, BigInt(x), true);
};

/** struct vfio_iommu_type1_dma_map (32 bytes): argsz, flags, vaddr, iova, size. */
export function encodeDmaMap(m: VfioIommuType1DmaMap): Uint8Array {
  const b = new Uint8Array(VFIO_DMA_MAP_MINSZ);
  const v = new DataView(b.buffer);
  v.setUint32(0, VFIO_DMA_MAP_MINSZ, true); // argsz: what this buffer holds
  v.setUint32(4, m.flags >>> 0, true);
  u64(v, 8, m.vaddr);
  u64(v, 16, m.iova);
  u64(v, 24, m.size);
  return b;
}

/** struct vfio_iommu_type1_dma_unmap (24 bytes): argsz, flags, iova, size (size written back). */
export function encodeDmaUnmap(m: VfioIommuType1DmaUnmap): Uint8Array {
  const b = new Uint8Array(VFIO_DMA_UNMAP_MINSZ);
  const v = new DataView(b.buffer);
  v.setUint32(0, VFIO_DMA_UNMAP_MINSZ, true);
  v.setUint32(4, m.flags >>> 0, true);
  u64(v, 8, m.iova);
  u64(v, 16, m.size);
  return b;
}

/** VFIO container requests; null when `request` is not one this layer knows. */
export function vfioIoctl(fd: number, request: number, arg: unknown): number | null {
  const obj = <T>(): T => {
    if (!arg || typeof arg !== 'object') throw new Errno('EFAULT');
    return arg as T;
  };
  switch (request) {
    case VFIO_GET_API_VERSION:
    case VFIO_CHECK_EXTENSION:
    case VFIO_SET_IOMMU:
      return libc.ioctl(fd, request, typeof arg === 'number' ? arg : 0);
    case VFIO_IOMMU_MAP_DMA:
      return libc.ioctl(fd, request, encodeDmaMap(obj()));
    case VFIO_IOMMU_UNMAP_DMA: {
      const m = obj<VfioIommuType1DmaUnmap>();
      const b = encodeDmaUnmap(m);
      const r = libc.ioctl(fd, request, b);
      m.size = Number(new DataView(b.buffer).getBigUint64(16, true));
      return r;
    }
    default:
      return null;
  }
}

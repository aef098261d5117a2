/**
 * VFIO's user interface for the container and the type1 IOMMU backend
 * (include/uapi/linux/vfio.h). Requests are _IO(VFIO_TYPE, VFIO_BASE + n): the
 * argument travels as a pointer, so the structs below are what the pointer
 * points at. The model passes them as objects; fields the kernel writes back
 * (the unmap size) are written into the object, as copy_to_user would.
 */

/** VFIO_API_VERSION: what VFIO_GET_API_VERSION returns. */
export const VFIO_API_VERSION = 0;

/** VFIO_TYPE: ';' (0x3B), the ioctl type byte. */
export const VFIO_TYPE = 0x3b;
/** VFIO_BASE: the first ioctl number. */
export const VFIO_BASE = 100;

/** _IO(type, nr) (include/uapi/asm-generic/ioctl.h): no direction, no size. */
export function _IO(type: number, nr: number): number {
  return type * 256 + nr;
}

/** VFIO_GET_API_VERSION: _IO(';', 100) = 0x3B64. */
export const VFIO_GET_API_VERSION = _IO(VFIO_TYPE, VFIO_BASE + 0);
/** VFIO_CHECK_EXTENSION: _IO(';', 101) = 0x3B65; arg is the extension number, returns 0 or 1. */
export const VFIO_CHECK_EXTENSION = _IO(VFIO_TYPE, VFIO_BASE + 1);
/** VFIO_SET_IOMMU: _IO(';', 102) = 0x3B66; arg is the IOMMU model (VFIO_TYPE1v2_IOMMU). */
export const VFIO_SET_IOMMU = _IO(VFIO_TYPE, VFIO_BASE + 2);
/** VFIO_GROUP_GET_STATUS: _IO(';', 103). Not modelled (no groups). */
export const VFIO_GROUP_GET_STATUS = _IO(VFIO_TYPE, VFIO_BASE + 3);
/** VFIO_GROUP_SET_CONTAINER: _IO(';', 104). Not modelled (no groups). */
export const VFIO_GROUP_SET_CONTAINER = _IO(VFIO_TYPE, VFIO_BASE + 4);
/** VFIO_IOMMU_GET_INFO: _IO(';', 112) = 0x3B70. */
export const VFIO_IOMMU_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 12);
/** VFIO_IOMMU_MAP_DMA: _IO(';', 113) = 0x3B71; arg is a VfioIommuType1DmaMap. */
export const VFIO_IOMMU_MAP_DMA = _IO(VFIO_TYPE, VFIO_BASE + 13);
/** VFIO_IOMMU_UNMAP_DMA: _IO(';', 114) = 0x3B72; arg is a VfioIommuType1DmaUnmap, size written back. */
export const VFIO_IOMMU_UNMAP_DMA = _IO(VFIO_TYPE, VFIO_BASE + 14);
/** VFIO_IOMMU_DIRTY_PAGES: _IO(';', 117). Not modelled. */
export const VFIO_IOMMU_DIRTY_PAGES = _IO(VFIO_TYPE, VFIO_BASE + 17);

/** Extensions (VFIO_CHECK_EXTENSION / VFIO_SET_IOMMU arguments). */
export const VFIO_TYPE1_IOMMU = 1;
/** sPAPR TCE IOMMU (POWER): never supported here. */
export const VFIO_SPAPR_TCE_IOMMU = 2;
/** Type1 v2: unmaps must not bisect a mapping. */
export const VFIO_TYPE1v2_IOMMU = 3;
/** Cache-coherent DMA (depends on the attached domains). */
export const VFIO_DMA_CC_IOMMU = 4;
/** EEH (POWER). */
export const VFIO_EEH = 5;
/** Nesting (removed upstream; reported unsupported). */
export const VFIO_TYPE1_NESTING_IOMMU = 6;
/** sPAPR TCE v2. */
export const VFIO_SPAPR_TCE_v2_IOMMU = 7;
/** No-IOMMU mode (only with enable_unsafe_noiommu_mode). */
export const VFIO_NOIOMMU_IOMMU = 8;
/** VFIO_DMA_UNMAP_FLAG_ALL is supported. */
export const VFIO_UNMAP_ALL = 9;
/** VFIO_DMA_MAP_FLAG_VADDR / VFIO_DMA_UNMAP_FLAG_VADDR are supported. */
export const VFIO_UPDATE_VADDR = 10;

/** The device may read the memory (IOMMU_READ). */
export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
/** The device may write the memory (IOMMU_WRITE). */
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
/** Give an existing mapping (invalidated with VFIO_DMA_UNMAP_FLAG_VADDR) its new vaddr. */
export const VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;

/** Return the dirty bitmap of the unmapped range (needs dirty tracking). */
export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0;
/** Unmap everything (iova and size must be 0). */
export const VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1;
/** Invalidate the vaddr of mappings, keeping them mapped and pinned. */
export const VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2;

/** struct vfio_iommu_type1_dma_map: argsz u32, flags u32, vaddr u64, iova u64, size u64. */
export interface VfioIommuType1DmaMap {
  argsz: number;
  flags: number;
  /** Process virtual address. */
  vaddr: number;
  /** IO virtual address. */
  iova: number;
  /** Size of the mapping in bytes. */
  size: number;
}

/** offsetofend(struct vfio_iommu_type1_dma_map, size): 32. */
export const VFIO_DMA_MAP_MINSZ = 32;

/** struct vfio_iommu_type1_dma_unmap: argsz u32, flags u32, iova u64, size u64 (written back), data[]. */
export interface VfioIommuType1DmaUnmap {
  argsz: number;
  flags: number;
  iova: number;
  /** In: bytes to unmap; out: bytes actually unmapped. */
  size: number;
}

/** offsetofend(struct vfio_iommu_type1_dma_unmap, size): 24. */
export const VFIO_DMA_UNMAP_MINSZ = 24;

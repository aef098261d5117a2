/** VFIO: the /dev/vfio/vfio container and the type1 IOMMU backend (drivers/vfio/). */
export * from './container.ts';
export * from './iommu.ts';
export * from './pin.ts';
export * from './vfio_iommu_type1.ts';

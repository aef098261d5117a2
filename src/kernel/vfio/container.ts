/**
 * /dev/vfio/vfio, the VFIO container (drivers/vfio/container.c: vfio_fops_open,
 * vfio_fops_release, vfio_fops_unl_ioctl, vfio_container_ioctl_check_extension,
 * vfio_ioctl_set_iommu; drivers/vfio/vfio_main.c vfio_init for the misc device).
 *
 * Deviation: the model has no devices, so no IOMMU groups (/dev/vfio/N) and no
 * VFIO_GROUP_SET_CONTAINER. Linux refuses VFIO_SET_IOMMU (EINVAL) until a group
 * is attached; here every container behaves as if one group were attached
 * behind one IOMMU: VFIO_SET_IOMMU succeeds on a fresh container and allocates
 * that group's IOMMU domain (its page tables count in SecPageTables). Everything
 * after that is the real type1 behaviour.
 */
import { Errno } from '../../lib/errno.ts';
import { VFIO_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_GET_API_VERSION, VFIO_SET_IOMMU } from '../../uapi/vfio.ts';
import type { Devtmpfs } from '../fs/devtmpfs/devtmpfs.ts';
import { VFIO_MINOR, misc_register, type MiscDevice } from '../fs/devtmpfs/misc.ts';
import type { File } from '../fs/vfs/file.ts';
import type { FileOperations, Inode } from '../fs/vfs/inode.ts';
import { IommuDomain } from './iommu.ts';
import type { VfioDeps } from './pin.ts';
import { VfioIommu, vfio_iommu_type1_check_extension, type VfioIommuStats } from './vfio_iommu_type1.ts';

/** struct vfio_container: one open of /dev/vfio/vfio. */
export class VfioContainer {
  /** container->iommu_data once VFIO_SET_IOMMU chose type1. */
  iommu: VfioIommu | null = null;
}

/** The container behind an open /dev/vfio/vfio file. */
export function vfio_container_of(file: File): VfioContainer {
  if (!(file.private_data instanceof VfioContainer)) throw new Errno('EINVAL');
  return file.private_data;
}

/** vfio_container_ioctl_check_extension: no base extensions; ask the driver (or poll type1 before one is set). */
function check_extension(container: VfioContainer, arg: number): number {
  return vfio_iommu_type1_check_extension(container.iommu, arg);
}

/**
 * vfio_ioctl_set_iommu: EINVAL once a driver is set; type1 is tried only if it
 * reports the extension (else ENODEV); its open may still refuse the argument
 * (EINVAL, e.g. VFIO_UNMAP_ALL); attaching the group allocates the domain (ENOMEM).
 */
function set_iommu(deps: VfioDeps, container: VfioContainer, arg: number): number {
  if (container.iommu) throw new Errno('EINVAL');
  if (vfio_iommu_type1_check_extension(null, arg) <= 0) throw new Errno('ENODEV');
  const nid = deps.current_mm()?.homeNid ?? 0;
  // open(arg) checks the model first; attaching the group then allocates the domain.
  container.iommu = new VfioIommu(deps, arg, () => new IommuDomain(deps.kmem, nid));
  return 0;
}

/** The file operations of /dev/vfio/vfio (vfio_fops). */
export function vfio_fops(deps: VfioDeps): FileOperations {
  return {
    open(_inode: Inode, file: File): void {
      file.private_data = new VfioContainer();
    },
    /** vfio_fops_release → vfio_iommu_type1_release: closing the last reference unmaps everything. */
    release(_inode: Inode, file: File): void {
      const c = vfio_container_of(file);
      c.iommu?.release();
      c.iommu = null;
    },
    unlocked_ioctl(file: File, request: number, arg: unknown): number {
      const c = vfio_container_of(file);
      switch (request) {
        case VFIO_GET_API_VERSION:
          return VFIO_API_VERSION;
        case VFIO_CHECK_EXTENSION:
          return check_extension(c, Number(arg));
        case VFIO_SET_IOMMU:
          return set_iommu(deps, c, Number(arg));
        default:
          // Pass every other request to the driver; none yet → EINVAL.
          if (!c.iommu) throw new Errno('EINVAL');
          return c.iommu.ioctl(request, arg);
      }
    },
  };
}

/** Per-host VFIO state: the misc device and statistics over open containers. */
export interface Vfio {
  readonly miscdev: MiscDevice;
  /** Counters of the container behind an open file. */
  container_stats(file: File): VfioIommuStats | null;
}

/**
 * vfio_init: register /dev/vfio/vfio (misc minor 196, mode 0666, as
 * vfio_dev with .nodename "vfio/vfio" and .mode S_IRUGO | S_IWUGO).
 */
export function vfio_init(deps: VfioDeps & { devtmpfs: Devtmpfs }): Vfio {
  const miscdev: MiscDevice = { minor: VFIO_MINOR, name: 'vfio/vfio', mode: 0o666, fops: vfio_fops(deps) };
  misc_register(deps.devtmpfs, miscdev);
  return {
    miscdev,
    container_stats: (file) => vfio_container_of(file).iommu?.stats() ?? null,
  };
}

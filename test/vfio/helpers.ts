/** Test helpers: a booted host with /dev/vfio/vfio registered, and ioctl shorthands. */
import { GiB } from '../../src/lib/size.ts';
import type { Host } from '../../src/kernel/host.ts';
import type { Task } from '../../src/kernel/process.ts';
import { vfio_container_of, type Vfio, type VfioIommu, type VfioIommuStats } from '../../src/kernel/vfio/index.ts';
import { O_RDWR } from '../../src/uapi/fcntl.ts';
import {
  VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU,
  type VfioIommuType1DmaUnmap,
} from '../../src/uapi/vfio.ts';
import { boot } from '../kernel/helpers.ts';

export { errno, meminfo } from '../kernel/helpers.ts';

/** A booted host and its VFIO (registered by the host at boot). */
export interface VfioHost {
  host: Host;
  task: Task;
  vfio: Vfio;
  /** Kernel warnings logged after setup (e.g. the RLIMIT_MEMLOCK message). */
  warnings: string[];
}

/** Boot a host (4 GiB by default) with /dev/vfio/vfio. */
export function setup(opts: { mem?: number; cmdline?: string } = {}): VfioHost {
  const { host, task } = boot({ mem: opts.mem ?? 4 * GiB, cmdline: opts.cmdline ?? '' });
  // Collect the warnings logged from now on (the kernel's pr_warn goes to the log too).
  const warnings: string[] = [];
  const warn = host.log.warn.bind(host.log);
  host.log.warn = (m: string) => {
    warnings.push(m);
    warn(m);
  };
  return { host, task, vfio: host.fs.vfio, warnings };
}

/** ioctl as `task`. */
export function ioctl(task: Task, fd: number, request: number, arg?: unknown): number {
  return task.ioctl(fd, request, arg);
}

/** Open /dev/vfio/vfio and make it a TYPE1v2 container; returns the fd. */
export function openContainer(task: Task, type = VFIO_TYPE1v2_IOMMU): number {
  const fd = task.open('/dev/vfio/vfio', O_RDWR);
  ioctl(task, fd, VFIO_SET_IOMMU, type);
  return fd;
}

/** VFIO_IOMMU_MAP_DMA of [vaddr, vaddr + size) at iova, read-write unless flags say otherwise. */
export function mapDma(task: Task, fd: number, vaddr: number, iova: number, size: number, flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE): void {
  ioctl(task, fd, VFIO_IOMMU_MAP_DMA, { argsz: 32, flags, vaddr, iova, size });
}

/** VFIO_IOMMU_UNMAP_DMA; returns the size the kernel wrote back. */
export function unmapDma(task: Task, fd: number, iova: number, size: number, flags = 0): number {
  const arg: VfioIommuType1DmaUnmap = { argsz: 24, flags, iova, size };
  ioctl(task, fd, VFIO_IOMMU_UNMAP_DMA, arg);
  return arg.size;
}

/** The type1 state of the container open at fd. */
export function iommuOf(task: Task, fd: number): VfioIommu {
  return vfio_container_of(task.fget(fd)).iommu!;
}

/** The container's counters. */
export function stats(task: Task, fd: number): VfioIommuStats {
  return iommuOf(task, fd).stats();
}

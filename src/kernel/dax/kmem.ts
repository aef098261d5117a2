/**
 * The kmem dax driver (drivers/dax/kmem.c, Linux 6.x): a dev_dax bound to it
 * is hot-added to the page allocator as driver-managed "System RAM (kmem)" in
 * one static memory group on the device's target node, range by range, each
 * range cut to whole memory blocks. Its blocks then online per
 * auto_online_blocks (offline by default: daxctl onlines them, movable unless
 * --no-movable).
 *
 * Unbinding cannot fail in Linux (remove returns void): ranges whose blocks
 * are all offline are removed; the others stay added, onlined or not, with
 * "mappingN: ... cannot be hotremoved until the next reboot", and their
 * "daxN.M" resource keeps the range reserved. That is modelled as is: remove()
 * never throws (the contract allows EBUSY, kmem does not use it).
 *
 * Differences: no memory tiers (memory_dev_type/abstract distance), no
 * memmap_on_memory.
 */
import { Errno, errnoName, type ErrnoName } from '../../lib/errno.ts';
import { PAGE_SIZE } from '../../lib/size.ts';
import type { KernelLog } from '../printk.ts';
import type { Resource, ResourceTree } from '../resource.ts';
import { MHP_NID_IS_MGID, NOT_BUSY, request_region, type MemoryHotplug } from '../mm/memory_hotplug.ts';
import type { DaxBus, DaxDriver, DevDax } from './api.ts';

/** kmem_name: the resource name given to add_memory_driver_managed(). */
export const KMEM_RESOURCE_NAME = 'System RAM (kmem)';

/** struct dax_kmem_data. */
export interface DaxKmemData {
  res_name: string;
  mgid: number;
  /** Per range, the "daxN.M" resource, null once removed or when the range was skipped. */
  res: (Resource | null)[];
}

/** dax_kmem_range(): the range cut to whole memory blocks; null (ENOSPC) when nothing is left. */
export function dax_kmem_range(dev: DevDax, i: number, block_size: number): { start: number; end: number } | null {
  const r = dev.ranges[i]!;
  const start = Math.ceil(r.start / block_size) * block_size;
  const end = Math.floor((r.end + 1) / block_size) * block_size - 1;
  return start >= end ? null : { start, end };
}

/** The kmem driver over a host's memory hotplug and iomem. */
export class DaxKmemDriver implements DaxDriver {
  readonly name = 'kmem';
  /** any_hotremove_failed. */
  any_hotremove_failed = false;

  constructor(
    private readonly hp: MemoryHotplug,
    private readonly iomem: ResourceTree,
    private readonly log: KernelLog,
  ) {}

  private msg(dev: DevDax, text: string): string {
    return `kmem ${dev.name}: ${text}`;
  }

  /** dev_dax_kmem_probe(): throws Errno to refuse the bind. */
  probe(dev: DevDax): void {
    const numa_node = dev.target_node;
    if (numa_node < 0) {
      this.log.warn(this.msg(dev, `rejecting DAX region with invalid node: ${numa_node}`));
      throw new Errno('EINVAL', 'kmem: invalid target node');
    }
    const bz = this.hp.block_size;
    let total_len = 0;
    for (let i = 0; i < dev.ranges.length; i++) {
      const range = dax_kmem_range(dev, i, bz);
      if (!range) {
        const r = dev.ranges[i]!;
        this.log.info(this.msg(dev, `mapping${i}: ${hx(r.start)}-${hx(r.end)} too small after alignment`));
        continue;
      }
      total_len += range.end - range.start + 1;
    }
    if (!total_len) {
      this.log.warn(this.msg(dev, 'rejecting DAX region without any memory after alignment'));
      throw new Errno('EINVAL', 'kmem: no memory after alignment');
    }
    const mgid = this.hp.memory_group_register_static(numa_node, Math.ceil(total_len / PAGE_SIZE));
    if (mgid < 0) throw errno(mgid);
    const data: DaxKmemData = { res_name: dev.name, mgid, res: dev.ranges.map(() => null) };
    let mapped = 0;
    for (let i = 0; i < dev.ranges.length; i++) {
      const range = dax_kmem_range(dev, i, bz);
      if (!range) continue;
      const len = range.end - range.start + 1;
      // Region is permanently reserved if hotremove fails.
      const res = request_region(this.iomem, range.start, len, data.res_name);
      if (!res) {
        this.log.warn(this.msg(dev, `mapping${i}: ${hx(range.start)}-${hx(range.end)} could not reserve region`));
        // Once some memory has been onlined we can't assume that it can be un-onlined safely.
        if (mapped) continue;
        this.hp.memory_group_unregister(mgid);
        throw new Errno('EBUSY', 'kmem: could not reserve region');
      }
      data.res[i] = res;
      // res->flags = IORESOURCE_SYSTEM_RAM: not busy, so add_memory() can nest its resource inside.
      NOT_BUSY.add(res);
      const rc = this.hp.add_memory_driver_managed(mgid, range.start, len, KMEM_RESOURCE_NAME, MHP_NID_IS_MGID);
      if (rc) {
        this.log.warn(this.msg(dev, `mapping${i}: ${hx(range.start)}-${hx(range.end)} memory add failed`));
        this.iomem.remove(res);
        data.res[i] = null;
        if (mapped) continue;
        this.hp.memory_group_unregister(mgid);
        throw errno(rc);
      }
      mapped++;
    }
    dev.drvdata = data;
  }

  /** dev_dax_kmem_remove(): one shot per range; a range with online blocks stays until reboot. */
  remove(dev: DevDax): void {
    const data = dev.drvdata as DaxKmemData | null;
    if (!data) return;
    const bz = this.hp.block_size;
    let success = 0;
    for (let i = 0; i < dev.ranges.length; i++) {
      const range = dax_kmem_range(dev, i, bz);
      if (!range) continue;
      const rc = this.hp.remove_memory(range.start, range.end - range.start + 1);
      if (rc === 0) {
        const res = data.res[i];
        if (res) this.iomem.remove(res);
        data.res[i] = null;
        success++;
        continue;
      }
      this.any_hotremove_failed = true;
      this.log.err(this.msg(dev, `mapping${i}: ${hx(range.start)}-${hx(range.end)} cannot be hotremoved until the next reboot`));
    }
    if (success >= dev.ranges.length) {
      this.hp.memory_group_unregister(data.mgid);
      dev.drvdata = null;
    }
  }
}

/** dax_kmem_init(): register the kmem driver on a dax bus; returns it. */
export function dax_kmem_init(bus: DaxBus, hp: MemoryHotplug, iomem: ResourceTree, log: KernelLog): DaxKmemDriver {
  const drv = new DaxKmemDriver(hp, iomem, log);
  bus.register_driver(drv);
  return drv;
}

/** %#llx. */
function hx(n: number): string {
  return `0x${n.toString(16)}`;
}

function errno(rc: number): Errno {
  return new Errno((errnoName(-rc) ?? 'EINVAL') as ErrnoName, 'kmem: add_memory_driver_managed');
}

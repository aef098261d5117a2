/**
 * Wiring device-dax into a host: the efi_fake_mem= and memmap= boot hooks, the
 * dax bus with the device_dax driver, the "dax" character-device region
 * (drivers/dax/super.c dax_core_init: alloc_chrdev_region, a minor per
 * dax_device from alloc_dax), the /sys/bus/dax tree, the hmem and e820-pmem
 * regions found at boot, and memory failure for device-dax frames
 * (mm/memory-failure.c memory_failure_dev_pagemap → mf_generic_kill_procs).
 *
 * Order as in drivers/dax/Makefile: the bus and device_dax first, then the
 * regions (nvdimm's e820 pmem, then hmem). kmem (another module) registers
 * through `bus.register_driver` and then only attaches to unbound devices; on
 * Linux >= 6.3 with kmem built in, hmem's IORESOURCE_DAX_KMEM regions would go
 * to kmem at boot instead.
 */
import { PAGE_SIZE, alignDown } from '../lib/size.ts';
import { kill_procs, type ToKill } from './mf_kill.ts';
import type { E820Hook } from './boot/setup.ts';
import { DaxBusImpl } from './dax/bus.ts';
import { dax_drvdata, dax_fops, device_dax_driver, mappers } from './dax/cdev.ts';
import type { DevDaxImpl } from './dax/device.ts';
import { efi_fake_mem_hook, hmem_register_devices } from './dax/hmem.ts';
import { memmap_hook, pmem_register_devices } from './dax/pmem.ts';
import { Ida } from './dax/region.ts';
import { register_dax_sysfs } from './dax/sysfs.ts';
import type { Devtmpfs } from './fs/devtmpfs/index.ts';
import type { PseudoFilesystems } from './fs/pseudo/index.ts';
import { MINOR, MKDEV } from './fs/vfs/char_dev.ts';
import type { Vfs } from './fs/vfs/index.ts';
import type { Host } from './host.ts';
import type { MmStruct } from './mm/mm_types.ts';

/** The boot hooks device-dax needs (memmap=nn!ss and efi_fake_mem=). */
export const dax_e820_hooks: readonly E820Hook[] = [memmap_hook, efi_fake_mem_hook];

/** MINORMASK + 1: the size of the dax chrdev region. */
const DAX_MINORS = 1 << 20;

/** The host's device-dax state. */
export interface DaxHost {
  bus: DaxBusImpl;
  /** The dynamic "dax" major. */
  major: number;
  /** "MAJ:MIN" of a device. */
  devt(dev: DevDaxImpl): string;
}

/** dax_core_init + device_dax + regions. */
export function init_dax(host: Host, vfs: Vfs, pseudo: PseudoFilesystems, devtmpfs: Devtmpfs): DaxHost {
  const bus = new DaxBusImpl(host.log);
  const minors = new Ida();
  const byMinor = new Map<number, DevDaxImpl>();
  const minorOf = new Map<DevDaxImpl, number>();
  const major = vfs.chrdevs.register_chrdev_region(0, 0, DAX_MINORS, 'dax', dax_fops((m) => byMinor.get(m), MINOR));
  const devt = (d: DevDaxImpl): string => `${major}:${minorOf.get(d) ?? 0}`;
  const sysfs = register_dax_sysfs(pseudo.sys, bus, devt);
  bus.onRegion = (r) => sysfs.addRegion(r);
  bus.onAdd = (d) => {
    const minor = minors.alloc();
    byMinor.set(minor, d);
    minorOf.set(d, minor);
    devtmpfs.devtmpfs_create_node(d.name, 0o600, MKDEV(major, minor));
  };
  bus.onDel = (d) => {
    const minor = minorOf.get(d)!;
    minors.free(minor);
    byMinor.delete(minor);
    minorOf.delete(d);
    devtmpfs.devtmpfs_delete_node(d.name);
  };
  bus.register_driver(device_dax_driver({ iomem: host.mem.iomem, buddy: host.buddy, sparse: host.mem.sparse, log: host.log }));
  const memregion = new Ida();
  pmem_register_devices(bus, host.mem.e820, host.mem.nodeRanges, memregion, host.mem.iomem, host.log);
  hmem_register_devices(bus, host.mem.e820, host.mem.nodeRanges, memregion, host.log);
  host.mf.ownerClaims.push((pfn) => owner(bus, pfn) !== null);
  host.mf.ownerHooks.push((pfn) => dax_memory_failure(host, bus, pfn));
  return { bus, major, devt };
}

/** The device_dax-bound device whose ranges hold pfn, and the page offset of pfn in it. */
function owner(bus: DaxBusImpl, pfn: number): { dev: DevDaxImpl; pgoff: number } | null {
  const phys = pfn * PAGE_SIZE;
  for (const dev of bus.devices()) {
    if (!dax_drvdata(dev)) continue;
    for (const r of dev.ranges) if (phys >= r.start && phys <= r.end) return { dev, pgoff: r.pgoff + (phys - r.start) / PAGE_SIZE };
  }
  return null;
}

/**
 * memory_failure_dev_pagemap for device-dax: with struct pages the frame is
 * poisoned, the whole align-sized block is unmapped from every mapper and each
 * that asked for early kill (mf_kill.ts) is sent SIGBUS BUS_MCEERR_AO with
 * si_addr_lsb of the block (12/21/30). The device keeps no record of the error
 * (its fault maps the block again); a later touch of the bad frame is a machine
 * check, BUS_MCEERR_AR for that 4K (kernel/mce.ts). With map=0 (no struct pages)
 * the mappers are signalled with si_addr_lsb 12 and the mapping stays (≈ Linux
 * 6.19's memory_failure_pfn).
 */
function dax_memory_failure(host: Host, bus: DaxBusImpl, pfn: number): boolean {
  const o = owner(bus, pfn);
  if (!o) return false;
  const { dev, pgoff } = o;
  const hex = `0x${pfn.toString(16)}`;
  const lsb = dev.map ? Math.log2(dev.align) : 12;
  const tokill: ToKill[] = [];
  for (const vma of mappers(dev)) {
    if (pgoff < vma.pgoff || pgoff >= vma.pgoff + vma.size / PAGE_SIZE) continue;
    const addr = vma.start + (pgoff - vma.pgoff) * PAGE_SIZE;
    const mm = vma.vm_mm as MmStruct;
    if (dev.map) {
      const block = alignDown(addr, dev.align);
      mm.zap_vma_range(vma, block, block + dev.align, true);
    }
    tokill.push({ mm, addr: dev.map ? alignDown(addr, PAGE_SIZE) : addr, lsb });
  }
  // mf_generic_kill_procs → collect_procs(force_early) → unmap_and_kill → kill_procs: those that asked for early kill.
  kill_procs(host, tokill, pfn, true);
  host.log.err(`Memory failure: ${hex}: recovery action for dax page: ${tokill.length ? 'Recovered' : 'Delayed'}`);
  return true;
}

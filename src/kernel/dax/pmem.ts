/**
 * Legacy persistent memory to a static dax region: memmap=nn!ss
 * (arch/x86/kernel/e820.c parse_memmap_opt / parse_memmap_one →
 * e820__range_add(E820_TYPE_PRAM)), then, minimally, the nvdimm stack:
 * drivers/nvdimm/e820.c (platform device "e820_pmem", bus "ndbus0", one region
 * per PRAM range), an io namespace "namespaceR.0" already in devdax mode (as
 * `ndctl create-namespace -m devdax --map=mem` leaves it), and
 * drivers/dax/pmem.c __dax_pmem_probe: the metadata (info block, padded to the
 * 2 MiB alignment: dataoff = align with --map=mem) is requested as
 * "namespaceR.0" in /proc/iomem, and a static region over the rest with one
 * device "daxR.0".
 *
 * Not modelled: labels, namespace/pfn/dax sysfs of the nd bus, --map=dev (struct
 * pages stored on the device through an altmap), sector and fsdax modes.
 */
import { PMD_SIZE, memparse } from '../../lib/size.ts';
import { E820_TYPE_ACPI, E820_TYPE_PRAM, E820_TYPE_RAM, E820_TYPE_RESERVED, type E820Table, type NodeRange } from '../boot/e820.ts';
import type { E820Hook } from '../boot/setup.ts';
import type { KernelLog } from '../printk.ts';
import { Resource, type ResourceTree } from '../resource.ts';
import type { DaxBusImpl } from './bus.ts';
import { phys_to_target_node } from './hmem.ts';
import { IORESOURCE_DAX_STATIC, type Ida } from './region.ts';

/** parse_memmap_one(): 0 or -EINVAL. */
export function parse_memmap_one(p: string, e820: E820Table, log: KernelLog): number {
  if (p.startsWith('exactmap')) {
    e820.entries = [];
    e820.userdef = true;
    return 0;
  }
  const size = memparse(p);
  if (size.rest === p) return -22;
  e820.userdef = true;
  const mem_size = size.value;
  let rest = size.rest;
  const at = (type: number): void => {
    const start = memparse(rest.slice(1));
    rest = start.rest;
    e820.add(start.value, mem_size, type);
  };
  if (rest.startsWith('@')) at(E820_TYPE_RAM);
  else if (rest.startsWith('#')) at(E820_TYPE_ACPI);
  else if (rest.startsWith('$')) {
    const start = memparse(rest.slice(1));
    rest = start.rest;
    e820.rangeUpdate(start.value, mem_size, E820_TYPE_RAM, E820_TYPE_RESERVED, log);
  } else if (rest.startsWith('!')) at(E820_TYPE_PRAM);
  else e820.rangeRemove(mem_size, Infinity, E820_TYPE_RAM, true, log);
  return rest === '' ? 0 : -22;
}

/** The memmap= boot hook (parse_memmap_opt: comma-separated). */
export const memmap_hook: E820Hook = ({ params, e820, log }) => {
  params.early_param('memmap', (v) => {
    if (v === undefined) return -22;
    for (const one of v.split(',')) parse_memmap_one(one, e820, log);
    return 0;
  });
};

/** e820_pmem → nd region → devdax namespace → dax_pmem for every PRAM range. */
export function pmem_register_devices(bus: DaxBusImpl, e820: E820Table, nodeRanges: readonly NodeRange[], memregion: Ida, iomem: ResourceTree, log: KernelLog): void {
  for (const e of e820.entries) {
    if (e.type !== E820_TYPE_PRAM) continue;
    const rid = memregion.alloc();
    const ns = `namespace${rid}.0`;
    const align = PMD_SIZE;
    // nd_pfn_init with PFN_MODE_RAM: the 8K info block padded to the data alignment.
    const dataoff = align;
    const start = e.addr + dataoff;
    const end = e.addr + e.size - 1;
    if (e.addr % align !== 0 || e.size <= dataoff || (end - start + 1) % align !== 0) {
      log.warn(`dax_pmem dax${rid}.0: probe with driver dax_pmem failed with error -22`);
      continue;
    }
    iomem.insert(new Resource(ns, e.addr, e.addr + dataoff - 1));
    const nid = phys_to_target_node(nodeRanges, e.addr);
    const region = bus.alloc_dax_region(rid, start, end, nid, align, IORESOURCE_DAX_STATIC, `devices/platform/e820_pmem/ndbus0/region${rid}/dax${rid}.0`);
    if (!region) continue;
    bus.onRegion?.(region);
    bus.devm_create_dev_dax(region, end - start + 1, 0);
  }
}

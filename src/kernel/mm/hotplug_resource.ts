/**
 * The iomem side of memory hotplug (kernel/resource.c __request_region,
 * release_mem_region_adjustable, walk_system_ram_range). The model's Resource
 * has no flags, so IORESOURCE_BUSY is inferred from the name as
 * e820__reserve_resources (do_mark_busy) and request_mem_region set it;
 * NOT_BUSY marks resources a driver requested and then cleared BUSY on.
 */
import { PAGE_SIZE } from '../../lib/size.ts';
import { Resource, type ResourceTree } from '../resource.ts';

/** Resources that request_mem_region() created for a driver which then cleared IORESOURCE_BUSY (kmem's "daxN.M"). */
export const NOT_BUSY = new WeakSet<Resource>();

/** IORESOURCE_BUSY: System RAM and what it holds, ACPI tables, unusable memory, device-dax's claims. */
function resource_busy(r: Resource): boolean {
  if (NOT_BUSY.has(r)) return false;
  return /^(System RAM|ACPI |Unusable memory|Kernel |dax\d+\.\d+$)/.test(r.name);
}

/**
 * __request_region(): descend into a non-busy resource that contains the
 * range; any other overlap is a conflict (null).
 */
export function request_region(iomem: ResourceTree, start: number, size: number, name: string): Resource | null {
  const end = start + size - 1;
  let parent = iomem.root;
  for (;;) {
    const conflict = parent.children.find((c) => c.start <= end && c.end >= start);
    if (!conflict) {
      const res = new Resource(name, start, end);
      parent.children.push(res);
      parent.children.sort((a, b) => a.start - b.start);
      return res;
    }
    if (conflict.start <= start && conflict.end >= end && !resource_busy(conflict)) {
      parent = conflict;
      continue;
    }
    return null;
  }
}

/** release_mem_region_adjustable(): drop the "System RAM..." resources inside [start, start+size). */
export function release_mem_region_adjustable(iomem: ResourceTree, start: number, size: number): void {
  const end = start + size - 1;
  const walk = (r: Resource): void => {
    for (const c of [...r.children]) {
      if (c.end < start || c.start > end) continue;
      if (c.name.startsWith('System RAM') && c.start >= start && c.end <= end) iomem.remove(c, r);
      else walk(c);
    }
  };
  walk(iomem.root);
}

/** walk_system_ram_range() counting: pages of [start_pfn, end_pfn) inside "System RAM*" resources. */
export function system_ram_pages(iomem: ResourceTree, start_pfn: number, end_pfn: number): number {
  const s = start_pfn * PAGE_SIZE;
  const e = end_pfn * PAGE_SIZE - 1;
  let bytes = 0;
  const walk = (r: Resource): void => {
    for (const c of r.children) {
      if (c.end < s || c.start > e) continue;
      if (c.name.startsWith('System RAM')) bytes += Math.min(c.end, e) - Math.max(c.start, s) + 1;
      else walk(c);
    }
  };
  walk(iomem.root);
  return Math.floor(bytes / PAGE_SIZE);
}

/**
 * struct dev_dax and its ranges, with the resize algorithm of drivers/dax/bus.c:
 * alloc_dev_dax_range, trim_dev_dax_range, adjust_dev_dax_range, dev_dax_shrink,
 * adjust_ok, dev_dax_resize, alloc_is_aligned, dev_dax_validate_align, and the
 * per-range "mappingN" ids (devm_register_dax_mapping). drivers/dax/device.c
 * dax_pgoff_to_phys.
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE, PMD_SIZE, PUD_SIZE } from '../../lib/size.ts';
import type { DaxDriver, DevDax, DevDaxRange } from './api.ts';
import { Ida, type DaxRegion, type RegionRes } from './region.ts';

/** memremap_compat_align() on x86-64: SUBSECTION_SIZE (2 MiB). */
export const MEMREMAP_COMPAT_ALIGN = PMD_SIZE;

/** struct dev_dax_range plus its mapping device's id (-1 when none). */
export interface DevDaxRangeImpl extends DevDaxRange {
  start: number;
  end: number;
  pgoff: number;
  /** K of the "mappingK" child device. */
  mapping: number;
}

/** struct dev_dax. */
export class DevDaxImpl implements DevDax {
  readonly ranges: DevDaxRangeImpl[] = [];
  /** The bound driver (dev->driver). */
  drv: DaxDriver | null = null;
  drvdata: unknown = null;
  /** Mapping ids (dev_dax->ida). */
  readonly mappingIda = new Ida();
  /** The pageless RFC's `map` attribute: false = no struct pages (Joao Martins' RFC, never merged). */
  map = true;
  readonly target_node: number;
  align: number;
  /** dev_name(): "daxR.I" (the name stays after the id is freed). */
  readonly name: string;

  constructor(
    readonly region: DaxRegion,
    /** -1 once deleted (__free_dev_dax_id). */
    public id: number,
  ) {
    this.target_node = region.target_node;
    this.align = region.align;
    this.name = `dax${region.id}.${id}`;
  }

  get region_id(): number {
    return this.region.id;
  }

  /** The bound driver's name. */
  get driver(): string | null {
    return this.drv?.name ?? null;
  }

  /** dev_dax_size(). */
  get size(): number {
    let size = 0;
    for (const r of this.ranges) size += r.end - r.start + 1;
    return size;
  }
}

/** range_len. */
function range_len(r: { start: number; end: number }): number {
  return r.end - r.start + 1;
}

/** alloc_is_aligned(): sizes are multiples of max(align, memremap_compat_align()). */
export function alloc_is_aligned(dev: DevDaxImpl, size: number): boolean {
  return size % Math.max(dev.align, MEMREMAP_COMPAT_ALIGN) === 0;
}

/** dax_align_valid(): PUD (THP PUD), PMD (THP) or PAGE_SIZE. */
export function dax_align_valid(align: number): boolean {
  return align === PUD_SIZE || align === PMD_SIZE || align === PAGE_SIZE;
}

/** alloc_dev_dax_range(): request [start, start+size) from the region and append a range (ENOMEM when taken). */
export function alloc_dev_dax_range(dev: DevDaxImpl, start: number, size: number): void {
  if (size === 0) {
    // The seed special case: a 0-size device has no range at all.
    if (dev.ranges.length) throw new Errno('EBUSY', '0-size allocation must be first');
    return;
  }
  const alloc = dev.region.request_region(start, size, dev.name);
  if (!alloc) throw new Errno('ENOMEM');
  let pgoff = 0;
  for (const r of dev.ranges) pgoff += range_len(r) / PAGE_SIZE;
  // devm_register_dax_mapping(): "mappingK" with K from the device's ida.
  dev.ranges.push({ start: alloc.start, end: alloc.end, pgoff, mapping: dev.mappingIda.alloc() });
}

/** trim_dev_dax_range(): drop the last range and its region resource and mapping device. */
export function trim_dev_dax_range(dev: DevDaxImpl): void {
  const r = dev.ranges.pop()!;
  dev.region.release_region(r.start);
  dev.mappingIda.free(r.mapping);
}

/** free_dev_dax_ranges(). */
export function free_dev_dax_ranges(dev: DevDaxImpl): void {
  while (dev.ranges.length) trim_dev_dax_range(dev);
}

/** adjust_dev_dax_range(): the last range takes `size` bytes from its start. */
function adjust_dev_dax_range(dev: DevDaxImpl, res: RegionRes, size: number): void {
  const range = dev.ranges[dev.ranges.length - 1]!;
  if (!size) throw new Errno('EINVAL', 'deletion is handled by dev_dax_shrink');
  dev.region.adjust_resource(res, range.start, size);
  range.end = range.start + size - 1;
}

/** dev_dax_shrink(): free from the end — whole ranges last-first, then trim the survivor. */
function dev_dax_shrink(dev: DevDaxImpl, size: number): void {
  let to_shrink = dev.size - size;
  for (let i = dev.ranges.length - 1; i >= 0; i--) {
    const range = dev.ranges[i]!;
    const shrink = Math.min(to_shrink, range_len(range));
    if (shrink >= range_len(range)) {
      trim_dev_dax_range(dev);
      to_shrink -= shrink;
      if (!to_shrink) break;
      continue;
    }
    const adjust = dev.region.children.find((r) => r.name === dev.name && r.start === range.start);
    if (!adjust || i !== dev.ranges.length - 1) throw new Errno('ENXIO', 'failed to find matching resource');
    adjust_dev_dax_range(dev, adjust, range_len(range) - shrink);
    return;
  }
}

/** adjust_ok(): `res` is this device's last range and no earlier range has a larger page offset. */
function adjust_ok(dev: DevDaxImpl, res: RegionRes): boolean {
  if (dev.ranges.length === 0) return false;
  if (res.name !== dev.name) return false;
  const last = dev.ranges[dev.ranges.length - 1]!;
  if (last.start !== res.start || last.end !== res.end) return false;
  for (let i = 0; i < dev.ranges.length - 1; i++) if (dev.ranges[i]!.pgoff > last.pgoff) return false;
  return true;
}

/**
 * dev_dax_resize(): EBUSY while bound; ENOSPC when growth exceeds the available
 * space; shrink from the end; grow first-fit in address order (the gap before the
 * first allocation, between allocations, after the last), extending the device's
 * last range in place when it borders the gap, looping until all is placed.
 */
export function dev_dax_resize(region: DaxRegion, dev: DevDaxImpl, size: number): void {
  const avail = region.avail_size();
  const dev_size = dev.size;
  if (dev.drv) throw new Errno('EBUSY');
  if (size === dev_size) return;
  if (size > dev_size && size - dev_size > avail) throw new Errno('ENOSPC');
  if (size < dev_size) return dev_dax_shrink(dev, size);

  let to_alloc = size - dev_size;
  if (!alloc_is_aligned(dev, to_alloc)) throw new Errno('ENXIO', 'resize misaligned');
  while (to_alloc) {
    const kids = region.children;
    if (kids.length === 0) return alloc_dev_dax_range(dev, region.start, to_alloc);
    let alloc = 0;
    let done = false;
    for (let k = 0; k < kids.length; k++) {
      const res = kids[k]!;
      const next = kids[k + 1];
      // space at the beginning of the region
      if (k === 0 && res.start > region.start) {
        alloc = Math.min(res.start - region.start, to_alloc);
        alloc_dev_dax_range(dev, region.start, alloc);
        done = true;
        break;
      }
      alloc = 0;
      // space between allocations
      if (next && next.start > res.end + 1) alloc = Math.min(next.start - (res.end + 1), to_alloc);
      // space at the end of the region
      if (!alloc && !next && res.end < region.end) alloc = Math.min(region.end - res.end, to_alloc);
      if (!alloc) continue;
      if (adjust_ok(dev, res)) adjust_dev_dax_range(dev, res, range_len(res) + alloc);
      else alloc_dev_dax_range(dev, res.end + 1, alloc);
      done = true;
      break;
    }
    if (!done) throw new Errno('ENOSPC');
    to_alloc -= alloc;
  }
}

/** dev_dax_validate_align(): every range must be a multiple of the (new) alignment. */
export function dev_dax_validate_align(dev: DevDaxImpl): void {
  for (const r of dev.ranges) if (!alloc_is_aligned(dev, range_len(r))) throw new Errno('EINVAL');
}

/** dax_pgoff_to_phys(): the physical address of page `pgoff` if [pgoff, pgoff+size) lies in one range, else -1. */
export function dax_pgoff_to_phys(dev: DevDax, pgoff: number, size: number): number {
  for (const r of dev.ranges) {
    const pgoff_end = r.pgoff + range_len(r) / PAGE_SIZE - 1;
    if (pgoff < r.pgoff || pgoff > pgoff_end) continue;
    const phys = (pgoff - r.pgoff) * PAGE_SIZE + r.start;
    if (phys + size - 1 <= r.end) return phys;
    break;
  }
  return -1;
}

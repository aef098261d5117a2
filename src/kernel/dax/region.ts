/**
 * struct dax_region (drivers/dax/bus.c alloc_dax_region, dax_region_avail_size,
 * is_static; kernel/resource.c __request_region / __release_region /
 * adjust_resource on the region's private resource tree, lib/idr.c ida_alloc).
 *
 * The region's children are the dev_dax allocations (named "daxN.M"), kept
 * sorted by start like the resource sibling list; /proc/iomem does not see
 * them (device_dax's probe requests its own iomem resources).
 */
import { Errno } from '../../lib/errno.ts';

/** IORESOURCE_DAX_STATIC: a region the dax core may not sub-divide (nvdimm). */
export const IORESOURCE_DAX_STATIC = 0x1;
/** IORESOURCE_DAX_KMEM: the region's devices go to kmem by default (dax_match_type). */
export const IORESOURCE_DAX_KMEM = 0x2;

/** One child resource of the region (an allocated range): [start, end] inclusive. */
export interface RegionRes {
  readonly name: string;
  start: number;
  end: number;
}

/** lib/idr.c ida: the lowest free id. */
export class Ida {
  private readonly used = new Set<number>();

  /** ida_alloc. */
  alloc(): number {
    let id = 0;
    while (this.used.has(id)) id++;
    this.used.add(id);
    return id;
  }

  /** ida_alloc_range(id, id): take a specific id; false if in use. */
  take(id: number): boolean {
    if (this.used.has(id)) return false;
    this.used.add(id);
    return true;
  }

  /** ida_free. */
  free(id: number): void {
    this.used.delete(id);
  }
}

/** struct dax_region. */
export class DaxRegion {
  /** Allocations, sorted by start (res.child and its siblings). */
  readonly children: RegionRes[] = [];
  /** dev_dax ids (dax_region->ida). */
  readonly ida = new Ida();
  /** The first 0-size device not yet bound (dax_region->seed), by name. */
  seed: string | null = null;
  /** The newest device created through `create` (dax_region->youngest). */
  youngest: string | null = null;
  /** The parent device has its driver (hmem / dax_pmem) bound: dax_region->dev->driver. */
  parentBound = true;

  constructor(
    readonly id: number,
    /** res.start. */
    readonly start: number,
    /** res.end, inclusive. */
    readonly end: number,
    readonly target_node: number,
    readonly align: number,
    /** IORESOURCE_DAX_* flags. */
    readonly flags: number,
    /** The parent device's sysfs directory below /sys ("devices/platform/hmem.0"). */
    readonly devPath: string,
  ) {}

  /** resource_size(&dax_region->res). */
  get size(): number {
    return this.end - this.start + 1;
  }

  /** is_static(). */
  get isStatic(): boolean {
    return (this.flags & IORESOURCE_DAX_STATIC) !== 0;
  }

  /** dax_region_avail_size(). */
  avail_size(): number {
    let size = this.size;
    for (const r of this.children) size -= r.end - r.start + 1;
    return size;
  }

  /** __request_region(&res, start, size, name): null when outside the region or overlapping a child. */
  request_region(start: number, size: number, name: string): RegionRes | null {
    const end = start + size - 1;
    if (size <= 0 || start < this.start || end > this.end) return null;
    let i = 0;
    while (i < this.children.length && this.children[i]!.start <= end) {
      if (this.children[i]!.end >= start) return null;
      i++;
    }
    const res = { name, start, end };
    this.children.splice(i, 0, res);
    return res;
  }

  /** __release_region(): drop the child that starts at `start`. */
  release_region(start: number): void {
    const i = this.children.findIndex((r) => r.start === start);
    if (i >= 0) this.children.splice(i, 1);
  }

  /** adjust_resource(res, start, size): EBUSY when the new extent leaves the region or meets a sibling. */
  adjust_resource(res: RegionRes, start: number, size: number): void {
    const end = start + size - 1;
    if (start < this.start || end > this.end) throw new Errno('EBUSY');
    for (const c of this.children) if (c !== res && c.start <= end && c.end >= start) throw new Errno('EBUSY');
    res.start = start;
    res.end = end;
  }
}

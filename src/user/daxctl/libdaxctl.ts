/**
 * libdaxctl: dax regions, devices and their mappings as the library finds them
 * in sysfs (pmem/ndctl daxctl/lib/libdaxctl.c: dax_regions_init,
 * add_dax_region, dax_devices_init, add_dax_dev, mappings_init, daxctl_bind,
 * daxctl_unbind, daxctl_dev_enable/disable, daxctl_dev_set_size/align/mapping,
 * daxctl_region_create_dev/destroy_dev/get_dev_seed/get_available_size).
 *
 * Functions return 0 or -errno like the C library. Lists are built with ccan's
 * list_add, which inserts at the head, so regions, devices and mappings come out
 * in the reverse of the order readdir (or the mappingN index) gave them, as the
 * real tool prints them.
 *
 * Known differences: modules are built in (no kmod insertion); when the
 * kernel has no /sys/dev/char directory at all, the device model is taken to be
 * the dax bus if the device is reached through /sys/bus/dax/devices; the
 * /proc/iomem fallback for a missing `resource` attribute is not implemented.
 */
import { S_IFLNK, S_IFMT } from '../../uapi/fcntl.ts';
import { DaxctlCtx, devpathToDevname, hexAlt, strerror, strtoull } from './sysfs.ts';
import { daxctl_dev_alloc_mem, type DaxctlMemory } from './memory.ts';

const ATTRS = 'dax_region';
/** dax_subsystems[]: DAX_CLASS then DAX_BUS. */
const DAX_CLASS = '/sys/class/dax';
const DAX_BUS = '/sys/bus/dax/devices';
/** dax_modules[]: the driver behind each mode. */
export const DAX_MODULES = { devdax: 'device_dax', 'system-ram': 'kmem' } as const;
/** A device mode daxctl can enable. */
export type DaxMode = keyof typeof DAX_MODULES;

/** struct daxctl_mapping. */
export interface DaxctlMapping {
  readonly start: number;
  readonly end: number;
  readonly pgoff: number;
}

/** struct daxctl_region. */
export class DaxctlRegion {
  readonly devices: DaxctlDev[] = [];
  devicesInit = false;
  readonly devname: string;

  constructor(
    readonly ctx: DaxctlCtx,
    readonly id: number,
    readonly path: string,
    /** -1 (ULLONG_MAX in C) when unreadable. */
    readonly size: number,
    readonly align: number,
  ) {
    this.devname = devpathToDevname(path);
  }

  /** daxctl_dev_foreach: dax_devices_init() then the list. */
  devs(): readonly DaxctlDev[] {
    dax_devices_init(this);
    return this.devices;
  }
}

/** struct daxctl_dev. */
export class DaxctlDev {
  mem: DaxctlMemory | null = null;
  mappings: DaxctlMapping[] | null = null;

  constructor(
    readonly region: DaxctlRegion,
    readonly id: number,
    readonly path: string,
    readonly major: number,
    readonly minor: number,
    readonly resource: number,
    public size: number,
    public align: number,
    readonly targetNode: number,
  ) {}

  get ctx(): DaxctlCtx {
    return this.region.ctx;
  }

  /** daxctl_dev_get_devname(). */
  get devname(): string {
    return devpathToDevname(this.path);
  }
}

/** The library's region list: dax_regions_init() on first use. */
export class DaxctlLib {
  private regions: DaxctlRegion[] | null = null;

  constructor(readonly ctx: DaxctlCtx) {}

  /** daxctl_region_foreach. */
  regionList(): readonly DaxctlRegion[] {
    if (!this.regions) {
      this.regions = [];
      for (const subsys of [DAX_CLASS, DAX_BUS]) regions_init_subsys(this.ctx, this.regions, subsys);
    }
    return this.regions;
  }
}

/** dax_region_path(): the region directory a device entry lives in. */
function dax_region_path(ctx: DaxctlCtx, device: string, subsys: string): string | null {
  const real = ctx.realpath(`${subsys}/${device}`);
  if (!real) return null;
  let p = real.slice(0, real.lastIndexOf('/'));
  if (subsys === DAX_CLASS) p = p.slice(0, p.lastIndexOf('/'));
  return p;
}

/** __dax_regions_init(). */
function regions_init_subsys(ctx: DaxctlCtx, regions: DaxctlRegion[], subsys: string): void {
  const names = ctx.readdir(subsys);
  if (!names) return;
  for (const name of names) {
    const m = /^dax(-?\d+)\.(-?\d+)/.exec(name);
    if (!m) continue;
    const path = dax_region_path(ctx, name, subsys);
    if (!path) {
      ctx.err('__dax_regions_init', 'dax region path allocation failure\n');
      continue;
    }
    add_dax_region(ctx, regions, Number(m[1]), path);
  }
}

/** add_dax_region(): dedup by path, read size and align. */
function add_dax_region(ctx: DaxctlCtx, regions: DaxctlRegion[], id: number, base: string): DaxctlRegion {
  const dup = regions.find((r) => r.path === base);
  if (dup) return dup;
  const size = ctx.readAttr(`${base}/${ATTRS}/size`);
  const align = ctx.readAttr(`${base}/${ATTRS}/align`);
  const region = new DaxctlRegion(
    ctx,
    id,
    base,
    typeof size === 'string' ? strtoull(size, 0) : -1,
    typeof align === 'string' ? strtoull(align, 0) : -1,
  );
  regions.unshift(region);
  return region;
}

/** dax_devices_init(): sysfs_device_parse(region_path, "daxN.", add_dax_dev). */
function dax_devices_init(region: DaxctlRegion): void {
  if (region.devicesInit) return;
  region.devicesInit = true;
  const prefix = `dax${region.id}.`;
  const names = region.ctx.readdir(region.path);
  if (!names) return;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^\s*([+-]?\d+)/.exec(name.slice(prefix.length));
    if (!m) continue;
    add_dax_dev(region, Number(m[1]), `${region.path}/${name}`);
  }
}

/** add_dax_dev(): a device needs its /dev node and a readable size. */
function add_dax_dev(region: DaxctlRegion, id: number, base: string): DaxctlDev | null {
  const ctx = region.ctx;
  const devname = devpathToDevname(base);
  const st = ctx.statRdev(`/dev/${devname}`);
  if (!st) return null;
  const res = ctx.readAttr(`${base}/resource`);
  const size = ctx.readAttr(`${base}/size`);
  if (typeof size !== 'string') return null;
  const align = ctx.readAttr(`${base}/align`);
  const node = ctx.readAttr(`${base}/target_node`);
  const dup = region.devices.find((d) => d.id === id);
  if (dup) return dup;
  const major = Math.floor(st.rdev / 256) % 4096;
  const minor = st.rdev % 256;
  const dev = new DaxctlDev(
    region,
    id,
    base,
    major,
    minor,
    typeof res === 'string' ? strtoull(res, 0) : 0,
    strtoull(size, 0),
    typeof align === 'string' ? strtoull(align, 0) : 0,
    typeof node === 'string' ? strtoull(node, 0) : -1,
  );
  region.devices.unshift(dev);
  return dev;
}

/** daxctl_region_get_available_size(): 0 when absent or unparsable. */
export function daxctl_region_get_available_size(region: DaxctlRegion): number {
  const buf = region.ctx.readAttr(`${region.path}/${ATTRS}/available_size`);
  if (typeof buf !== 'string' || buf === '') return 0;
  return /^(0[xX][0-9a-fA-F]+|\d+)$/.test(buf.trim()) ? strtoull(buf, 0) : 0;
}

/** daxctl_region_create_dev(): write 1 to create. */
export function daxctl_region_create_dev(region: DaxctlRegion): number {
  return region.ctx.writeAttr(`${region.path}/${ATTRS}/create`, '1');
}

/** daxctl_region_destroy_dev(): write the device name to delete. */
export function daxctl_region_destroy_dev(region: DaxctlRegion, dev: DaxctlDev): number {
  return region.ctx.writeAttr(`${region.path}/${ATTRS}/delete`, dev.devname);
}

/** daxctl_region_get_dev_seed(). */
export function daxctl_region_get_dev_seed(region: DaxctlRegion): DaxctlDev | null {
  const buf = region.ctx.readAttr(`${region.path}/${ATTRS}/seed`);
  if (typeof buf !== 'string') return null;
  return region.devs().find((d) => d.devname === buf) ?? null;
}

/** device_model_is_dax_bus(): the char device's subsystem is /sys/bus/dax. */
export function device_model_is_dax_bus(dev: DaxctlDev): boolean {
  const ctx = dev.ctx;
  const path = `/dev/${dev.devname}`;
  const st = ctx.statRdev(path);
  if (!st) {
    ctx.err('device_model_is_dax_bus', `${dev.devname}: stat for ${path} failed: ${strerrorOf(ctx)}\n`);
    return false;
  }
  const major = Math.floor(st.rdev / 256) % 4096;
  const minor = st.rdev % 256;
  if (ctx.lstatMode('/sys/dev/char') === null) {
    // The model has no /sys/dev/char: accept a device reached through the bus.
    return ctx.realpath(`${DAX_BUS}/${dev.devname}`) === dev.path;
  }
  const resolved = ctx.realpath(`/sys/dev/char/${major}:${minor}/subsystem`);
  if (!resolved) {
    ctx.err('device_model_is_dax_bus', `${dev.devname}:  unable to determine subsys: ${strerrorOf(ctx)}\n`);
    return false;
  }
  return resolved === '/sys/bus/dax';
}

function strerrorOf(ctx: DaxctlCtx): string {
  return strerror(ctx.errno);
}

/** is_enabled(): the driver link exists. */
function is_enabled(ctx: DaxctlCtx, drvpath: string): boolean {
  const mode = ctx.lstatMode(drvpath);
  return mode !== null && (mode & S_IFMT) === S_IFLNK;
}

/** daxctl_dev_is_enabled(). */
export function daxctl_dev_is_enabled(dev: DaxctlDev): boolean {
  if (!device_model_is_dax_bus(dev)) return true;
  return is_enabled(dev.ctx, `${dev.path}/driver`);
}

/** The bound driver's name (basename of realpath(driver)), or null. */
export function dev_driver_name(dev: DaxctlDev): string | null {
  const p = dev.ctx.realpath(`${dev.path}/driver`);
  return p ? devpathToDevname(p) : null;
}

/** daxctl_bind(): new_id then bind on the named driver, both quiet. */
function daxctl_bind(ctx: DaxctlCtx, devname: string, modName: string): number {
  const path = '/sys/bus/dax/drivers';
  const names = ctx.readdir(path);
  if (!names) {
    ctx.err('daxctl_bind', `${devname}: opendir("${path}") failed\n`);
    return -6; // -ENXIO
  }
  let rc = 0;
  for (const name of names) {
    if (name.startsWith('.') || name !== modName) continue;
    rc = ctx.writeAttr(`${path}/${name}/new_id`, devname);
    rc = ctx.writeAttr(`${path}/${name}/bind`, devname);
    break;
  }
  return rc;
}

/** daxctl_unbind(): remove_id then unbind through the driver link. */
function daxctl_unbind(ctx: DaxctlCtx, devpath: string): number {
  const devname = devpathToDevname(devpath);
  const rc = ctx.writeAttr(`${devpath}/driver/remove_id`, devname);
  if (rc) return rc;
  return ctx.writeAttr(`${devpath}/driver/unbind`, devname);
}

/** daxctl_dev_enable(). */
export function daxctl_dev_enable(dev: DaxctlDev, mode: DaxMode): number {
  const ctx = dev.ctx;
  const devname = dev.devname;
  if (!device_model_is_dax_bus(dev)) {
    ctx.err('daxctl_dev_enable', `${devname}: error: device model is dax-class\n`);
    ctx.err('daxctl_dev_enable', `${devname}: see man daxctl-migrate-device-model\n`);
    return -95; // -EOPNOTSUPP
  }
  if (daxctl_dev_is_enabled(dev)) return 0;
  const rc = daxctl_bind(ctx, devname, DAX_MODULES[mode]);
  if (!daxctl_dev_is_enabled(dev)) {
    ctx.err('daxctl_dev_enable', `${devname}: failed to enable\n`);
    return rc ? rc : -6;
  }
  dev.region.devicesInit = false;
  dax_devices_init(dev.region);
  return 0;
}

/** daxctl_dev_disable(). */
export function daxctl_dev_disable(dev: DaxctlDev): number {
  const ctx = dev.ctx;
  const devname = dev.devname;
  if (!device_model_is_dax_bus(dev)) {
    ctx.err('daxctl_dev_disable', `${devname}: error: device model is dax-class\n`);
    ctx.err('daxctl_dev_disable', `${devname}: see man daxctl-migrate-device-model\n`);
    return -95;
  }
  if (!daxctl_dev_is_enabled(dev)) return 0;
  dev.mem = null;
  daxctl_unbind(ctx, dev.path);
  if (daxctl_dev_is_enabled(dev)) {
    ctx.err('daxctl_dev_disable', `${devname}: failed to disable\n`);
    return -16; // -EBUSY
  }
  return 0;
}

/** daxctl_dev_set_size(): any failure is -ENXIO after "failed to set size". */
export function daxctl_dev_set_size(dev: DaxctlDev, size: number): number {
  if (dev.ctx.writeAttr(`${dev.path}/size`, `${hexAlt(size)}\n`) < 0) {
    dev.ctx.err('daxctl_dev_set_size', `${dev.devname}: failed to set size\n`);
    return -6;
  }
  dev.size = size;
  return 0;
}

/** daxctl_dev_set_align(). */
export function daxctl_dev_set_align(dev: DaxctlDev, align: number): number {
  if (dev.ctx.writeAttr(`${dev.path}/align`, `${hexAlt(align)}\n`) < 0) {
    dev.ctx.err('daxctl_dev_set_align', `${dev.devname}: failed to set align\n`);
    return -6;
  }
  dev.align = align;
  return 0;
}

/** daxctl_dev_set_mapping(): `START-END` (inclusive) in hex. */
export function daxctl_dev_set_mapping(dev: DaxctlDev, start: number, end: number): number {
  if (dev.ctx.writeAttr(`${dev.path}/mapping`, `${hexAlt(start)}-${hexAlt(end)}\n`) < 0) {
    dev.ctx.err('daxctl_dev_set_mapping', `${dev.devname}: failed to set mapping\n`);
    return -6;
  }
  dev.size += end - start + 1;
  return 0;
}

/** daxctl_dev_get_memory(): the memory object of a device in system-ram mode, else null. */
export function daxctl_dev_get_memory(dev: DaxctlDev): DaxctlMemory | null {
  return dev.mem ?? daxctl_dev_alloc_mem(dev);
}

/** mappings_init() + daxctl_mapping_foreach: mappingN/{start,end,page_offset} until one is missing. */
export function daxctl_dev_mappings(dev: DaxctlDev): readonly DaxctlMapping[] {
  if (dev.mappings) return dev.mappings;
  const list: DaxctlMapping[] = [];
  for (let i = 0; ; i++) {
    const start = dev.ctx.readAttr(`${dev.path}/mapping${i}/start`);
    if (typeof start !== 'string') break;
    const end = dev.ctx.readAttr(`${dev.path}/mapping${i}/end`);
    if (typeof end !== 'string') break;
    const pgoff = dev.ctx.readAttr(`${dev.path}/mapping${i}/page_offset`);
    if (typeof pgoff !== 'string') break;
    list.unshift({ start: strtoull(start, 0), end: strtoull(end, 0), pgoff: strtoull(pgoff, 0) });
  }
  dev.mappings = list;
  return list;
}

/**
 * The dax bus (drivers/dax/bus.c): regions, dev_dax devices, driver matching
 * and binding, and the stores behind /sys/bus/dax (create, delete, size,
 * mapping, align, new_id, remove_id) with bus.c's checks in bus.c's order; the
 * driver core's bind/unbind (drivers/base/bus.c bind_store/unbind_store,
 * drivers/base/dd.c __driver_probe_device/really_probe, driver_attach).
 *
 * dax_match_type() (Linux >= 6.3): a region flagged IORESOURCE_DAX_KMEM (hmem's
 * default) matches the kmem driver; others match device_dax; device_dax also
 * matches when no kmem driver exists (!CONFIG_DEV_DAX_KMEM, here: kmem not
 * registered). A driver registered later attaches only to unbound devices.
 */
import { Errno, errnoNumber, isErrno } from '../../lib/errno.ts';
import type { KernelLog } from '../printk.ts';
import type { DaxBus, DaxDriver, DevDax } from './api.ts';
import {
  DevDaxImpl,
  alloc_dev_dax_range,
  alloc_is_aligned,
  dax_align_valid,
  dev_dax_resize,
  dev_dax_validate_align,
  free_dev_dax_ranges,
} from './device.ts';
import { DaxRegion, IORESOURCE_DAX_KMEM } from './region.ts';

/** kstrtoull(s, base): optional '+', 0x/0 prefixes for base 0, one trailing newline; EINVAL or ERANGE. */
export function kstrtoull(text: string, base = 0): number {
  let s = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (s.startsWith('+')) s = s.slice(1);
  let b = base;
  if (b === 0) b = /^0[xX][0-9a-fA-F]/.test(s) ? 16 : s.length > 1 && s.startsWith('0') ? 8 : 10;
  if (b === 16 && /^0[xX]/.test(s)) s = s.slice(2);
  const digits = b === 16 ? /^[0-9a-fA-F]+$/ : b === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!digits.test(s)) throw new Errno('EINVAL');
  const v = BigInt(b === 16 ? '0x' + s : b === 8 ? '0o' + s : s);
  if (v > 0xffffffffffffffffn) throw new Errno('ERANGE');
  // Addresses and sizes stay below 2^53 in the model; larger values cannot be a valid size anyway.
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Errno('ERANGE');
  return Number(v);
}

/** kstrtoint(s, 0). */
export function kstrtoint(text: string): number {
  const neg = text.startsWith('-');
  const v = kstrtoull(neg ? text.slice(1) : text);
  if (v > 2 ** 31 - (neg ? 0 : 1)) throw new Errno('ERANGE');
  return neg ? -v : v;
}

/** sysfs_streq(): equal up to one trailing newline on either side. */
export function sysfs_streq(a: string, b: string): boolean {
  const t = (s: string): string => (s.endsWith('\n') ? s.slice(0, -1) : s);
  return t(a) === t(b);
}

/** A registered dax driver and its dynamic ids (struct dax_device_driver). */
interface DriverEntry {
  drv: DaxDriver;
  /** DAXDRV_KMEM_TYPE for "kmem", DAXDRV_DEVICE_TYPE otherwise. */
  kmem: boolean;
  /** new_id list. */
  ids: Set<string>;
}

/** The dax bus of one host. */
export class DaxBusImpl implements DaxBus {
  readonly regions: DaxRegion[] = [];
  private readonly devs: DevDaxImpl[] = [];
  private readonly drvs: DriverEntry[] = [];
  /** device_add / device_del side effects (the /dev node of a dev_dax, created with the device). */
  onAdd: ((dev: DevDaxImpl) => void) | null = null;
  onDel: ((dev: DevDaxImpl) => void) | null = null;
  /** A region was set up (its sysfs directory appears before its first device). */
  onRegion: ((region: DaxRegion) => void) | null = null;

  constructor(private readonly log: KernelLog) {}

  /** dax_driver_register() + driver_register(): attach to every unbound device it matches. */
  register_driver(drv: DaxDriver): void {
    if (this.drvs.some((d) => d.drv.name === drv.name)) throw new Errno('EBUSY');
    const e: DriverEntry = { drv, kmem: drv.name === 'kmem', ids: new Set() };
    this.drvs.push(e);
    this.driver_attach(e);
  }

  /** Registered drivers in registration order. */
  drivers(): readonly DaxDriver[] {
    return this.drvs.map((d) => d.drv);
  }

  /** Every live dev_dax, in creation order. */
  devices(): readonly DevDaxImpl[] {
    return this.devs;
  }

  /** bus_find_device_by_name(). */
  find(name: string): DevDaxImpl | undefined {
    return this.devs.find((d) => sysfs_streq(d.name, name));
  }

  /** Devices of a region, in creation order. */
  region_devices(region: DaxRegion): DevDaxImpl[] {
    return this.devs.filter((d) => d.region === region);
  }

  /** alloc_dax_region(): null when the range is not aligned to `align`. */
  alloc_dax_region(id: number, start: number, end: number, target_node: number, align: number, flags: number, devPath: string): DaxRegion | null {
    if (start % align !== 0 || (end - start + 1) % align !== 0) return null;
    const r = new DaxRegion(id, start, end, target_node, align, flags, devPath);
    this.regions.push(r);
    return r;
  }

  /** devm_create_dev_dax(): id -1 for a dynamic region (lowest free id), the namespace's id for a static one. */
  devm_create_dev_dax(region: DaxRegion, size: number, id = -1): DevDaxImpl {
    if (region.isStatic ? id < 0 : id >= 0) throw new Errno('EINVAL');
    const devId = region.isStatic ? id : region.ida.alloc();
    const dev = new DevDaxImpl(region, devId);
    try {
      alloc_dev_dax_range(dev, region.start, size);
    } catch (e) {
      if (!region.isStatic) region.ida.free(devId);
      throw e;
    }
    this.devs.push(dev);
    this.onAdd?.(dev);
    this.bus_probe_device(dev);
    return dev;
  }

  /** dax_bus_match(): a new_id entry, else dax_match_type(). */
  private match(e: DriverEntry, dev: DevDaxImpl): boolean {
    if ([...e.ids].some((n) => sysfs_streq(n, dev.name))) return true;
    const kmemType = (dev.region.flags & IORESOURCE_DAX_KMEM) !== 0;
    if (e.kmem === kmemType) return true;
    // default to device mode if dax_kmem is disabled
    return !e.kmem && !this.drvs.some((d) => d.kmem);
  }

  /** dax_bus_probe() inside really_probe(): size 0 or a deleted device is ENXIO. */
  private really_probe(e: DriverEntry, dev: DevDaxImpl): void {
    if (dev.size === 0 || dev.id < 0) throw new Errno('ENXIO');
    e.drv.probe(dev);
    dev.drv = e.drv;
    if (dev.region.isStatic) return;
    // Track new seed creation only after successful probe of the previous seed.
    if (dev.region.seed === dev.name) dev.region.seed = null;
  }

  /** __driver_attach / device_attach: try the driver quietly; ENXIO/ENODEV are "rejects match". */
  private try_probe(e: DriverEntry, dev: DevDaxImpl): boolean {
    try {
      this.really_probe(e, dev);
      return true;
    } catch (err) {
      if (!isErrno(err)) throw err;
      if (err.code !== 'ENXIO' && err.code !== 'ENODEV') {
        this.log.warn(`${e.drv.name} ${dev.name}: probe with driver ${e.drv.name} failed with error -${errnoNumber(err.code)}`);
      }
      return false;
    }
  }

  /** bus_probe_device(): the first matching driver that accepts the new device. */
  private bus_probe_device(dev: DevDaxImpl): void {
    for (const e of this.drvs) if (!dev.drv && this.match(e, dev) && this.try_probe(e, dev)) return;
  }

  /** driver_attach(). */
  private driver_attach(e: DriverEntry): void {
    for (const dev of this.devs) if (!dev.drv && this.match(e, dev)) this.try_probe(e, dev);
  }

  private entry(name: string): DriverEntry {
    const e = this.drvs.find((d) => d.drv.name === name);
    if (!e) throw new Errno('ENODEV');
    return e;
  }

  /** drivers/NAME/bind: ENODEV unknown or not matching, EBUSY already bound, else the probe's error. */
  bind_store(drvName: string, buf: string): void {
    const e = this.entry(drvName);
    const dev = this.find(buf);
    if (!dev || !this.match(e, dev)) throw new Errno('ENODEV');
    if (dev.drv) throw new Errno('EBUSY');
    this.really_probe(e, dev);
  }

  /** drivers/NAME/unbind: ENODEV unless bound to this driver. (The contract lets remove refuse with EBUSY.) */
  unbind_store(drvName: string, buf: string): void {
    const e = this.entry(drvName);
    const dev = this.find(buf);
    if (!dev || dev.drv !== e.drv) throw new Errno('ENODEV');
    this.device_release_driver(dev);
  }

  /** device_release_driver(): dax_bus_remove → driver remove. */
  device_release_driver(dev: DevDaxImpl): void {
    if (!dev.drv) return;
    dev.drv.remove(dev);
    dev.drv = null;
    dev.drvdata = null;
  }

  /** do_id_store(): new_id adds and attaches, remove_id drops; EINVAL unless exactly "daxR.I". */
  id_store(drvName: string, buf: string, add: boolean): void {
    const e = this.entry(drvName);
    const m = /^dax(-?\d+)\.(-?\d+)/.exec(buf);
    if (!m || !sysfs_streq(buf, `dax${Number(m[1])}.${Number(m[2])}`)) throw new Errno('EINVAL');
    const name = buf.endsWith('\n') ? buf.slice(0, -1) : buf;
    const have = [...e.ids].find((n) => sysfs_streq(n, name));
    if (!have && add) e.ids.add(name);
    else if (have && !add) e.ids.delete(have);
    if (add) this.driver_attach(e);
  }

  /** dax_region/create: EINVAL static or value != 1, ENOSPC when nothing is available. */
  create_store(region: DaxRegion, buf: string): void {
    if (region.isStatic) throw new Errno('EINVAL');
    const val = kstrtoint(buf);
    if (val !== 1) throw new Errno('EINVAL');
    if (region.avail_size() === 0) throw new Errno('ENOSPC');
    const dev = this.devm_create_dev_dax(region, 0);
    if (!region.seed) region.seed = dev.name;
    region.youngest = dev.name;
  }

  /** dax_region/delete: EINVAL static, ENXIO unknown, EBUSY bound / sized / id 0. */
  delete_store(region: DaxRegion, buf: string): void {
    if (region.isStatic) throw new Errno('EINVAL');
    const victim = this.region_devices(region).find((d) => sysfs_streq(d.name, buf));
    if (!victim) throw new Errno('ENXIO');
    if (victim.drv || victim.size) throw new Errno('EBUSY');
    // Device id 0 is preserved so /sys/bus/dax/ stays populated while the region exists.
    if (victim.id <= 0) throw new Errno('EBUSY');
    region.ida.free(victim.id);
    victim.id = -1;
    if (region.seed === victim.name) region.seed = null;
    if (region.youngest === victim.name) region.youngest = null;
    this.unregister_dev_dax(victim);
  }

  /** unregister_dev_dax(): device_del and free its ranges. */
  private unregister_dev_dax(dev: DevDaxImpl): void {
    this.devs.splice(this.devs.indexOf(dev), 1);
    this.onDel?.(dev);
    free_dev_dax_ranges(dev);
  }

  /** daxN.M/size: EINVAL misaligned, ENXIO region disabled, then dev_dax_resize's errors. */
  size_store(dev: DevDaxImpl, buf: string): void {
    const val = kstrtoull(buf);
    if (!alloc_is_aligned(dev, val)) throw new Errno('EINVAL');
    if (!dev.region.parentBound) throw new Errno('ENXIO');
    dev_dax_resize(dev.region, dev, val);
  }

  /** daxN.M/mapping: EINVAL unparsable, ENXIO region disabled or misaligned, ENOMEM taken/outside. */
  mapping_store(dev: DevDaxImpl, buf: string): void {
    const dash = buf.indexOf('-');
    if (dash < 0) throw new Errno('EINVAL');
    const start = kstrtoull(buf.slice(0, dash), 16);
    const end = kstrtoull(buf.slice(dash + 1), 16);
    if (!dev.region.parentBound) throw new Errno('ENXIO');
    const to_alloc = end - start + 1;
    if (!alloc_is_aligned(dev, to_alloc)) throw new Errno('ENXIO');
    alloc_dev_dax_range(dev, start, to_alloc);
  }

  /** daxN.M/align: ENXIO unparsable, EINVAL invalid, ENXIO region disabled, EBUSY bound, EINVAL a range misfits. */
  align_store(dev: DevDaxImpl, buf: string): void {
    let val: number;
    try {
      val = kstrtoull(buf);
    } catch {
      throw new Errno('ENXIO');
    }
    if (!dax_align_valid(val)) throw new Errno('EINVAL');
    if (!dev.region.parentBound) throw new Errno('ENXIO');
    if (dev.drv) throw new Errno('EBUSY');
    const save = dev.align;
    dev.align = val;
    try {
      dev_dax_validate_align(dev);
    } catch (e) {
      dev.align = save;
      throw e;
    }
  }

  /** daxN.M/map (the pageless RFC): 0 or 1 (kstrtobool), EBUSY while bound. */
  map_store(dev: DevDaxImpl, buf: string): void {
    const s = buf.endsWith('\n') ? buf.slice(0, -1) : buf;
    const v = /^(1|y|Y|on)$/.test(s) ? true : /^(0|n|N|off)$/.test(s) ? false : null;
    if (v === null) throw new Errno('EINVAL');
    if (dev.drv) throw new Errno('EBUSY');
    dev.map = v;
  }
}

/** A DevDax as the bus implements it (for drivers that need the region). */
export function to_dev_dax(dev: DevDax): DevDaxImpl {
  return dev as DevDaxImpl;
}

/**
 * The contract between the dax bus (drivers/dax/bus.c: regions, dev_dax
 * devices, their ranges, driver binding) and the drivers bound to a dev_dax:
 * device_dax (drivers/dax/device.c, the /dev/daxN.M character device) and kmem
 * (drivers/dax/kmem.c, the device's memory hot-added as System RAM).
 *
 * The bus side (src/kernel/dax/) implements `DaxBus` and calls a driver's
 * probe/remove when userspace binds/unbinds through /sys/bus/dax/drivers/NAME/
 * {bind,unbind} or daxctl; the kmem side (src/kernel/dax/kmem.ts with
 * src/kernel/mm/memory_hotplug.ts) only uses this interface.
 */

/** One physical range of a device (struct dev_dax_range): [start, end] inclusive, as Linux keeps it. */
export interface DevDaxRange {
  readonly start: number;
  /** Inclusive end (range.end). */
  readonly end: number;
  /** Pages of the device before this range. */
  readonly pgoff: number;
}

/** struct dev_dax as a driver sees it. */
export interface DevDax {
  /** "dax0.0". */
  readonly name: string;
  readonly region_id: number;
  readonly id: number;
  /** dev_dax->target_node (the node the memory would online to). */
  readonly target_node: number;
  readonly align: number;
  /** Ranges in page-offset order. */
  readonly ranges: readonly DevDaxRange[];
  /** Total bytes (dev_dax_size). */
  readonly size: number;
  /** The bound driver's name, or null. */
  readonly driver: string | null;
  /** Driver-private data (dev_set_drvdata). */
  drvdata: unknown;
}

/** struct dax_device_driver: probe throws Errno to refuse the bind. */
export interface DaxDriver {
  /** "device_dax" or "kmem". */
  readonly name: string;
  probe(dev: DevDax): void;
  /** Unbind; throws Errno EBUSY when it cannot let go (kmem with online memory). */
  remove(dev: DevDax): void;
}

/** The dax bus (what kmem and the host wiring need of it). */
export interface DaxBus {
  /** dax_driver_register. */
  register_driver(drv: DaxDriver): void;
  /** Every dev_dax, in creation order. */
  devices(): readonly DevDax[];
}

/**
 * The dax sysfs ABI (Documentation/ABI/testing/sysfs-bus-dax; drivers/dax/bus.c
 * attribute groups dax_region_attribute_group, dev_dax_attribute_group,
 * dax_mapping_attribute_group with their is_visible rules; drivers/base/bus.c
 * bind/unbind; the pageless RFC's `map`).
 *
 * Layout, as on Linux (daxctl resolves /sys/bus/dax/devices/daxN.M with
 * realpath and takes its parent directory as the region path):
 *   /sys/devices/platform/hmem.R/dax_region/{available_size,size,align,create,seed,delete,id}
 *   /sys/devices/platform/hmem.R/daxR.M/{modalias,size,mapping,target_node,align,
 *        resource,numa_node,map,dev,driver@,subsystem@,mappingK/{start,end,page_offset}}
 *   /sys/bus/dax/devices/daxR.M@ → ../../../devices/platform/hmem.R/daxR.M
 *   /sys/bus/dax/drivers/NAME/{bind,unbind,new_id,remove_id,uevent,daxR.M@}
 *   /sys/dev/char/MAJ:MIN@ → ../../devices/platform/hmem.R/daxR.M (drivers/base/core.c
 *        device_create_sys_dev_entry; QEMU's get_file_size and libdaxctl go this way)
 * Device directories are dynamic children, so they appear and vanish with the
 * devices; `driver` exists only while bound.
 */
import { Errno } from '../../lib/errno.ts';
import { PseudoDir, PseudoSymlink } from '../fs/pseudo/index.ts';
import type { DaxBusImpl } from './bus.ts';
import type { DevDaxImpl } from './device.ts';
import type { DaxRegion } from './region.ts';

/** The path from a directory `depth` levels below /sys back up to /sys. */
function up(depth: number): string {
  return '../'.repeat(depth);
}

function depthOf(path: string): number {
  return path.split('/').filter(Boolean).length;
}

/** Build /sys/bus/dax and register each region's directory; `devt` gives "MAJ:MIN" of a device. */
export function register_dax_sysfs(sys: PseudoDir, bus: DaxBusImpl, devt: (dev: DevDaxImpl) => string): { addRegion(region: DaxRegion): void } {
  const devDirs = new WeakMap<DevDaxImpl, PseudoDir>();
  const busDir = sys.dir('bus/dax');
  busDir.file('drivers_autoprobe', { show: () => '1\n', store: () => undefined });
  busDir.file('drivers_probe', { store: () => undefined, mode: 0o200 });
  busDir.file('uevent', { store: () => undefined, mode: 0o200 });
  const devPath = (dev: DevDaxImpl): string => `${dev.region.devPath}/${dev.name}`;
  busDir.dir('devices').setDynamic({
    lookup: (name) => {
      const dev = bus.devices().find((d) => d.name === name);
      return dev ? new_symlink(`${up(3)}${devPath(dev)}`) : undefined;
    },
    list: () => bus.devices().map((d) => d.name),
  });
  // Other devices may list themselves in /sys/dev/char too: chain to what is there.
  const charDir = sys.dir('dev/char');
  const prevChar = charDir.dynamic;
  charDir.setDynamic({
    lookup: (name) => {
      const dev = bus.devices().find((d) => devt(d) === name);
      return dev ? new_symlink(`${up(2)}${devPath(dev)}`) : prevChar?.lookup(name);
    },
    list: () => [...(prevChar ? prevChar.list() : []), ...bus.devices().map(devt)],
  });
  const drivers = busDir.dir('drivers');
  drivers.setDynamic({
    lookup: (name) => (bus.drivers().some((d) => d.name === name) ? driverDir(name) : undefined),
    list: () => bus.drivers().map((d) => d.name),
  });
  const drvDirs = new Map<string, PseudoDir>();
  function driverDir(name: string): PseudoDir {
    let d = drvDirs.get(name);
    if (d) return d;
    d = new PseudoDir();
    d.file('bind', { store: (t) => bus.bind_store(name, t), mode: 0o200 });
    d.file('unbind', { store: (t) => bus.unbind_store(name, t), mode: 0o200 });
    d.file('new_id', { store: (t) => bus.id_store(name, t, true), mode: 0o200 });
    d.file('remove_id', { store: (t) => bus.id_store(name, t, false), mode: 0o200 });
    d.file('uevent', { store: () => undefined, mode: 0o200 });
    d.setDynamic({
      lookup: (n) => {
        const dev = bus.devices().find((x) => x.name === n && x.driver === name);
        return dev ? new_symlink(`${up(4)}${devPath(dev)}`) : undefined;
      },
      list: () => bus.devices().filter((x) => x.driver === name).map((x) => x.name),
    });
    drvDirs.set(name, d);
    return d;
  }

  function deviceDir(dev: DevDaxImpl): PseudoDir {
    let d = devDirs.get(dev);
    if (d) return d;
    d = new PseudoDir();
    const st = dev.region.isStatic;
    const depth = depthOf(devPath(dev));
    d.file('modalias', { show: () => 'dax:t0*\n' });
    d.file('size', { show: () => `${dev.size}\n`, ...(st ? {} : { store: (t: string) => bus.size_store(dev, t) }) });
    if (!st) d.file('mapping', { store: (t) => bus.mapping_store(dev, t), mode: 0o200 });
    if (dev.target_node >= 0) d.file('target_node', { show: () => `${dev.target_node}\n` });
    d.file('align', { show: () => `${dev.align}\n`, ...(st ? {} : { store: (t: string) => bus.align_store(dev, t) }) });
    d.file('resource', { show: () => `0x${(dev.ranges[0]?.start ?? dev.region.start).toString(16)}\n`, mode: 0o400 });
    d.file('numa_node', { show: () => `${Math.max(dev.target_node, 0)}\n` });
    d.file('map', { show: () => (dev.map ? '1\n' : '0\n'), store: (t) => bus.map_store(dev, t) });
    d.file('dev', { show: () => `${devt(dev)}\n` });
    d.file('uevent', { show: () => `MAJOR=${devt(dev).split(':')[0]}\nMINOR=${devt(dev).split(':')[1]}\nDEVNAME=${dev.name}\nMODALIAS=dax:t0*\n`, store: () => undefined });
    d.symlink('subsystem', `${up(depth)}bus/dax`);
    const mapDirs = new Map<number, PseudoDir>();
    const mapDir = (k: number): PseudoDir => {
      let m = mapDirs.get(k);
      if (m) return m;
      m = new PseudoDir();
      const range = (): { start: number; end: number; pgoff: number } => {
        const r = dev.ranges.find((x) => x.mapping === k);
        if (!r) throw new Errno('ENXIO');
        return r;
      };
      m.file('start', { show: () => `0x${range().start.toString(16)}\n`, mode: 0o400 });
      m.file('end', { show: () => `0x${range().end.toString(16)}\n`, mode: 0o400 });
      m.file('page_offset', { show: () => `0x${range().pgoff.toString(16)}\n`, mode: 0o400 });
      mapDirs.set(k, m);
      return m;
    };
    d.setDynamic({
      lookup: (n) => {
        if (n === 'driver') return dev.driver ? new_symlink(`${up(depth)}bus/dax/drivers/${dev.driver}`) : undefined;
        const m = /^mapping(\d+)$/.exec(n);
        if (m && dev.ranges.some((r) => r.mapping === Number(m[1]))) return mapDir(Number(m[1]));
        return undefined;
      },
      list: () => [...(dev.driver ? ['driver'] : []), ...dev.ranges.map((r) => `mapping${r.mapping}`)],
    });
    devDirs.set(dev, d);
    return d;
  }

  return {
    addRegion(region: DaxRegion): void {
      const parent = sys.dir(region.devPath);
      const rd = parent.dir('dax_region');
      const st = region.isStatic;
      if (!st) rd.file('available_size', { show: () => `${region.avail_size()}\n` });
      rd.file('size', { show: () => `${region.size}\n` });
      rd.file('align', { show: () => `${region.align}\n`, mode: 0o400 });
      if (!st) {
        rd.file('create', { show: () => `${region.youngest ?? ''}\n`, store: (t) => bus.create_store(region, t) });
        rd.file('seed', { show: () => `${region.seed ?? ''}\n` });
        rd.file('delete', { store: (t) => bus.delete_store(region, t), mode: 0o200 });
      }
      rd.file('id', { show: () => `${region.id}\n` });
      const prev = parent.dynamic;
      parent.setDynamic({
        lookup: (n) => {
          const dev = bus.region_devices(region).find((x) => x.name === n);
          return dev ? deviceDir(dev) : prev?.lookup(n);
        },
        list: () => [...(prev ? prev.list() : []), ...bus.region_devices(region).map((x) => x.name)],
      });
    },
  };
}

const links = new Map<string, PseudoSymlink>();

/** A symlink node for a dynamic lookup, the same object for the same target (so dentries stay valid). */
function new_symlink(target: string): PseudoSymlink {
  let l = links.get(target);
  if (!l) links.set(target, (l = new PseudoSymlink(target)));
  return l;
}

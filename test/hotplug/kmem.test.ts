/**
 * The kmem dax driver on the host's real dax bus: a 64 GiB, two-node host
 * (2 GiB memory blocks) with 16 GiB soft reserved at 16 GiB → dax0.0.
 *
 *   16G                                   32G
 *   |== dax0.0: memory8 .. memory15 ======|   "System RAM (kmem)" under "dax0.0"
 */
import { describe, expect, test } from 'vitest';
import { GiB } from '../../src/lib/size.ts';
import { ZONE_MOVABLE } from '../../src/kernel/mm/page_alloc.ts';
import { DaxKmemDriver, dax_kmem_range } from '../../src/kernel/dax/kmem.ts';
import type { DaxBus, DevDax } from '../../src/kernel/dax/api.ts';
import { bootDax } from '../dax/helpers.ts';
import { M, errno, get, kB, ls, put, readFile, small } from './helpers.ts';

function kmemBound() {
  const { host, task } = bootDax();
  put(task, '/sys/bus/dax/drivers/device_dax/unbind', 'dax0.0');
  // new_id attaches the now unbound device to kmem (driver_attach).
  put(task, '/sys/bus/dax/drivers/kmem/new_id', 'dax0.0');
  return { host, task };
}

describe('kmem on the dax bus', () => {
  test('bind: blocks added offline (auto_online_blocks=offline), resources nested under the device', () => {
    const { host, task } = kmemBound();
    expect(get(task, '/sys/devices/system/memory/block_size_bytes')).toBe('80000000');
    expect(readFile(task, '/proc/iomem')).toContain(
      '400000000-7ffffffff : Soft Reserved\n  400000000-7ffffffff : dax0.0\n    400000000-7ffffffff : System RAM (kmem)\n',
    );
    for (let id = 8; id < 16; id++) expect(get(task, M(id, 'state'))).toBe('offline');
    expect(get(task, M(8, 'valid_zones'))).toBe('Normal Movable');
    // 2 MiB of struct pages per 128 MiB section: 128 sections.
    expect(host.hotplug.nr_memmap_pages).toBe(128 * 512);
  });

  test('daxctl-style online_movable grows MemTotal by the device size; unbind with online blocks keeps them', () => {
    const { host, task } = kmemBound();
    const total = kB(task, 'MemTotal');
    for (let id = 8; id < 16; id++) put(task, M(id, 'state'), 'online_movable');
    expect(kB(task, 'MemTotal')).toBe(total + 16 * 1024 * 1024);
    expect(host.buddy.zone(0, ZONE_MOVABLE).managed_pages).toBe((16 * GiB) / 4096);
    put(task, '/sys/bus/dax/drivers/kmem/unbind', 'dax0.0');
    expect(host.log.render()).toContain('kmem dax0.0: mapping0: 0x400000000-0x7ffffffff cannot be hotremoved until the next reboot');
    expect(ls(task, '/sys/devices/system/memory')).toContain('memory8');
    expect(kB(task, 'MemTotal')).toBe(total + 16 * 1024 * 1024);
    // The range stays reserved: binding again cannot reserve it.
    expect(errno(() => put(task, '/sys/bus/dax/drivers/kmem/bind', 'dax0.0'))).toBe('EBUSY');
    expect(host.log.render()).toContain('kmem dax0.0: mapping0: 0x400000000-0x7ffffffff could not reserve region');
  });

  test('unbind with every block offline removes the memory and the resources', () => {
    const { host, task } = kmemBound();
    put(task, M(9, 'state'), 'online_movable');
    put(task, M(9, 'state'), 'offline');
    put(task, '/sys/bus/dax/drivers/kmem/unbind', 'dax0.0');
    expect(readFile(task, '/proc/iomem')).toContain('400000000-7ffffffff : Soft Reserved\n800000000');
    expect(ls(task, '/sys/devices/system/memory')).not.toContain('memory8');
    expect(host.hotplug.nr_memmap_pages).toBe(0);
    expect(errno(() => put(task, '/sys/bus/dax/drivers/kmem/bind', 'dax0.0'))).toBe('ok');
  });
});

/** A DevDax test double (the contract of api.ts only). */
function fakeDev(ranges: [number, number][], target_node = 0): DevDax {
  let pgoff = 0;
  return {
    name: 'dax9.0',
    region_id: 9,
    id: 0,
    target_node,
    align: 2 * 1024 * 1024,
    ranges: ranges.map(([s, len]) => {
      const r = { start: s, end: s + len - 1, pgoff };
      pgoff += len / 4096;
      return r;
    }),
    size: ranges.reduce((n, [, l]) => n + l, 0),
    driver: null,
    drvdata: null,
  };
}

describe('kmem against a test double (4 GiB host, 128 MiB blocks)', () => {
  const MB = 1024 * 1024;
  test('ranges are cut to whole blocks; too-small ranges are skipped; none left is EINVAL', () => {
    const { host } = small();
    const drv = new DaxKmemDriver(host.hotplug, host.mem.iomem, host.log);
    const bus: DaxBus = { register_driver: () => {}, devices: () => [] };
    bus.register_driver(drv);
    const dev = fakeDev([[16 * GiB + 64 * MB, 320 * MB], [20 * GiB, 64 * MB]]);
    expect(dax_kmem_range(dev, 0, 128 * MB)).toEqual({ start: 16 * GiB + 128 * MB, end: 16 * GiB + 384 * MB - 1 });
    expect(dax_kmem_range(dev, 1, 128 * MB)).toBeNull();
    drv.probe(dev);
    expect(host.log.render()).toContain('kmem dax9.0: mapping1: 0x500000000-0x503ffffff too small after alignment');
    expect(host.hotplug.subsys.ids().filter((id) => id >= 128)).toEqual([129, 130]);
    // success (1) < nr_range (2): the group and drvdata stay, as in Linux.
    drv.remove(dev);
    expect(host.hotplug.subsys.ids().filter((id) => id >= 128)).toEqual([]);
    expect(dev.drvdata).not.toBeNull();
    expect(errno(() => drv.probe(fakeDev([[20 * GiB, 64 * MB]])))).toBe('EINVAL');
    expect(errno(() => drv.probe(fakeDev([[20 * GiB, 128 * MB]], -1)))).toBe('EINVAL');
    expect(host.log.render()).toContain('kmem dax9.0: rejecting DAX region with invalid node: -1');
  });

  test('auto_online_blocks=online: probe onlines into the default zone', () => {
    const { host, task } = small();
    put(task, '/sys/devices/system/memory/auto_online_blocks', 'online');
    const drv = new DaxKmemDriver(host.hotplug, host.mem.iomem, host.log);
    const total = kB(task, 'MemTotal');
    drv.probe(fakeDev([[16 * GiB, 256 * 1024 * 1024]]));
    expect(get(task, M(128, 'state'))).toBe('online');
    expect(get(task, M(128, 'valid_zones'))).toBe('Normal');
    expect(kB(task, 'MemTotal')).toBe(total + 256 * 1024);
  });
});

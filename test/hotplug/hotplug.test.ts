/**
 * Memory hotplug on a 4 GiB host (128 MiB blocks): add_memory_driver_managed,
 * online to each zone, offline, remove, with the counters and files they move.
 *
 *   0         4G (RAM, boot blocks 0..)        16G      16G+128M  16G+256M
 *   |==========|  ...  hole  ...               |  blk 128 |  blk 129 |
 *                                              ^ HOT_BASE: "System RAM (test)"
 */
import { describe, expect, test } from 'vitest';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL, ZONE_MOVABLE, ZONE_NORMAL } from '../../src/kernel/mm/page_alloc.ts';
import { MMOP_ONLINE, MMOP_ONLINE_KERNEL, MMOP_ONLINE_MOVABLE } from '../../src/kernel/mm/memory_block.ts';
import { GiB } from '../../src/lib/size.ts';
import { probe_memory_block_size } from '../../src/kernel/mm/memory_hotplug.ts';
import { boot } from '../kernel/helpers.ts';
import { BLOCK, BLOCK_PAGES, HOT_BASE, M, blk, errno, get, kB, ls, put, readFile, small } from './helpers.ts';

const B0 = blk(HOT_BASE);
const PFN0 = HOT_BASE / 4096;

function added(nr = 2) {
  const { host, task } = small();
  const hp = host.hotplug;
  expect(hp.add_memory_driver_managed(0, HOT_BASE, nr * BLOCK, 'System RAM (test)', 0)).toBe(0);
  return { host, task, hp };
}

describe('probe_memory_block_size (arch/x86/mm/init_64.c)', () => {
  test('128 MiB below 64 GiB of boot memory end, 2 GiB on bare metal above, aligned size under a hypervisor', () => {
    expect(probe_memory_block_size(4 * GiB)).toBe(128 * 2 ** 20);
    expect(probe_memory_block_size(64 * GiB - 4096)).toBe(128 * 2 ** 20);
    expect(probe_memory_block_size(66 * GiB)).toBe(2 * GiB);
    expect(probe_memory_block_size(65 * GiB, true)).toBe(GiB);
    expect(probe_memory_block_size(64.5 * GiB, true)).toBe(512 * 2 ** 20);
  });

  test('block_size_bytes is hex without 0x', () => {
    const { task } = small();
    expect(get(task, '/sys/devices/system/memory/block_size_bytes')).toBe('8000000');
    expect(get(task, '/sys/devices/system/memory/auto_online_blocks')).toBe('offline');
  });
});

describe('boot parameters', () => {
  test('memhp_default_state= sets auto_online_blocks (unknown values ignored); movable_node makes Movable the default zone', () => {
    const { host, task } = boot({ mem: 4 * GiB, cmdline: 'memhp_default_state=online_kernel movable_node' });
    expect(get(task, '/sys/devices/system/memory/auto_online_blocks')).toBe('online_kernel');
    expect(readFile(task, '/proc/cmdline')).toContain('movable_node');
    host.hotplug.default_online_type = 0;
    expect(host.hotplug.add_memory_driver_managed(0, HOT_BASE, BLOCK, 'System RAM (t)', 0)).toBe(0);
    expect(get(task, M(B0, 'valid_zones'))).toBe('Movable Normal');
    const other = boot({ mem: 4 * GiB, cmdline: 'memhp_default_state=sometimes' });
    expect(get(other.task, '/sys/devices/system/memory/auto_online_blocks')).toBe('offline');
  });
});

describe('boot memory blocks', () => {
  test('every present block is online in its zone; block 0 spans DMA and DMA32', () => {
    const { host, task } = small();
    const names = ls(task, '/sys/devices/system/memory');
    expect(names.slice(0, 3)).toEqual(['block_size_bytes', 'auto_online_blocks', 'memory0']);
    expect(names.length - 2).toBe(host.hotplug.subsys.size);
    expect(get(task, M(0, 'state'))).toBe('online');
    expect(get(task, M(0, 'valid_zones'))).toBe('none');
    expect(get(task, M(1, 'valid_zones'))).toBe('DMA32');
    expect(get(task, M(1, 'phys_index'))).toBe('00000001');
    expect(get(task, M(1, 'removable'))).toBe('1');
    expect(get(task, M(1, 'phys_device'))).toBe('0');
    expect(get(task, M(1, 'online'))).toBe('1');
    expect(ls(task, M(1, '')).includes('node0')).toBe(true);
    expect(ls(task, '/sys/devices/system/node/node0').includes('memory1')).toBe(true);
  });

  test('offline of a boot block: EINVAL for block 0 (no single zone), EBUSY with the kernel image, EINVAL when already offline', () => {
    const { task } = small();
    expect(errno(() => put(task, M(0, 'state'), 'offline'))).toBe('EINVAL');
    // The kernel image at 16 MiB..: block 0. Memmap is in the top blocks of node 0.
    const top = Math.max(...ls(task, '/sys/devices/system/memory').filter((n) => n.startsWith('memory')).map((n) => Number(n.slice(6))));
    expect(errno(() => put(task, M(top, 'state'), 'offline'))).toBe('EBUSY');
    expect(get(task, M(top, 'state'))).toBe('online');
  });

  test('a free boot block can go offline and online again (MemTotal follows)', () => {
    const { task } = small();
    const before = kB(task, 'MemTotal');
    expect(errno(() => put(task, M(3, 'state'), 'offline'))).toBe('ok');
    expect(kB(task, 'MemTotal')).toBe(before - BLOCK / 1024);
    expect(get(task, M(3, 'valid_zones'))).toBe('DMA32 Movable');
    expect(errno(() => put(task, M(3, 'state'), 'offline'))).toBe('EINVAL');
    expect(errno(() => put(task, M(3, 'online'), '1'))).toBe('ok');
    expect(get(task, M(3, 'valid_zones'))).toBe('DMA32');
    expect(kB(task, 'MemTotal')).toBe(before);
  });
});

describe('add_memory_driver_managed', () => {
  test('resource, offline blocks, struct pages charged to the page allocator, MemTotal unchanged', () => {
    const { host, task } = small();
    const total = kB(task, 'MemTotal');
    const free = kB(task, 'MemFree');
    expect(host.hotplug.add_memory_driver_managed(0, HOT_BASE, 2 * BLOCK, 'System RAM (test)', 0)).toBe(0);
    expect(readFile(task, '/proc/iomem')).toContain('400000000-40fffffff : System RAM (test)\n');
    expect(get(task, M(B0, 'state'))).toBe('offline');
    expect(get(task, M(B0 + 1, 'valid_zones'))).toBe('Normal Movable');
    expect(host.mem.sparse.pfn_valid(PFN0)).toBe(true);
    expect(host.mem.sparse.pfn_valid(PFN0 + 2 * BLOCK_PAGES)).toBe(false);
    expect(kB(task, 'MemTotal')).toBe(total);
    // vmemmap_populate: 2 MiB of struct pages per 128 MiB section, from the buddy allocator.
    expect(host.hotplug.nr_memmap_pages).toBe(1024);
    expect(kB(task, 'MemFree')).toBe(free - 4096);
  });

  test('errors: name not "System RAM (...)", unaligned, overlapping RAM, taken', () => {
    const { host } = small();
    const hp = host.hotplug;
    expect(hp.add_memory_driver_managed(0, HOT_BASE, BLOCK, 'kmem', 0)).toBe(-22);
    expect(hp.add_memory_driver_managed(0, HOT_BASE + 4096, BLOCK, 'System RAM (t)', 0)).toBe(-22);
    expect(hp.add_memory_driver_managed(0, BLOCK, BLOCK, 'System RAM (t)', 0)).toBe(-17);
    expect(hp.add_memory_driver_managed(5, HOT_BASE, BLOCK, 'System RAM (t)', 0)).toBe(-22);
    expect(hp.add_memory_driver_managed(0, HOT_BASE, BLOCK, 'System RAM (t)', 0)).toBe(0);
    expect(hp.add_memory_driver_managed(0, HOT_BASE, BLOCK, 'System RAM (t)', 0)).toBe(-17);
  });

  test('auto_online_blocks=online_movable onlines at add; bad values are EINVAL', () => {
    const { host, task } = small();
    expect(errno(() => put(task, '/sys/devices/system/memory/auto_online_blocks', 'movable'))).toBe('EINVAL');
    put(task, '/sys/devices/system/memory/auto_online_blocks', 'online_movable\n');
    expect(get(task, '/sys/devices/system/memory/auto_online_blocks')).toBe('online_movable');
    expect(host.hotplug.add_memory_driver_managed(0, HOT_BASE, BLOCK, 'System RAM (t)', 0)).toBe(0);
    expect(get(task, M(B0, 'state'))).toBe('online');
    expect(get(task, M(B0, 'valid_zones'))).toBe('Movable');
  });
});

describe('online and offline', () => {
  test('online_movable: Movable zone appears in /proc/buddyinfo, MemTotal and node MemTotal grow', () => {
    const { host, task } = added();
    const total = kB(task, 'MemTotal');
    const node = kB(task, 'MemTotal', '/sys/devices/system/node/node0/meminfo');
    expect(readFile(task, '/proc/buddyinfo')).not.toContain('Movable');
    put(task, M(B0, 'state'), 'online_movable');
    expect(kB(task, 'MemTotal')).toBe(total + BLOCK / 1024);
    expect(kB(task, 'MemTotal', '/sys/devices/system/node/node0/meminfo')).toBe(node + BLOCK / 1024);
    expect(readFile(task, '/proc/buddyinfo')).toContain(
      'Node 0, zone  Movable      0      0      0      0      0      0      0      0      0      0     32 \n',
    );
    const z = host.buddy.zone(0, ZONE_MOVABLE);
    expect([z.zone_start_pfn, z.spanned_pages, z.present_pages, z.managed_pages]).toEqual([PFN0, BLOCK_PAGES, BLOCK_PAGES, BLOCK_PAGES]);
    // The next block touches neither span (Movable ends where it starts): the default stays the kernel zone.
    expect(get(task, M(B0 + 1, 'valid_zones'))).toBe('Normal Movable');
    expect(errno(() => put(task, M(B0, 'state'), 'online'))).toBe('EINVAL');
    expect(errno(() => put(task, M(B0, 'state'), 'online_kernel'))).toBe('EINVAL');
    expect(errno(() => put(task, M(B0, 'state'), 'bogus'))).toBe('EINVAL');
  });

  test('kernel allocations never use ZONE_MOVABLE; GFP_HIGHUSER_MOVABLE tries it first', () => {
    const { host, task } = added();
    put(task, M(B0, 'state'), 'online_movable');
    const mov = host.buddy.zone(0, ZONE_MOVABLE);
    const k = host.buddy.alloc_pages(GFP_KERNEL, 0, 0);
    expect(host.buddy.zone_of(k)!.idx).not.toBe(ZONE_MOVABLE);
    const u = host.buddy.alloc_pages(GFP_HIGHUSER_MOVABLE, 0, 0);
    expect(host.buddy.zone_of(u)).toBe(mov);
    expect(u).toBeGreaterThanOrEqual(PFN0);
  });

  test('online_kernel → Normal (zone span grows to the hot block); "online" then inherits Normal next to it', () => {
    const { host, task } = added(3);
    put(task, M(B0, 'state'), 'online_kernel');
    const n = host.buddy.zone(0, ZONE_NORMAL);
    expect(n.zone_end_pfn).toBe(PFN0 + BLOCK_PAGES);
    expect(get(task, M(B0, 'valid_zones'))).toBe('Normal');
    expect(host.hotplug.zone_for_pfn_range(MMOP_ONLINE, 0, null, PFN0 + BLOCK_PAGES, BLOCK_PAGES)).toBe(n);
    put(task, M(B0 + 2, 'state'), 'online_movable');
    // Block 1 lies inside Normal's span only: "online" keeps Normal; kernel/movable as asked.
    expect(get(task, M(B0 + 1, 'valid_zones'))).toBe('Normal Movable');
    expect(host.hotplug.zone_for_pfn_range(MMOP_ONLINE_KERNEL, 0, null, PFN0 + BLOCK_PAGES, BLOCK_PAGES)).toBe(n);
    expect(host.hotplug.zone_for_pfn_range(MMOP_ONLINE_MOVABLE, 0, null, PFN0 + BLOCK_PAGES, BLOCK_PAGES).idx).toBe(ZONE_MOVABLE);
  });

  test('offline: EBUSY while a page is allocated (no migration); then the Movable line goes', () => {
    const { host, task, hp } = added();
    put(task, M(B0, 'state'), 'online_movable');
    const total = kB(task, 'MemTotal');
    const u = host.buddy.alloc_pages(GFP_HIGHUSER_MOVABLE, 0, 0);
    expect(errno(() => put(task, M(B0, 'state'), 'offline'))).toBe('EBUSY');
    expect(hp.last_offline_failure).toBe('memory offlining [mem 0x400000000-0x407ffffff] failed due to unmovable page');
    expect(get(task, M(B0, 'state'))).toBe('online');
    host.buddy.free_pages(u, 0);
    expect(errno(() => put(task, M(B0, 'online'), '0'))).toBe('ok');
    expect(kB(task, 'MemTotal')).toBe(total - BLOCK / 1024);
    expect(readFile(task, '/proc/buddyinfo')).not.toContain('Movable');
    const z = host.buddy.zone(0, ZONE_MOVABLE);
    expect([z.spanned_pages, z.present_pages, z.managed_pages, z.free_pages]).toEqual([0, 0, 0, 0]);
    expect(host.buddy.is_free_buddy_page(PFN0)).toBe(false);
    expect(errno(() => put(task, M(B0, 'online'), 'off'))).toBe('ok');
    expect(errno(() => put(task, M(B0, 'online'), 'x'))).toBe('EINVAL');
  });
});

describe('remove_memory', () => {
  test('EBUSY with a warning while a block is online; after offline, blocks, struct pages and the resource go', () => {
    const { host, task, hp } = added();
    const free0 = kB(task, 'MemFree');
    put(task, M(B0 + 1, 'state'), 'online');
    expect(hp.remove_memory(HOT_BASE, 2 * BLOCK)).toBe(-16);
    expect(host.log.render()).toContain('removing memory fails, because memory [0x0000000408000000-0x000000040fffffff] is onlined');
    put(task, M(B0 + 1, 'state'), 'offline');
    expect(hp.remove_memory(HOT_BASE, 2 * BLOCK)).toBe(0);
    expect(readFile(task, '/proc/iomem')).not.toContain('System RAM (test)');
    expect(ls(task, '/sys/devices/system/memory')).not.toContain(`memory${B0}`);
    expect(host.mem.sparse.pfn_valid(PFN0)).toBe(false);
    expect(hp.nr_memmap_pages).toBe(0);
    expect(kB(task, 'MemFree')).toBe(free0 + 4096);
    // The range can be added again.
    expect(hp.add_memory_driver_managed(0, HOT_BASE, 2 * BLOCK, 'System RAM (test)', 0)).toBe(0);
  });
});

/**
 * struct pages of a bound device (memremap_pages), per costs.md:
 *   align 4K: 16 MiB per GiB; 2M (compound, dedup): 4 MiB per GiB (2 of 8 vmemmap
 *   pages per 2M); 1G: 8 KiB per GiB (2 of 4096 per 1G); map=0: nothing.
 * The vmemmap comes from the page allocator at bind and goes back at unbind.
 */
import { describe, expect, test } from 'vitest';
import { GiB, KiB, MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { dax_drvdata } from '../../src/kernel/dax/cdev.ts';
import { vmemmap_bytes } from '../../src/kernel/dax/pagemap.ts';
import { D, bootDax, enable, put } from './helpers.ts';

describe('vmemmap_bytes', () => {
  test.each([
    [PAGE_SIZE, true, 16 * MiB],
    [2 * MiB, true, 4 * MiB],
    [GiB, true, 8 * KiB],
    [2 * MiB, false, 0],
  ])('align %d map=%s: %d bytes per GiB', (align, map, bytes) => {
    expect(vmemmap_bytes(GiB, align, map)).toBe(bytes);
  });
});

describe('bind and unbind move the vmemmap in and out of MemFree', () => {
  test.each([
    [PAGE_SIZE, true, 4 * 16 * MiB],
    [2 * MiB, true, 4 * 4 * MiB],
    [GiB, true, 4 * 8 * KiB],
    [GiB, false, 0],
  ])('4 GiB device, align %d map=%s', (align, map, bytes) => {
    const { host, task } = bootDax();
    const drv = '/sys/bus/dax/drivers/device_dax';
    put(task, drv + '/unbind', 'dax0.0');
    put(task, D('dax0.0') + '/size', '0');
    put(task, D('dax0.0') + '/align', String(align));
    put(task, D('dax0.0') + '/size', String(4 * GiB));
    if (!map) put(task, D('dax0.0') + '/map', '0');
    const free0 = host.buddy.nr_free_pages();
    const pfn = 0x400000000 / PAGE_SIZE;
    expect(host.mem.sparse.pfn_valid(pfn)).toBe(false);
    enable(task, 'dax0.0');
    const dev = host.fs.dax.bus.find('dax0.0')!;
    expect(dax_drvdata(dev)!.pgmap?.vmemmapBytes ?? 0).toBe(bytes);
    expect((free0 - host.buddy.nr_free_pages()) * PAGE_SIZE).toBe(bytes);
    expect(host.mem.sparse.pfn_valid(pfn)).toBe(map);
    put(task, drv + '/unbind', 'dax0.0');
    expect(host.buddy.nr_free_pages()).toBe(free0);
    expect(host.mem.sparse.pfn_valid(pfn)).toBe(false);
  });
});

/** kvzalloc/kvfree: metadata pages come from the buddy allocator and show in /proc/meminfo. */
import { describe, expect, it } from 'vitest';
import { KernelAllocator } from '../../src/kernel/mm/kalloc.ts';
import { boot, meminfo } from './helpers.ts';

describe('kvzalloc', () => {
  it('small requests are kmalloc (Slab), large ones vmalloc (VmallocUsed); kvfree gives all back', () => {
    const { host, task } = boot();
    const ka = new KernelAllocator(host.kmem);
    const free0 = meminfo(task, 'MemFree');
    const small = ka.kvzalloc(100, 0);
    const mid = ka.kvzalloc(6000, 0);
    const big = ka.kvzalloc(64 * 1024 + 1, 0);
    expect(meminfo(task, 'Slab')).toBe(4 + 8);
    expect(meminfo(task, 'SUnreclaim')).toBe(12);
    expect(meminfo(task, 'VmallocUsed')).toBe(17 * 4);
    expect(meminfo(task, 'MemFree')).toBe(free0 - 12 - 68);
    for (const h of [small, mid, big]) ka.kvfree(h);
    expect(meminfo(task, 'Slab')).toBe(0);
    expect(meminfo(task, 'VmallocUsed')).toBe(0);
    expect(meminfo(task, 'MemFree')).toBe(free0);
    expect(() => ka.kvfree(small)).toThrow(/bad handle/);
  });

  it('memory is zeroed even when the frames held old bytes', () => {
    const { host } = boot();
    const ka = new KernelAllocator(host.kmem);
    const h = ka.kvzalloc(4096, 0);
    ka.kvfree(h);
    const pfn = host.buddy.alloc_pages(0, 0, 0);
    host.dram.write(pfn * 4096, new Uint8Array([9, 9, 9]));
    host.buddy.__free_pages(pfn, 0);
    const before = host.dram.bytesZeroed;
    ka.kvzalloc(10, 0);
    expect(host.dram.bytesZeroed).toBe(before + 4096);
  });

  it('refuses a request it cannot satisfy', () => {
    const { host } = boot();
    expect(new KernelAllocator(host.kmem).kvzalloc(0, 0)).toBe(-1);
  });
});

/**
 * Buddy allocator geometry cases, in the style of Linux
 * tools/testing/memblock/tests/basic_api.c: a picture of the frames above each
 * case, exact free_area counts after each step.
 *
 * Pictures: one character per 1024-frame (order-10) block unless noted;
 * '.' free, '#' allocated, '|' zone boundary.
 */
import { frag_show } from '../../src/kernel/proc/buddyinfo.ts';
import { describe, expect, it } from 'vitest';
import { GiB, MiB, PAGE_SIZE, TiB } from '../../src/lib/size.ts';
import {
  GFP_DMA,
  GFP_DMA32,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  GFP_TRANSHUGE,
  MAX_PAGE_ORDER,
  NUMA_FOREIGN,
  NUMA_HIT,
  NUMA_MISS,
  NR_NUMA_STAT_ITEMS,
  PageAllocator,
  ZONE_DMA,
  ZONE_DMA32,
  ZONE_MOVABLE,
  ZONE_NORMAL,
  __GFP_HIGH,
  __GFP_THISNODE,
  gfp_zone,
  type Zone,
} from '../../src/kernel/mm/page_alloc.ts';
import { int_sqrt } from '../../src/kernel/mm/page_alloc_wmark.ts';

const pfn = (bytes: number): number => bytes / PAGE_SIZE;
const counts = (z: Zone): number[] => Array.from(z.nr_free);

/** One node, one Normal zone [start, end), all present. */
function oneZone(start: number, end: number): { pa: PageAllocator; z: Zone } {
  const pa = new PageAllocator(1);
  const z = pa.init_zone(0, ZONE_NORMAL, start, end, end - start);
  return { pa, z };
}

describe('gfp_zone', () => {
  it('picks the highest zone each request may use', () => {
    expect(gfp_zone(GFP_KERNEL)).toBe(ZONE_NORMAL);
    expect(gfp_zone(GFP_HIGHUSER_MOVABLE)).toBe(ZONE_MOVABLE);
    expect(gfp_zone(GFP_TRANSHUGE)).toBe(ZONE_MOVABLE);
    expect(gfp_zone(GFP_DMA)).toBe(ZONE_DMA);
    expect(gfp_zone(GFP_DMA32)).toBe(ZONE_DMA32);
    expect(() => gfp_zone(GFP_DMA | GFP_DMA32)).toThrow(/BUG/);
  });
});

describe('memblock_free_pages (boot release)', () => {
  /*
   * |....|   4 whole order-10 blocks, frames [0, 4096)
   */
  it('aligned range: whole blocks only', () => {
    const { pa, z } = oneZone(0, 4096);
    expect(pa.memblock_free_pages(0, 4096)).toBe(4096);
    expect(counts(z)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4]);
    expect(z.managed_pages).toBe(4096);
    expect(z.free_pages).toBe(4096);
    expect(pa.nr_free_pages()).toBe(4096);
    expect(pa.totalram_pages()).toBe(4096);
  });

  /*
   * frames:  0 1 2   4       8  ...  512    1024       2048
   *          x|o0|o1 |  o2   |  ...  | o9   |   o10    |
   * Frame 0 is reserved (like the BIOS page): [1, 2048) splits into
   * one block of every order 0..9 by alignment, then one order-10 block.
   */
  it('unaligned start: one block of every order', () => {
    const { pa, z } = oneZone(0, 2048);
    pa.memblock_free_pages(1, 2048);
    expect(counts(z)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(z.free_pages).toBe(2047);
  });

  /*
   * frames [0, 1024 + 7): one order-10 block, then 4 + 2 + 1 at the tail.
   */
  it('unaligned end: the tail splits by size', () => {
    const { pa, z } = oneZone(0, 2048);
    pa.memblock_free_pages(0, 1031);
    expect(counts(z)).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  /*
   * Two ranges that touch inside a block: [0, 700) and [700, 1024)
   * coalesce into one order-10 block.
   */
  it('adjacent partial ranges coalesce', () => {
    const { pa, z } = oneZone(0, 1024);
    pa.memblock_free_pages(0, 700);
    pa.memblock_free_pages(700, 1024);
    expect(counts(z)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  /*
   * DMA [0, 1536) | DMA32 [1536, 4096): the boundary cuts block 1 in half;
   * the halves are never merged across the zone boundary.
   * |.[.|.]..|
   */
  it('never merges across a zone boundary', () => {
    const pa = new PageAllocator(1);
    const dma = pa.init_zone(0, ZONE_DMA, 0, 1536, 1536);
    const dma32 = pa.init_zone(0, ZONE_DMA32, 1536, 4096, 2560);
    pa.memblock_free_pages(0, 4096);
    expect(counts(dma)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(counts(dma32)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
    expect(dma.managed_pages + dma32.managed_pages).toBe(4096);
  });

  it('rejects frames outside every zone and double release', () => {
    const { pa } = oneZone(1024, 2048);
    expect(() => pa.memblock_free_pages(0, 2048)).toThrow(/outside any zone/);
    pa.memblock_free_pages(1024, 2048);
    expect(() => pa.memblock_free_pages(1024, 2048)).toThrow(/Bad page state.*double free/);
    expect(() => pa.memblock_free_pages(1500, 1501)).toThrow(/double free/);
  });

  /*
   * 16 TiB, 2 nodes:
   * node 0: DMA [1, 16M) | DMA32 [16M, 4G) | Normal [4G, 8T)
   * node 1: Normal [8T, 16T)
   * memblock.memory minus a reserved hole [2G - 7 frames, 2G + 13 frames).
   */
  it('16 TiB across two nodes in O(ranges)', () => {
    const pa = new PageAllocator(2);
    const half = pfn(8 * TiB);
    const end = pfn(16 * TiB);
    pa.init_zone(0, ZONE_DMA, 1, pfn(16 * MiB), pfn(16 * MiB) - 1);
    pa.init_zone(0, ZONE_DMA32, pfn(16 * MiB), pfn(4 * GiB), pfn(4 * GiB) - pfn(16 * MiB));
    pa.init_zone(0, ZONE_NORMAL, pfn(4 * GiB), half, half - pfn(4 * GiB));
    pa.init_zone(1, ZONE_NORMAL, half, end, end - half);
    pa.memblock_free_pages(1, pfn(2 * GiB) - 7);
    pa.memblock_free_pages(pfn(2 * GiB) + 13, end);
    const total = end - 1 - 20;
    expect(pa.totalram_pages()).toBe(total);
    expect(pa.nr_free_pages()).toBe(total);
    expect(pa.node_managed_pages(0) + pa.node_managed_pages(1)).toBe(total);
    expect(pa.node_free_pages(1)).toBe(half);
    const [dma, dma32, normal0] = pa.zones(0);
    const normal1 = pa.zones(1)[ZONE_NORMAL]!;
    expect(counts(dma!)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3]);
    // DMA32: [4096, 2G-7) then [2G+13, 4G): 1 + 2 + 4 + 0... split by alignment.
    expect(dma32!.free_pages).toBe(pfn(4 * GiB) - pfn(16 * MiB) - 20);
    expect(dma32!.nr_free[MAX_PAGE_ORDER]).toBe((pfn(2 * GiB) - pfn(16 * MiB)) / 1024 - 1 + (pfn(2 * GiB)) / 1024 - 1);
    expect(normal0!.nr_free[MAX_PAGE_ORDER]).toBe((half - pfn(4 * GiB)) / 1024);
    expect(normal1.nr_free[MAX_PAGE_ORDER]).toBe(half / 1024);
    expect(normal1.runs.nr_runs).toBe(1);
    pa.init_per_zone_wmark_min();
    expect(pa.min_free_kbytes).toBe(262144);
    // A 1 GiB page on node 1, then back.
    const p = pa.alloc_contig_pages(pfn(GiB), 1);
    expect(p).toBe(half);
    expect(pa.node_free_pages(1)).toBe(half - pfn(GiB));
    pa.free_contig_range(p, pfn(GiB));
    expect(pa.node_free_pages(1)).toBe(half);
    expect(normal1.runs.nr_runs).toBe(1);
  });
});

describe('alloc_pages / __free_pages', () => {
  /*
   * frames [0, 2048): |..|  →  alloc order 0 takes frame 0 of block 0;
   * expand leaves one free block of each order 0..9 (1, 2, 4 ... 512).
   */
  it('splits the lowest order-10 block and merges it back', () => {
    const { pa, z } = oneZone(0, 2048);
    pa.memblock_free_pages(0, 2048);
    const a = pa.alloc_pages(GFP_KERNEL, 0, 0);
    expect(a).toBe(0);
    expect(counts(z)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const b = pa.alloc_pages(GFP_KERNEL, 0, 0);
    expect(b).toBe(1);
    expect(counts(z)).toEqual([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const c = pa.alloc_pages(GFP_KERNEL, 3, 0);
    expect(c).toBe(8);
    expect(counts(z)).toEqual([0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1]);
    pa.__free_pages(a, 0);
    expect(counts(z)).toEqual([1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1]);
    pa.__free_pages(b, 0);
    expect(counts(z)).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]); // 0+1 → o1, +2..3 → o2, +4..7 → o3; 8..15 is c
    pa.__free_pages(c, 3);
    expect(counts(z)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    expect(z.free_pages).toBe(2048);
    expect(z.pgalloc).toBe(10);
  });

  /*
   * 256 blocks drained frame by frame, then freed odd frames first, even frames
   * second: every block is split, emptied, refilled and merged again.
   */
  it('tracks (almost) nothing once fully allocated, and merges back to the boot state', () => {
    const { pa, z } = oneZone(0, 256 * 1024);
    pa.memblock_free_pages(0, 256 * 1024);
    const got = new Float64Array(256 * 1024);
    for (let i = 0; i < got.length; i++) got[i] = pa.alloc_pages(GFP_HIGHUSER_MOVABLE, 0, 0);
    expect(got[got.length - 1]).toBe(256 * 1024 - 1);
    expect(pa.alloc_pages(GFP_HIGHUSER_MOVABLE, 0, 0)).toBe(-1);
    expect(z.split.size).toBeLessThanOrEqual(64);
    for (let i = 1; i < got.length; i += 2) pa.__free_pages(got[i]!, 0);
    expect(counts(z)).toEqual([128 * 1024, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    for (let i = 0; i < got.length; i += 2) pa.__free_pages(got[i]!, 0);
    expect(counts(z)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 256]);
    expect(z.runs.nr_runs).toBe(1);
    expect(z.split.size).toBeLessThanOrEqual(64);
  });

  it('order 10 comes straight from the runs, lowest first', () => {
    const { pa, z } = oneZone(0, 4096);
    pa.memblock_free_pages(0, 4096);
    expect(pa.alloc_pages(GFP_KERNEL, 10, 0)).toBe(0);
    expect(pa.alloc_pages(GFP_KERNEL, 10, 0)).toBe(1024);
    pa.__free_pages(0, 10);
    expect(pa.alloc_pages(GFP_KERNEL, 10, 0)).toBe(0);
    expect(z.nr_free[10]).toBe(2);
    expect(pa.alloc_pages(GFP_KERNEL, 11, 0)).toBe(-1);
  });

  it('a block may be freed in naturally aligned parts (split_page)', () => {
    const { pa, z } = oneZone(0, 1024);
    pa.memblock_free_pages(0, 1024);
    const p = pa.alloc_pages(GFP_KERNEL, 2, 0);
    for (let i = 0; i < 4; i++) pa.__free_pages(p + i, 0);
    expect(counts(z)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('throws BUG on double free, unaligned free and frames outside any zone', () => {
    const { pa } = oneZone(1024, 3072);
    pa.memblock_free_pages(1024, 3072);
    const p = pa.alloc_pages(GFP_KERNEL, 1, 0);
    expect(() => pa.__free_pages(p + 1, 1)).toThrow(/Bad page state.*not aligned/);
    expect(() => pa.__free_pages(5, 0)).toThrow(/outside any zone/);
    expect(() => pa.__free_pages(p + 2, 0)).toThrow(/double free/); // its buddy half, still free
    expect(() => pa.__free_pages(2048, 10)).toThrow(/double free/);
    expect(() => pa.__free_pages(1024, 10)).toThrow(/double free/); // block holds free frames
    pa.__free_pages(p, 1);
    expect(() => pa.__free_pages(p, 0)).toThrow(/double free/);
    expect(() => pa.__free_pages(p, 1)).toThrow(/double free/);
    expect(pa.nr_free_pages()).toBe(2048);
  });
});

describe('zonelists and fallback', () => {
  /*
   * node 0: DMA [0, 1024) | DMA32 [1024, 3072) | Normal [3072, 4096)
   * node 1: Normal [4096, 6144)
   */
  function twoNodes(): PageAllocator {
    const pa = new PageAllocator(2);
    pa.init_zone(0, ZONE_DMA, 0, 1024, 1024);
    pa.init_zone(0, ZONE_DMA32, 1024, 3072, 2048);
    pa.init_zone(0, ZONE_NORMAL, 3072, 4096, 1024);
    pa.init_zone(1, ZONE_NORMAL, 4096, 6144, 2048);
    pa.memblock_free_pages(0, 6144);
    return pa;
  }

  it('builds zonelists node by node, zones from the highest allowed down', () => {
    const pa = twoNodes();
    const names = (gfp: number, nid: number): string[] => pa.zonelist(gfp, nid).map((z) => `${z.nid}:${z.name}`);
    expect(names(GFP_KERNEL, 0)).toEqual(['0:Normal', '0:DMA32', '0:DMA', '1:Normal']);
    expect(names(GFP_KERNEL, 1)).toEqual(['1:Normal', '0:Normal', '0:DMA32', '0:DMA']);
    expect(names(GFP_DMA32, 1)).toEqual(['0:DMA32', '0:DMA']);
    expect(names(GFP_KERNEL | __GFP_THISNODE, 1)).toEqual(['1:Normal']);
    pa.set_node_order(0, [1, 0]);
    expect(names(GFP_KERNEL, 0)).toEqual(['1:Normal', '0:Normal', '0:DMA32', '0:DMA']);
  });

  it('falls back to lower zones, then to the other node', () => {
    const pa = twoNodes();
    const got: number[] = [];
    for (let i = 0; i < 4; i++) got.push(pa.alloc_pages(GFP_KERNEL, 10, 0));
    // Normal (3072), then DMA32 (1024, 2048), then DMA (0); watermarks are 0 before init.
    expect(got).toEqual([3072, 1024, 2048, 0]);
    expect(pa.alloc_pages(GFP_KERNEL, 10, 0)).toBe(4096); // node 1
    const st = pa.numa_stat;
    expect(st[0 * NR_NUMA_STAT_ITEMS + NUMA_HIT]).toBe(4096);
    expect(st[1 * NR_NUMA_STAT_ITEMS + NUMA_MISS]).toBe(1024);
    expect(st[0 * NR_NUMA_STAT_ITEMS + NUMA_FOREIGN]).toBe(1024);
  });

  it('honours __GFP_THISNODE, nodemask, GFP_DMA', () => {
    const pa = twoNodes();
    expect(pa.alloc_pages(GFP_KERNEL | __GFP_THISNODE, 10, 1)).toBe(4096);
    expect(pa.alloc_pages(GFP_KERNEL | __GFP_THISNODE, 10, 1)).toBe(5120);
    expect(pa.alloc_pages(GFP_KERNEL | __GFP_THISNODE, 0, 1)).toBe(-1);
    expect(pa.alloc_failures).toBe(1);
    expect(pa.alloc_pages(GFP_KERNEL, 0, 1, [0])).toBe(3072);
    expect(pa.alloc_pages(GFP_DMA, 10, 1)).toBe(0);
    expect(pa.alloc_pages(GFP_DMA, 0, 1)).toBe(-1);
  });

  it('respects watermarks and lowmem_reserve once set up', () => {
    const pa = twoNodes();
    pa.init_per_zone_wmark_min();
    // 6144 managed pages = 24 MiB → int_sqrt(24576 * 16) = 627 KiB → 156 pages.
    expect(pa.min_free_kbytes).toBe(627);
    const normal1 = pa.zones(1)[ZONE_NORMAL]!;
    // min = 156 * 2048 / 6144 = 52; distance max(13, 2048 * 10 / 10000 = 2) = 13.
    expect(Array.from(normal1.watermark)).toEqual([52, 65, 78, 91]);
    const dma32 = pa.zones(0)[ZONE_DMA32]!;
    expect(Array.from(dma32.lowmem_reserve)).toEqual([0, 0, 4, 4]); // 1024 Normal pages / 256
    // Node 1 Normal holds 2048 free; low is 65: order-10 takes 1024 (2048-1023 > 65), a second would leave 0.
    expect(pa.alloc_pages(GFP_KERNEL | __GFP_THISNODE, 10, 1)).toBe(4096);
    expect(pa.alloc_pages(GFP_KERNEL | __GFP_THISNODE, 10, 1)).toBe(-1);
    // Order 0 can go down to min (52): 1024 - 52 = 972 allocations, half of min more with __GFP_HIGH.
    let n = 0;
    while (pa.alloc_pages(GFP_KERNEL | __GFP_THISNODE, 0, 1) >= 0) n++;
    expect(n).toBe(1024 - 52);
    let h = 0;
    while (pa.alloc_pages(GFP_KERNEL | __GFP_THISNODE | __GFP_HIGH, 0, 1) >= 0) h++;
    expect(h).toBe(26);
    expect(pa.totalreserve_pages).toBeGreaterThan(0);
  });
});

describe('watermark arithmetic', () => {
  it('int_sqrt and the kernel table (16 MiB → 512k ... 16 GiB → 16384k)', () => {
    expect(int_sqrt(16 * 1024 * 16)).toBe(512);
    expect(int_sqrt(16384 * 1024 * 16)).toBe(16384);
    const pa = new PageAllocator(1);
    pa.init_zone(0, ZONE_NORMAL, 0, pfn(16 * GiB), pfn(16 * GiB));
    pa.memblock_free_pages(0, pfn(16 * GiB));
    pa.init_per_zone_wmark_min();
    expect(pa.min_free_kbytes).toBe(16384);
    const z = pa.zones(0)[ZONE_NORMAL]!;
    // min 4096 pages; distance max(1024, 4194304 * 10 / 10000 = 4194) = 4194.
    expect(Array.from(z.watermark)).toEqual([4096, 8290, 12484, 16678]);
    pa.set_min_free_kbytes(65536);
    expect(z.wmark_min).toBe(16384);
  });
});

describe('alloc_contig_pages / free_contig_range', () => {
  /*
   * 4 GiB Normal starting at 1 MiB: the first 1 GiB-aligned free range is at 1 GiB.
   * |x|..........| ...  (1 GiB = 256 blocks)
   */
  it('finds a naturally aligned 1 GiB range of free blocks', () => {
    const start = pfn(MiB);
    const { pa, z } = oneZone(start, pfn(4 * GiB));
    pa.memblock_free_pages(start, pfn(4 * GiB));
    const g = pa.alloc_contig_pages(pfn(GiB), 0);
    expect(g).toBe(pfn(GiB));
    const g2 = pa.alloc_contig_pages(pfn(GiB), 0);
    expect(g2).toBe(pfn(2 * GiB));
    expect(pa.alloc_contig_pages(pfn(GiB), 0)).toBe(pfn(3 * GiB));
    expect(pa.alloc_contig_pages(pfn(GiB), 0)).toBe(-1); // [1M, 1G) is not aligned
    expect(z.free_pages).toBe(pfn(GiB) - start);
    pa.free_contig_range(g2, pfn(GiB));
    // One frame of a 1 GiB range in use stops the next search there.
    const p = pa.alloc_pages(GFP_KERNEL, 0, 0);
    expect(p).toBe(start);
    pa.__free_pages(p, 0);
    pa.free_contig_range(g, pfn(GiB) / 2);
    pa.free_contig_range(g + pfn(GiB) / 2, pfn(GiB) / 2);
    expect(z.free_pages).toBe(pfn(4 * GiB) - start - pfn(GiB));
    expect(() => pa.free_contig_range(g, 1)).toThrow(/double free/);
  });

  it('takes a free frame off the buddy (memory_failure)', () => {
    const { pa, z } = oneZone(0, 1024);
    pa.memblock_free_pages(0, 1024);
    expect(pa.take_page_off_buddy(5)).toBe(true);
    expect(pa.take_page_off_buddy(5)).toBe(false);
    expect(pa.is_free_buddy_page(5)).toBe(false);
    expect(pa.is_free_buddy_page(4)).toBe(true);
    // 1024 - 1 free: 4 (o0), 6 (o1), 0 (o2), 8 (o3) ... 512 (o9)
    expect(counts(z)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    expect(pa.nr_free_pages()).toBe(1023);
    pa.__free_pages(5, 0);
    expect(counts(z)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });
});

describe('/proc/buddyinfo', () => {
  it('prints populated zones with the kernel field widths', () => {
    const pa = new PageAllocator(2);
    pa.init_zone(0, ZONE_DMA, 1, 4096, 3998);
    pa.init_zone(0, ZONE_DMA32, 4096, 8192, 4096);
    pa.init_zone(0, ZONE_MOVABLE, 0, 0, 0);
    pa.init_zone(1, ZONE_NORMAL, 8192, 10240, 2048);
    pa.memblock_free_pages(1, 10240);
    expect(frag_show(pa)).toBe(
      'Node 0, zone      DMA      1      1      1      1      1      1      1      1      1      1      3 \n' +
        'Node 0, zone    DMA32      0      0      0      0      0      0      0      0      0      0      4 \n' +
        'Node 1, zone   Normal      0      0      0      0      0      0      0      0      0      0      2 \n',
    );
  });
});

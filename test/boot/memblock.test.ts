import { describe, it, expect } from 'vitest';
import {
  MAX_NUMNODES,
  MEMBLOCK_ALLOC_ACCESSIBLE,
  MEMBLOCK_HOTPLUG,
  MEMBLOCK_MIRROR,
  MEMBLOCK_NOMAP,
  Memblock,
  NUMA_NO_NODE,
  PHYS_ADDR_MAX,
} from '../../src/kernel/mm/memblock.ts';
import { KernelLog } from '../../src/kernel/printk.ts';
import { GiB, KiB, MiB } from '../../src/lib/size.ts';

const SZ_4K = 4 * KiB;
const SZ_8K = 8 * KiB;
const SZ_16K = 16 * KiB;
const rgns = (mb: Memblock, t: 'memory' | 'reserved' = 'memory'): [number, number][] =>
  mb[t].regions.map((r) => [r.base, r.size]);
const free = (mb: Memblock, nid = NUMA_NO_NODE, reverse = false): [number, number][] =>
  [...mb.free_mem_ranges(nid, reverse)].map((r) => [r.start, r.end]);

describe('memblock_add', () => {
  it('simple: one region, counters updated', () => {
    const mb = new Memblock();
    mb.add(GiB, 4 * MiB);
    expect(mb.memory.regions).toEqual([{ base: GiB, size: 4 * MiB, flags: 0, nid: MAX_NUMNODES }]);
    expect(mb.memory.cnt).toBe(1);
    expect(mb.memory.total_size).toBe(4 * MiB);
  });

  it('add_node: nid and flags recorded', () => {
    const mb = new Memblock();
    mb.add_node(MiB, 16 * MiB, 1, MEMBLOCK_HOTPLUG);
    expect(mb.memory.regions).toEqual([{ base: MiB, size: 16 * MiB, flags: MEMBLOCK_HOTPLUG, nid: 1 }]);
  });

  /*
   *  |        +--------+        +--------+  |
   *  |        |   r1   |        |   r2   |  |
   *  +--------+--------+--------+--------+--+
   */
  it('disjoint: two entries', () => {
    const mb = new Memblock();
    mb.add(GiB, SZ_8K);
    mb.add(GiB + SZ_16K, SZ_8K);
    expect(rgns(mb)).toEqual([
      [GiB, SZ_8K],
      [GiB + SZ_16K, SZ_8K],
    ]);
    expect(mb.memory.total_size).toBe(2 * SZ_8K);
  });

  /*
   *  |    +----+----+------------+          |
   *  |    |    |r2  |   r1       |          |
   *  +----+----+----+------------+----------+
   */
  it('overlap top: r2 below r1 → one merged region', () => {
    const mb = new Memblock();
    mb.add(512 * MiB, GiB);
    mb.add(256 * MiB, 512 * MiB);
    expect(rgns(mb)).toEqual([[256 * MiB, 256 * MiB + GiB]]);
    expect(mb.memory.total_size).toBe(256 * MiB + GiB);
  });

  /*
   *  |  +--+------+----------+              |
   *  |  |  | r1   | r2       |              |
   *  +--+--+------+----------+--------------+
   */
  it('overlap bottom: r2 over r1’s end → one merged region', () => {
    const mb = new Memblock();
    mb.add(128 * MiB, 512 * MiB);
    mb.add(256 * MiB, GiB);
    expect(rgns(mb)).toEqual([[128 * MiB, 128 * MiB + GiB]]);
  });

  /*
   *  |   +-------+--+-----------------------+
   *  |   |       |r2|      r1               |
   *  +---+-------+--+-----------------------+
   */
  it('within, and twice: nothing changes', () => {
    const mb = new Memblock();
    mb.add(8 * MiB, 32 * MiB);
    mb.add(16 * MiB, MiB);
    mb.add(8 * MiB, 32 * MiB);
    expect(rgns(mb)).toEqual([[8 * MiB, 32 * MiB]]);
    expect(mb.memory.total_size).toBe(32 * MiB);
  });

  /*
   *  | r1 (nid 0) | r2 (nid 1) | r3 (nid 0) |   adjacent, different nid: no merge
   */
  it('adjacent regions merge only with equal nid and flags', () => {
    const mb = new Memblock();
    mb.add_node(0, MiB, 0);
    mb.add_node(MiB, MiB, 1);
    mb.add_node(2 * MiB, MiB, 0);
    mb.add_node(3 * MiB, MiB, 0, MEMBLOCK_HOTPLUG);
    expect(mb.memory.cnt).toBe(4);
    mb.set_node(MiB, MiB, 0);
    expect(mb.memory.regions.map((r) => [r.base, r.size, r.nid, r.flags])).toEqual([
      [0, 3 * MiB, 0, 0],
      [3 * MiB, MiB, 0, MEMBLOCK_HOTPLUG],
    ]);
  });

  /*
   *  existing:      |   r1 (nid 1)   |        |  r2 (nid 1) |
   *  add (nid 2): |--------------------------------------------|
   *  result: only the uncovered pieces get nid 2
   */
  it('overlapping add keeps existing regions, fills the gaps with the new nid', () => {
    const mb = new Memblock();
    mb.add_node(2 * MiB, 2 * MiB, 1);
    mb.add_node(6 * MiB, 2 * MiB, 1);
    mb.add_node(MiB, 8 * MiB, 2);
    expect(mb.memory.regions.map((r) => [r.base, r.size, r.nid])).toEqual([
      [MiB, MiB, 2],
      [2 * MiB, 2 * MiB, 1],
      [4 * MiB, 2 * MiB, 2],
      [6 * MiB, 2 * MiB, 1],
      [8 * MiB, MiB, 2],
    ]);
    expect(mb.memory.total_size).toBe(8 * MiB);
  });

  it('bad inputs: size 0 is a no-op, sizes are capped at PHYS_ADDR_MAX, NaN/negative refused', () => {
    const mb = new Memblock();
    expect(mb.add(MiB, 0)).toBe(0);
    expect(mb.memory.cnt).toBe(0);
    expect(mb.add(PHYS_ADDR_MAX - MiB, 2 * MiB)).toBe(0);
    expect(rgns(mb)).toEqual([[PHYS_ADDR_MAX - MiB, MiB]]);
    expect(mb.add(Number.NaN, MiB)).toBe(-22);
    expect(mb.reserve(0, -1)).toBe(-22);
    expect(mb.remove(0, Infinity)).toBe(0);
    expect(mb.memory.cnt).toBe(0);
    expect(mb.memory.total_size).toBe(0);
  });
});

describe('memblock_remove / memblock_phys_free', () => {
  /*
   *  |  ......          +----------------+  |
   *  |  : r1 :          |       r2       |  |
   *  +--+----+----------+----------------+--+
   */
  it('simple: removing r1 leaves r2', () => {
    const mb = new Memblock();
    mb.add(2 * KiB, SZ_4K);
    mb.add(128 * KiB, 4 * MiB);
    mb.remove(2 * KiB, SZ_4K);
    expect(rgns(mb)).toEqual([[128 * KiB, 4 * MiB]]);
    expect(mb.memory.total_size).toBe(4 * MiB);
  });

  it('absent: nothing changes', () => {
    const mb = new Memblock();
    mb.add(512 * KiB, 4 * MiB);
    mb.remove(64 * MiB, GiB);
    expect(rgns(mb)).toEqual([[512 * KiB, 4 * MiB]]);
  });

  /*
   *  |    +-----------+        remove |.....|  within r1
   *  |    | r1  |.....|  r1   |
   *  → two regions around the hole
   */
  it('within: splits the region in two', () => {
    const mb = new Memblock();
    mb.add(GiB, 256 * MiB);
    mb.remove(GiB + 64 * MiB, 64 * MiB);
    expect(rgns(mb)).toEqual([
      [GiB, 64 * MiB],
      [GiB + 128 * MiB, 128 * MiB],
    ]);
    expect(mb.memory.total_size).toBe(192 * MiB);
  });

  /*
   *  | r1 |   | r2 |   | r3 |      remove |..............|  from inside r1 to inside r3
   */
  it('across several regions: trims the ends, drops the middle', () => {
    const mb = new Memblock();
    mb.add(0, 4 * MiB);
    mb.add(8 * MiB, 4 * MiB);
    mb.add(16 * MiB, 4 * MiB);
    mb.remove(2 * MiB, 16 * MiB);
    expect(rgns(mb)).toEqual([
      [0, 2 * MiB],
      [18 * MiB, 2 * MiB],
    ]);
  });

  it('phys_free un-reserves, possibly splitting a reservation', () => {
    const mb = new Memblock();
    mb.reserve(MiB, 8 * MiB);
    mb.phys_free(2 * MiB, MiB);
    expect(rgns(mb, 'reserved')).toEqual([
      [MiB, MiB],
      [3 * MiB, 6 * MiB],
    ]);
    expect(mb.reserved_size()).toBe(7 * MiB);
  });
});

describe('free ranges and allocation', () => {
  /*
   *  memory:   |0 ...................... 16M|   |32M ........ 48M|
   *  reserved:        |2M..4M|                       |36M..40M|
   *  free:     |0..2M|       |4M......16M|      |32..36|      |40..48|
   */
  it('for_each_free_mem_range / _reverse', () => {
    const mb = new Memblock();
    mb.add(0, 16 * MiB);
    mb.add(32 * MiB, 16 * MiB);
    mb.reserve(2 * MiB, 2 * MiB);
    mb.reserve(36 * MiB, 4 * MiB);
    const fwd = [
      [0, 2 * MiB],
      [4 * MiB, 16 * MiB],
      [32 * MiB, 36 * MiB],
      [40 * MiB, 48 * MiB],
    ];
    expect(free(mb)).toEqual(fwd);
    expect(free(mb, NUMA_NO_NODE, true)).toEqual([...fwd].reverse());
  });

  it('NOMAP memory is not free; clear_nomap gives it back', () => {
    const mb = new Memblock();
    mb.add(0, 16 * MiB);
    mb.mark_nomap(4 * MiB, 4 * MiB);
    expect(mb.memory.cnt).toBe(3);
    expect(free(mb)).toEqual([
      [0, 4 * MiB],
      [8 * MiB, 16 * MiB],
    ]);
    expect(mb.is_map_memory(5 * MiB)).toBe(false);
    expect(mb.is_memory(5 * MiB)).toBe(true);
    mb.clear_nomap(4 * MiB, 4 * MiB);
    expect(mb.memory.cnt).toBe(1);
  });

  /*
   *  node 0: |0 ...... 1G|   node 1: |1G ..... 2G|
   *  top-down allocations come from the top of the requested node
   */
  it('top-down by default, bottom-up on request; never the first page', () => {
    const mb = new Memblock();
    mb.add_node(0, GiB, 0);
    mb.add_node(GiB, GiB, 1);
    expect(mb.alloc_range_nid(2 * MiB, 2 * MiB, 0, MEMBLOCK_ALLOC_ACCESSIBLE, 0, true)).toBe(GiB - 2 * MiB);
    expect(mb.phys_alloc(SZ_4K, SZ_4K)).toBe(2 * GiB - SZ_4K);
    mb.bottom_up = true;
    expect(mb.phys_alloc(SZ_4K, SZ_4K)).toBe(SZ_4K);
    expect(mb.phys_alloc(SZ_8K, SZ_8K)).toBe(SZ_8K);
    expect(rgns(mb, 'reserved')).toEqual([
      [SZ_4K, 3 * SZ_4K],
      [GiB - 2 * MiB, 2 * MiB],
      [2 * GiB - SZ_4K, SZ_4K],
    ]);
  });

  it('exact_nid fails when the node is full; try_nid falls back to another node', () => {
    const mb = new Memblock();
    mb.add_node(0, 64 * MiB, 0);
    mb.add_node(64 * MiB, 64 * MiB, 1);
    mb.reserve(64 * MiB, 64 * MiB); // node 1 is fully reserved
    expect(mb.alloc_exact_nid_raw(MiB, MiB, 0, MEMBLOCK_ALLOC_ACCESSIBLE, 1)).toBe(0);
    expect(mb.alloc_try_nid(MiB, MiB, 0, MEMBLOCK_ALLOC_ACCESSIBLE, 1)).toBe(63 * MiB);
  });

  it('alloc_try_nid drops min_addr when nothing fits above it; current_limit caps ACCESSIBLE', () => {
    const mb = new Memblock();
    mb.add(0, 64 * MiB);
    expect(mb.alloc_try_nid(MiB, MiB, 128 * MiB, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE)).toBe(63 * MiB);
    mb.current_limit = 16 * MiB;
    expect(mb.phys_alloc(MiB, MiB)).toBe(15 * MiB);
    expect(mb.phys_alloc(64 * MiB, MiB)).toBe(0);
    expect(mb.reserved_size()).toBe(2 * MiB);
  });

  it('align 0 means SMP_CACHE_BYTES; mirrored memory is preferred when present', () => {
    const log = new KernelLog(() => 0);
    const mb = new Memblock();
    mb.add(0, 64 * MiB);
    expect(mb.phys_alloc(100, 0)).toBe(64 * MiB - 128);
    mb.mark_mirror(0, 32 * MiB);
    expect(mb.phys_alloc(MiB, MiB)).toBe(31 * MiB);
    expect(mb.memory.regions.map((r) => r.flags)).toEqual([MEMBLOCK_MIRROR, 0]);
    mb.reserve(0, 32 * MiB);
    expect(mb.alloc_range_nid(MiB, MiB, 0, MEMBLOCK_ALLOC_ACCESSIBLE, NUMA_NO_NODE, false, log)).toBe(62 * MiB);
    expect(log.all().map((r) => r.text)).toEqual(['Could not allocate 0x0000000000100000 bytes of mirrored memory']);
  });
});

describe('queries and dump', () => {
  it('is_region_memory / is_region_reserved / DRAM bounds / search_pfn_nid', () => {
    const mb = new Memblock();
    expect(mb.start_of_DRAM()).toBe(0);
    expect(mb.end_of_DRAM()).toBe(0);
    mb.add_node(MiB, 15 * MiB, 0);
    mb.add_node(32 * MiB, 32 * MiB, 1);
    mb.reserve(40 * MiB, MiB);
    expect(mb.is_region_memory(2 * MiB, MiB)).toBe(true);
    expect(mb.is_region_memory(15 * MiB, 2 * MiB)).toBe(false);
    expect(mb.is_region_reserved(39 * MiB, MiB)).toBe(false);
    expect(mb.is_region_reserved(39 * MiB, MiB + 1)).toBe(true);
    expect(mb.start_of_DRAM()).toBe(MiB);
    expect(mb.end_of_DRAM()).toBe(64 * MiB);
    expect(mb.phys_mem_size()).toBe(47 * MiB);
    expect(mb.search_pfn_nid((33 * MiB) / SZ_4K)).toEqual({ nid: 1, startPfn: 8192, endPfn: 16384 });
    expect(mb.search_pfn_nid(0)).toBeUndefined();
  });

  it('trim_memory and enforce_memory_limit', () => {
    const mb = new Memblock();
    mb.add(0x800, 0x2000);
    mb.add(0x10000, 0x800);
    mb.add(MiB, 8 * MiB);
    mb.trim_memory(SZ_4K);
    expect(rgns(mb)).toEqual([
      [0x1000, 0x1000],
      [MiB, 8 * MiB],
    ]);
    expect(mb.memory.total_size).toBe(0x1000 + 8 * MiB);
    mb.reserve(4 * MiB, 4 * MiB);
    mb.enforce_memory_limit(0x1000 + 4 * MiB);
    expect(rgns(mb)).toEqual([
      [0x1000, 0x1000],
      [MiB, 4 * MiB],
    ]);
    expect(rgns(mb, 'reserved')).toEqual([[4 * MiB, MiB]]);
  });

  it('dump prints memblock_dump_all’s lines', () => {
    const log = new KernelLog(() => 0);
    const mb = new Memblock();
    mb.add_node(0x1000, 0x9e000, 0);
    mb.add(0x100000, 0x7ff00000);
    mb.reserve(0x1000000, 0x2000000);
    mb.dump_all(log);
    expect(log.all().length).toBe(0);
    mb.early_memblock('debug');
    mb.dump_all(log);
    expect(log.all().map((r) => r.text)).toEqual([
      'MEMBLOCK configuration:',
      ' memory size = 0x000000007ff9e000 reserved size = 0x0000000002000000',
      ' memory.cnt  = 0x2',
      ' memory[0x0]\t[0x0000000000001000-0x000000000009efff], 0x000000000009e000 bytes on node 0 flags: 0x0',
      ' memory[0x1]\t[0x0000000000100000-0x000000007fffffff], 0x000000007ff00000 bytes flags: 0x0',
      ' reserved.cnt  = 0x1',
      ' reserved[0x0]\t[0x0000000001000000-0x0000000002ffffff], 0x0000000002000000 bytes flags: 0x0',
    ]);
  });

  it('mem_pfn_ranges includes NOMAP and rounds to whole pages', () => {
    const mb = new Memblock();
    mb.add_node(0x800, 0x3000, 0);
    mb.add_node(MiB, MiB, 1);
    mb.mark_nomap(MiB, MiB);
    expect([...mb.mem_pfn_ranges(MAX_NUMNODES)]).toEqual([
      { start: 1, end: 3, nid: 0 },
      { start: 256, end: 512, nid: 1 },
    ]);
    expect([...mb.mem_ranges(NUMA_NO_NODE)]).toEqual([{ start: 0x800, end: 0x3800, nid: 0 }]);
    expect(MEMBLOCK_NOMAP).toBe(4);
  });
});

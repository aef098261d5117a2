/**
 * dmem= at boot, through boot_memory with dmem's ReserveHook, on the default
 * 64 GiB two-node machine (e820: RAM 0-2G and 4G-66G; node 0 = 0-2G + 4G-34G,
 * node 1 = 34G-66G; NODE_DATA sits at the top of each node).
 */
import { describe, expect, it } from 'vitest';
import { machineFromFlags } from '../../src/kernel/boot/machine.ts';
import { DmemPoolImpl } from '../../src/kernel/dmem/pool.ts';
import { NUMA_NO_NODE } from '../../src/kernel/mm/memblock.ts';
import { GiB, MiB } from '../../src/lib/size.ts';
import { bootDmem, lines } from './helpers.ts';

const G = GiB;
const ranges = (b: ReturnType<typeof bootDmem>): [number, number, number][] =>
  b.pool.regions().map((r) => [r.reserved_start_addr / G, r.reserved_end_addr / G, r.nid]);
const dmesg = (b: ReturnType<typeof bootDmem>): string[] => lines(b.log).filter((l) => l.startsWith('dmem') || l.startsWith('Malformed'));

describe('dmem=SIZE on every node', () => {
  /*
   *  0    2G   4G              17.875G            33.875G 34G           49.875G            65.875G 66G
   *  |RAM |hole|   node 0 kernel  |##### dmem 16G #####|ND|  node 1 kernel |##### dmem 16G #####|ND|
   *  Each node's top free range, cut to 128M boundaries (NODE_DATA spoils the last section), gives 16G.
   */
  it('64 GiB, 2 nodes, dmem=16G: 16 GiB per node, memmap 512 MiB smaller', () => {
    const base = bootDmem('');
    const b = bootDmem('dmem=16G');
    expect(ranges(b)).toEqual([
      [17.875, 33.875, 0],
      [49.875, 65.875, 1],
    ]);
    expect(b.pool.region_num).toBe(2);
    expect(b.pool.registeredBytes).toBe(32 * G);
    expect(b.pool.registered_pages).toBe((32 * G) / 4096);
    expect(base.mem.sparse.memmapBytes()).toBe(G);
    expect(base.mem.sparse.memmapBytes() - b.mem.sparse.memmapBytes()).toBe(512 * MiB);
    expect(dmesg(b)).toEqual([
      'dmem: parameter: base address 0 size 0x400000000 align 0x8000000 resv_kernel 0',
      'dmem: pre-defined region: 85',
      'dmem: register region [0xc78000000 - 0x1078000000] on node 1.',
      'dmem: register region [0x478000000 - 0x878000000] on node 0.',
    ]);
    // No struct page, not memory, not in the buddy allocator.
    for (const r of b.pool.regions()) {
      expect(b.mem.sparse.first_pfn_with_struct_page(r.start_pfn, r.start_pfn + r.nr_pages)).toBe(-1);
      expect(b.mem.memblock.is_memory(r.reserved_start_addr)).toBe(false);
    }
    expect(b.mem.physpages).toBe(base.mem.physpages - (32 * G) / 4096);
    expect(b.mem.iomem.render()).toContain('100000000-107fffffff : System RAM\n  478000000-877ffffff : dmem\n  c78000000-1077ffffff : dmem\n');
    expect(b.pool.late_init_failed).toBe(false);
    expect(b.kalloc.bytes()).toBe(2 * ((16 * G) / 4096 / 8)); // two error bitmaps, 1 bit per 4 KiB
  });

  /*
   *  node 1: free 32G - NODE_DATA, ALIGN up to 128M = 32G, leave 8G → take 24G from the top:
   *  34G          41.875G                         65.875G 66G
   *  |  kernel 8G  |########## dmem 24G ##########|ND|
   *  node 0: likewise 24G from the top of 4G-34G.
   */
  it('dmem=!8G leaves 8 GiB per node to the kernel', () => {
    const b = bootDmem('dmem=!8G');
    expect(ranges(b)).toEqual([
      [9.875, 33.875, 0],
      [41.875, 65.875, 1],
    ]);
    expect(b.pool.registeredBytes).toBe(48 * G);
  });

  /*
   *  1G alignment: the top free range of node 1 ends at 66G - NODE_DATA → 65G.
   *  33G is the last 1G boundary below node 0's NODE_DATA.
   */
  it('dmem=8G:1G takes 1 GiB-aligned chunks', () => {
    const b = bootDmem('dmem=8G:1G');
    expect(ranges(b)).toEqual([
      [25, 33, 0],
      [57, 65, 1],
    ]);
  });

  /*
   *  dmem=32G: node 1 can give 31.875G (the section under NODE_DATA is spoilt);
   *  node 0 gives 29.875G from 4G-34G and 1.875G from 128M-2G (below 128M: kernel image).
   */
  it('dmem=32G: shortfall per node, logged', () => {
    const b = bootDmem('dmem=32G');
    expect(ranges(b)).toEqual([
      [0.125, 2, 0],
      [4, 33.875, 0],
      [34, 65.875, 1],
    ]);
    expect(dmesg(b).slice(-2)).toEqual([
      'dmem: 0x10000000 size of memory is not reserved on node 0 due to misaligned regions.',
      'dmem: 0x8000000 size of memory is not reserved on node 1 due to misaligned regions.',
    ]);
    expect(b.mem.memblock.mem_ranges(1).next().done).toBe(false);
  });
});

describe('dmem=SIZE@ADDR', () => {
  /*  4G   5G     6G                 34G
   *  |    |######|       node 0      |
   */
  it('dmem=1G@5G: one fixed region on node 0', () => {
    const b = bootDmem('dmem=1G@5G');
    expect(ranges(b)).toEqual([[5, 6, 0]]);
  });

  /*  20G     22G            33G   34G       35G
   *  |#######|    node 0     |ND-> |##########|  node 1
   *  33G-34G holds NODE_DATA(0) (reserved): refused. 34G-35G is node 1 memory: a node 1 region.
   */
  it('fixed ranges are registered on the node that holds them', () => {
    const m = machineFromFlags({ mem: 64 * G, nodes: 2 });
    expect(ranges(bootDmem('dmem=2G@20G', m))).toEqual([[20, 22, 0]]);
    expect(ranges(bootDmem('dmem=1G@34G dmem=1G@33G', m))).toEqual([[34, 35, 1]]);
  });

  it('ranges that are not free RAM are ignored with a line naming dmem=', () => {
    const b = bootDmem('dmem=1G@2G dmem=1G@100G dmem=128M@0x878000000 dmem=1G@5G dmem=2G@4G');
    expect(ranges(b)).toEqual([[5, 6, 0]]);
    const bad = dmesg(b).filter((l) => l.includes('invalid'));
    expect(bad).toEqual([
      'dmem: invalid parameter "dmem=1G@2G": [mem 0x0000000080000000-0x00000000bfffffff] is not free memory, ignored',
      'dmem: invalid parameter "dmem=1G@100G": [mem 0x0000001900000000-0x000000193fffffff] is not free memory, ignored',
      'dmem: invalid parameter "dmem=128M@0x878000000": [mem 0x0000000878000000-0x000000087fffffff] is not free memory, ignored',
      'dmem: invalid parameter "dmem=2G@4G": [mem 0x0000000100000000-0x000000017fffffff] is not free memory, ignored',
    ]);
  });

  it('several dmem= in order: a fixed range, then 4G per node', () => {
    const b = bootDmem('dmem=1G@5G dmem=4G');
    expect(ranges(b)).toEqual([
      [5, 6, 0],
      [29.875, 33.875, 0],
      [61.875, 65.875, 1],
    ]);
  });

  it('the region table holds 85 entries; the 86th is refused', () => {
    const args = Array.from({ length: 86 }, (_, i) => `dmem=128M@${(32 + i) * 128}M`).join(' ');
    const b = bootDmem(args);
    expect(b.pool.region_num).toBe(85);
    expect(dmesg(b)).toContain('dmem: region is not sufficient.');
    expect(dmesg(b).at(-1)).toBe(
      'dmem: 0x8000000 size of memory is not reserved for dmem due to holes and misaligned regions in [0x3a8000000, 0x3b0000000].',
    );
    // The refused range stays kernel memory.
    expect(b.mem.memblock.is_memory(117 * 128 * MiB)).toBe(true);
  });
});

describe('late init', () => {
  it('a reserved pfn with a struct page stops the pool (dmem_check_region)', () => {
    const m = machineFromFlags({ mem: 64 * G, nodes: 2 });
    const b = bootDmem('dmem=1G@5G', m);
    // Late init of a fresh pool whose sparse view claims a struct page inside the region.
    const pool = new DmemPoolImpl(2, b.log);
    pool.dmem_region_register(0, 5 * G, 6 * G);
    const ret = pool.dmem_late_init({
      sparse: { first_pfn_with_struct_page: (s: number) => s + 7 },
      kalloc: b.kalloc,
      topo: { distances: m.distances, cpus: [4, 4], hasMemory: [true, true] },
    });
    expect(ret).toBe(-22);
    expect(lines(b.log).at(-1)).toBe('dmem: check pfn 0x140007 failed, its memory was not properly reserved');
    expect(pool.region_num).toBe(0);
    expect(pool.registered_pages).toBe(0);
    expect(pool.late_init_failed).toBe(true);
    expect(pool.nodes[0]!.nodelist).toEqual([]);
  });

  it('no dmem=: an empty pool; dmem_alloc_init fails with ENOMEM', () => {
    const b = bootDmem('');
    expect(b.pool.region_num).toBe(0);
    expect(dmesg(b)).toEqual(['dmem: pre-defined region: 85']);
    expect(() => b.pool.dmem_alloc_init(12)).toThrow(/ENOMEM/);
    expect([...b.mem.memblock.free_mem_ranges(NUMA_NO_NODE)].length).toBeGreaterThan(0);
  });
});


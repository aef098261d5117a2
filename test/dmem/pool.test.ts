/**
 * The dmem pool allocator (mm/dmem.c), one geometry per case. Pictures show
 * dpages: '#' allocated, '.' free, 'x' retired, '^' the next-free hint.
 */
import { describe, expect, it } from 'vitest';
import type { MmStruct } from '../../src/kernel/mm/mm_types.ts';
import { VmArea, type MemPolicy } from '../../src/kernel/mm/vm_area.ts';
import { INIT_REGION_NUM } from '../../src/kernel/dmem/pool.ts';
import { GiB, MiB } from '../../src/lib/size.ts';
import { MPOL_BIND, MPOL_INTERLEAVE, MPOL_PREFERRED } from '../../src/uapi/mman.ts';
import { lines, makePool, topo } from './helpers.ts';

const M2 = 2 * MiB;
const S2 = 21; // 2 MiB dpages
const fakeMm = (homeNid: number, policy: MemPolicy | null = null): MmStruct => ({ homeNid, policy }) as unknown as MmStruct;

describe('dmem_alloc_init', () => {
  /*
   *  4G+1M                                 4G+9M
   *  |  |  dpage 0  |  dpage 1  |  dpage 2  |  |     2 MiB dpages: 1 MiB lost at each end
   *     4G+2M                          4G+8M
   */
  it('unaligned ends are counted in unaligned_pages and logged', () => {
    const { pool, log, kalloc } = makePool(1, [[4 * GiB + MiB, 4 * GiB + 9 * MiB, 0]]);
    pool.dmem_alloc_init(S2);
    expect(pool.total_dpages()).toBe(3);
    expect(pool.free_dpages(0)).toBe(3);
    expect(pool.unaligned_pages).toBe(512);
    expect(lines(log).at(-1)).toBe('dmem: 512 pages are wasted due to alignment');
    // 3 dpages fit in the region's static bitmap word: only the error bitmap (2048 bits = 256 B) and the memmap (12 B) are allocated.
    expect(kalloc.bytes()).toBe(256 + 12);
  });

  it('EBUSY for another size while in use; the same size adds a user; the last user frees everything', () => {
    const { pool, kalloc } = makePool(1, [[4 * GiB, 5 * GiB, 0]]);
    const errorBitmap = kalloc.bytes();
    expect(errorBitmap).toBe(GiB / 4096 / 8);
    expect(() => pool.dmem_alloc_init(11)).toThrow(/EINVAL/);
    pool.dmem_alloc_init(12);
    // 4K dpages: 32 KiB allocation bitmap + 4 B per dpage memmap.
    expect(kalloc.bytes() - errorBitmap).toBe(32 * 1024 + 4 * 262144);
    expect(() => pool.dmem_alloc_init(S2)).toThrow(/EBUSY/);
    pool.dmem_alloc_init(12);
    expect(pool.user_count).toBe(2);
    pool.dmem_alloc_uinit();
    expect(pool.dpage_shift).toBe(12);
    pool.dmem_alloc_uinit();
    expect(pool.dpage_shift).toBe(0);
    expect(pool.total_dpages()).toBe(0);
    expect(kalloc.bytes()).toBe(errorBitmap);
    pool.dmem_alloc_init(30);
    expect(pool.total_dpages()).toBe(1);
  });

  it('the last user leaving with dpages allocated keeps the allocator (and its size)', () => {
    const { pool, log } = makePool(1, [[4 * GiB, 4 * GiB + 8 * M2, 0]]);
    pool.dmem_alloc_init(S2);
    const run = pool.dmem_alloc_pages_nodemask(0, undefined, 3)!;
    pool.dmem_alloc_uinit();
    expect(lines(log).at(-1)).toBe('dmem: 3 dpages still in use, allocator kept');
    expect(pool.dpage_shift).toBe(S2);
    expect(() => pool.dmem_alloc_init(12)).toThrow(/EBUSY/);
    pool.dmem_free_pages(run.phys, run.nr);
    pool.dmem_alloc_init(S2);
    pool.dmem_alloc_uinit();
    expect(pool.dpage_shift).toBe(0);
  });

  it('ENOMEM when the kernel cannot give the bitmaps; nothing stays charged', () => {
    const { pool, kalloc } = makePool(2, [[4 * GiB, 5 * GiB, 0], [8 * GiB, 9 * GiB, 1]]);
    const before = kalloc.bytes();
    kalloc.limit = before + 32 * 1024 + 4 * 262144 + 100; // room for node 0 only
    expect(() => pool.dmem_alloc_init(12)).toThrow(/ENOMEM/);
    expect(kalloc.bytes()).toBe(before);
    expect(pool.dpage_shift).toBe(0);
    expect(pool.total_dpages()).toBe(0);
  });

  it('the static region table: two pages of 96-byte entries', () => {
    expect(INIT_REGION_NUM).toBe(85);
  });
});

describe('first fit from the hint, greedy runs', () => {
  /*
   *  region: 8 dpages of 2 MiB
   *  alloc 3      ###.....   hint 3
   *  alloc 1      ####....   hint 4
   *  free 1..2    #..#....   hint 1
   *  alloc 4      ####....   takes 1,2 then stops at 3 (allocated): run of 2
   *  alloc 8      ########   4..7, the last dpage included
   *  alloc 1      null
   */
  it('runs stop at an allocated dpage and at the region end', () => {
    const base = 4 * GiB;
    const { pool } = makePool(1, [[base, base + 8 * M2, 0]]);
    pool.dmem_alloc_init(S2);
    expect(pool.dmem_alloc_pages_nodemask(0, undefined, 3)).toEqual({ phys: base, nr: 3 });
    expect(pool.dmem_alloc_pages_nodemask(0, undefined, 1)).toEqual({ phys: base + 3 * M2, nr: 1 });
    pool.dmem_free_pages(base + M2, 2);
    expect(pool.regions()[0]!.next_free_pos).toBe(1);
    expect(pool.free_dpages()).toBe(6);
    expect(pool.dmem_alloc_pages_nodemask(0, undefined, 4)).toEqual({ phys: base + M2, nr: 2 });
    expect(pool.dmem_alloc_pages_nodemask(0, undefined, 8)).toEqual({ phys: base + 4 * M2, nr: 4 });
    expect(pool.dmem_alloc_pages_nodemask(0, undefined, 1)).toBeNull();
    expect(pool.free_dpages()).toBe(0);
    expect(() => pool.dmem_free_pages(base + M2 / 2, 1)).toThrow(/not a dpage/);
    pool.dmem_free_pages(base, 8);
    expect(() => pool.dmem_free_pages(base, 1)).toThrow(/not in use/);
  });

  /*
   *  node 0 regions in registration order (top-down, as dmem=SIZE registers them):
   *  R0 [6G, 6G+4M)  ..   R1 [4G, 4G+4M)  ..
   *  allocations fill R0 first, then R1; a run never crosses regions.
   */
  it('regions are used in registration order and runs stay inside one', () => {
    const { pool } = makePool(1, [
      [6 * GiB, 6 * GiB + 2 * M2, 0],
      [4 * GiB, 4 * GiB + 2 * M2, 0],
    ]);
    pool.dmem_alloc_init(S2);
    expect(pool.dmem_alloc_pages_nodemask(0, undefined, 4)).toEqual({ phys: 6 * GiB, nr: 2 });
    expect(pool.dmem_alloc_pages_nodemask(0, undefined, 4)).toEqual({ phys: 4 * GiB, nr: 2 });
  });
});

describe('node fallback lists (dmem_node_init)', () => {
  const regionsOn = (n: number): [number, number, number][] => Array.from({ length: n }, (_, i) => [(4 + i) * GiB, (5 + i) * GiB, i]);

  it('equal distances are spread round-robin', () => {
    const { pool } = makePool(4, regionsOn(4));
    expect(pool.nodes.map((d) => d.nodelist)).toEqual([
      [0, 1, 2, 3],
      [1, 2, 3, 0],
      [2, 3, 0, 1],
      [3, 0, 1, 2],
    ]);
  });

  it('nearer nodes first; CPU-less nodes before nodes with CPUs at equal distance', () => {
    const distances = [
      [10, 21, 21, 11],
      [21, 10, 21, 21],
      [21, 21, 10, 21],
      [11, 21, 21, 10],
    ];
    const { pool } = makePool(4, regionsOn(4), topo(4, { distances, cpus: [4, 4, 0, 4] }));
    expect(pool.nodes[0]!.nodelist).toEqual([0, 3, 2, 1]);
    expect(pool.nodes[1]!.nodelist).toEqual([1, 2, 3, 0]); // node 0 < 1 and has CPUs: 24 vs 23
  });

  it('nodes without regions appear only as their own first entry', () => {
    const { pool } = makePool(3, [[4 * GiB, 5 * GiB, 0], [8 * GiB, 9 * GiB, 2]]);
    expect(pool.nodes.map((d) => d.nodelist)).toEqual([[0, 2], [1, 2, 0], [2, 0]]);
  });
});

describe('memory policy (dmem_alloc_pages_vma)', () => {
  const setup = () => {
    const { pool } = makePool(2, [[4 * GiB, 4 * GiB + 4 * M2, 0], [8 * GiB, 8 * GiB + 4 * M2, 1]]);
    pool.dmem_alloc_init(S2);
    return pool;
  };
  const nodeOf = (phys: number): number => (phys < 8 * GiB ? 0 : 1);
  const vma = (policy: MemPolicy | null = null, pgoff = 0) => new VmArea(0x7f0000000000, 0x7f0000000000 + 64 * M2, 0, pgoff, null, null, policy);

  it('default: the home node, then its fallback list', () => {
    const pool = setup();
    const got = Array.from({ length: 5 }, () => nodeOf(pool.dmem_alloc_pages_vma(fakeMm(1), vma(), 0x7f0000000000, 1)!.phys));
    expect(got).toEqual([1, 1, 1, 1, 0]);
  });

  it('preferred: start from that node, fall back', () => {
    const pool = setup();
    const v = vma({ mode: MPOL_PREFERRED, nodes: [0] });
    expect(nodeOf(pool.dmem_alloc_pages_vma(fakeMm(1), v, v.start, 4)!.phys)).toBe(0);
    expect(nodeOf(pool.dmem_alloc_pages_vma(fakeMm(1), v, v.start, 1)!.phys)).toBe(1);
  });

  it('bind: only the mask, no fallback; the task policy applies when the VMA has none', () => {
    const pool = setup();
    const mm = fakeMm(0, { mode: MPOL_BIND, nodes: [1] });
    expect(pool.dmem_alloc_pages_vma(mm, vma(), 0x7f0000000000, 8)).toEqual({ phys: 8 * GiB, nr: 4 });
    expect(pool.dmem_alloc_pages_vma(mm, vma(), 0x7f0000000000, 1)).toBeNull();
    expect(pool.free_dpages(0)).toBe(4);
  });

  it('interleave: node from the address at dpage granularity (and the file offset)', () => {
    const pool = setup();
    const v = vma({ mode: MPOL_INTERLEAVE, nodes: [0, 1] });
    const at = (i: number, vv = v) => nodeOf(pool.dmem_alloc_pages_vma(fakeMm(0), vv, vv.start + i * M2 + 4096, 1)!.phys);
    expect([0, 1, 2, 3].map((i) => at(i))).toEqual([0, 1, 0, 1]);
    // pgoff of one dpage (512 pages) shifts the pattern by one.
    const shifted = vma({ mode: MPOL_INTERLEAVE, nodes: [0, 1] }, 512);
    expect([0, 1].map((i) => at(i, shifted))).toEqual([1, 0]);
  });
});

describe('memory errors (dmem_memory_failure)', () => {
  /*
   *  4 dpages of 2 MiB at 4G:  . . . .
   *  poison a frame in dpage 1 (free)      . x . .   retired, free 3, total 4
   *  alloc 4                                # x . .   run of 1 (stops at the retired dpage)
   *  poison a frame in dpage 0 (in use)     'in-use'
   *  free dpage 0                           x x . .   stays retired
   */
  it('free dpages are retired, in-use ones reported, and neither comes back', () => {
    const base = 4 * GiB;
    const { pool, log } = makePool(1, [[base, base + 4 * M2, 0]]);
    pool.dmem_alloc_init(S2);
    const pfn1 = (base + M2 + 5 * 4096) / 4096;
    expect(pool.dmem_memory_failure(pfn1)).toBe('free-retired');
    expect(lines(log).at(-1)).toBe('MCE: free dpage, mark 0x100205 disabled in dmem');
    expect(pool.is_poisoned(pfn1)).toBe(true);
    expect(pool.is_poisoned(pfn1 + 1)).toBe(false);
    expect([pool.free_dpages(), pool.total_dpages(), pool.retired_dpages()]).toEqual([3, 4, 1]);
    expect(pool.dmem_memory_failure(pfn1 + 1)).toBe('free-retired');
    expect(pool.poisoned_pages()).toBe(2);
    expect(pool.dmem_alloc_pages_nodemask(0, undefined, 4)).toEqual({ phys: base, nr: 1 });
    expect(pool.dmem_memory_failure(base / 4096)).toBe('in-use');
    pool.dmem_free_pages(base, 1);
    expect([pool.free_dpages(), pool.retired_dpages()]).toEqual([2, 2]);
    expect(pool.dmem_alloc_pages_nodemask(0, undefined, 4)).toEqual({ phys: base + 2 * M2, nr: 2 });
    expect(pool.dmem_alloc_pages_nodemask(0, undefined, 1)).toBeNull();
    expect(pool.dmem_memory_failure(base / 4096 - 1)).toBe('not-dmem');
  });

  it('errors recorded while the allocator is down retire their dpages at the next init (not counted in total)', () => {
    const base = 4 * GiB;
    const { pool } = makePool(1, [[base, base + 8 * M2, 0]]);
    expect(pool.dmem_memory_failure(base / 4096 + 600)).toBe('free-retired');
    pool.dmem_alloc_init(S2);
    expect([pool.total_dpages(), pool.free_dpages(), pool.retired_dpages()]).toEqual([7, 7, 1]);
    expect(pool.dmem_alloc_pages_nodemask(0, undefined, 8)).toEqual({ phys: base, nr: 1 });
    pool.dmem_free_pages(base, 1);
    pool.dmem_alloc_uinit();
    pool.dmem_alloc_init(30 - 8); // 4 MiB dpages: the error is in dpage 0 now
    expect([pool.total_dpages(), pool.free_dpages()]).toEqual([3, 3]);
    expect(pool.dmem_alloc_pages_nodemask(0, undefined, 1)!.phys).toBe(base + 4 * MiB);
  });
});

describe('reference counts (v2 dmempage)', () => {
  it('a pinned dpage survives its owner freeing it until the last put', () => {
    const base = 4 * GiB;
    const { pool } = makePool(1, [[base, base + 4 * M2, 0]]);
    pool.dmem_alloc_init(S2);
    const run = pool.dmem_alloc_pages_nodemask(0, undefined, 2)!;
    pool.dmem_get_page(run.phys + M2 + 4096);
    expect(pool.dmem_page_count(run.phys + M2)).toBe(2);
    expect(pool.dmem_put_page(run.phys + M2)).toBe(true);
    pool.dmem_get_page(run.phys + M2);
    pool.dmem_free_pages(run.phys, 2);
    expect(pool.free_dpages()).toBe(3);
    expect(pool.dmem_page_count(run.phys + M2)).toBe(1);
    expect(pool.dmem_alloc_pages_nodemask(0, undefined, 4)).toEqual({ phys: base, nr: 1 });
    expect(pool.dmem_put_page(run.phys + M2)).toBe(false);
    expect(pool.free_dpages()).toBe(3);
    expect(pool.dmem_page_count(run.phys + M2)).toBe(0);
    expect(() => pool.dmem_get_page(run.phys + M2)).toThrow(/not in use/);
    expect(pool.is_dmem_pfn(run.phys / 4096)).toBe(true);
    expect(pool.is_dmem_pfn(base / 4096 + 4 * 512)).toBe(false);
  });
});

/**
 * Random add / online (online, online_kernel, online_movable) / offline /
 * remove of two hot-plugged blocks mixed with kernel and user allocations
 * and frees, on a 4 GiB host. After every step:
 *  - MemTotal = the boot total + one block per online hot block = Σ zone managed pages;
 *  - MemFree = Σ zone free pages;
 *  - no free page lies in a block that is not online;
 *  - struct pages exist exactly for the added blocks;
 *  - no page in use (ours or a hot memmap) lies in a block that is not online;
 *  - no kernel allocation comes from ZONE_MOVABLE.
 *
 *   16G     +128M    +256M
 *   | blk 0 | blk 1  |
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL, ZONE_MOVABLE } from '../../src/kernel/mm/page_alloc.ts';
import { BLOCK, BLOCK_PAGES, HOT_BASE, M, errno, put, small } from './helpers.ts';

type Op =
  | { k: 'add' | 'offline' | 'remove'; i: number }
  | { k: 'online'; i: number; how: 'online' | 'online_kernel' | 'online_movable' }
  | { k: 'alloc'; kernel: boolean; order: number }
  | { k: 'free'; n: number };

const NB = 2;
const i = fc.integer({ min: 0, max: NB - 1 });
// Weighted so that allocations often land in hot blocks before they are offlined.
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('add' as const), i }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constantFrom('offline' as const, 'remove' as const), i }), weight: 3 },
  {
    arbitrary: fc.record({ k: fc.constant('online' as const), i, how: fc.constantFrom('online' as const, 'online_kernel' as const, 'online_movable' as const) }),
    weight: 3,
  },
  { arbitrary: fc.record({ k: fc.constant('alloc' as const), kernel: fc.boolean(), order: fc.constantFrom(0, 3, 9, 10) }), weight: 3 },
  { arbitrary: fc.record({ k: fc.constant('free' as const), n: fc.nat() }), weight: 1 },
);

function run(ops: Op[]): void {
  const { host, task } = small();
  const hp = host.hotplug;
  const buddy = host.buddy;
  const bootTotal = buddy.totalram_pages();
  const state: ('absent' | 'offline' | 'online')[] = Array(NB).fill('absent');
  const allocs: { pfn: number; order: number; kernel: boolean }[] = [];
  const id0 = HOT_BASE / BLOCK;
  const pfnOf = (b: number): number => (HOT_BASE + b * BLOCK) / 4096;
  const blockOf = (pfn: number): number => Math.floor((pfn - pfnOf(0)) / BLOCK_PAGES);

  for (const op of ops) {
    switch (op.k) {
      case 'add': {
        const rc = hp.add_memory_driver_managed(0, HOT_BASE + op.i * BLOCK, BLOCK, 'System RAM (prop)', 0);
        // Memmap allocation may fail only when memory runs out (ENOMEM).
        if (state[op.i] !== 'absent') expect(rc).toBe(-17);
        else if (rc === 0) state[op.i] = 'offline';
        else expect(rc).toBe(-12);
        break;
      }
      case 'online': {
        if (state[op.i] === 'absent') break;
        const r = errno(() => put(task, M(id0 + op.i, 'state'), op.how));
        expect(r).toBe(state[op.i] === 'online' ? 'EINVAL' : 'ok');
        state[op.i] = 'online';
        break;
      }
      case 'offline': {
        if (state[op.i] === 'absent') break;
        const mine = allocs.some((a) => blockOf(a.pfn) === op.i);
        const r = errno(() => put(task, M(id0 + op.i, 'state'), 'offline'));
        if (state[op.i] === 'offline') expect(r).toBe('EINVAL');
        else if (mine) expect(r).toBe('EBUSY');
        else expect(['ok', 'EBUSY']).toContain(r);
        if (r === 'ok') state[op.i] = 'offline';
        break;
      }
      case 'remove': {
        if (state[op.i] === 'absent') break;
        const rc = hp.remove_memory(HOT_BASE + op.i * BLOCK, BLOCK);
        expect(rc).toBe(state[op.i] === 'online' ? -16 : 0);
        if (rc === 0) state[op.i] = 'absent';
        break;
      }
      case 'alloc': {
        const pfn = buddy.alloc_pages(op.kernel ? GFP_KERNEL : GFP_HIGHUSER_MOVABLE, op.order, 0);
        if (pfn >= 0) allocs.push({ pfn, order: op.order, kernel: op.kernel });
        break;
      }
      case 'free': {
        if (allocs.length === 0) break;
        const [a] = allocs.splice(op.n % allocs.length, 1);
        buddy.free_pages(a!.pfn, a!.order);
        break;
      }
    }
    check();
  }

  function check(): void {
    const online = state.filter((s) => s === 'online').length;
    expect(buddy.totalram_pages()).toBe(bootTotal + online * BLOCK_PAGES);
    let managed = 0;
    let free = 0;
    for (const node of buddy.nodes) for (const z of node) {
      managed += z.managed_pages;
      free += z.free_pages;
      z.forEachFreeBlock((pfn) => {
        const b = blockOf(pfn);
        if (b >= 0 && b < NB) expect(state[b]).toBe('online');
      });
    }
    expect(managed).toBe(buddy.totalram_pages());
    expect(free).toBe(buddy.nr_free_pages());
    for (let b = 0; b < NB; b++) {
      expect(host.mem.sparse.pfn_valid(pfnOf(b))).toBe(state[b] !== 'absent');
      expect(host.mem.sparse.pfn_valid(pfnOf(b) + BLOCK_PAGES - 1)).toBe(state[b] !== 'absent');
    }
    for (const a of [...allocs, ...hp.memmap_blocks()]) {
      const b = blockOf(a.pfn);
      if (b >= 0 && b < NB) expect(state[b]).toBe('online');
    }
    for (const a of allocs) if (a.kernel) expect(buddy.zone_of(a.pfn)!.idx).not.toBe(ZONE_MOVABLE);
  }
}

describe('memory hotplug property', () => {
  it('counters, free lists, struct pages and allocations stay consistent', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 10, maxLength: 80, size: 'max' }), (ops) => run([{ k: 'add', i: 0 }, { k: 'add', i: 1 }, ...ops])),
      { numRuns: 50 },
    );
  });
});

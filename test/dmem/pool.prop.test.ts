/**
 * Random alloc / free / try_max / nodemask / poison / pin sequences against a
 * naive reference (one boolean per dpage, one counter per dpage, first fit
 * from 0), with the pool's invariants checked after every step.
 */
import fc from 'fast-check';
import { describe, it, expect } from 'vitest';
import { DmemPoolImpl } from '../../src/kernel/dmem/pool.ts';
import { FakeKalloc, newLog, topo } from './helpers.ts';

const PAGE = 4096;

type Op =
  | { k: 'alloc'; nid: number; mask: number[] | null; tryMax: number }
  | { k: 'free'; pick: number; len: number }
  | { k: 'poison'; region: number; page: number }
  | { k: 'get'; pick: number }
  | { k: 'put'; pick: number };

/** Reference state of one region. */
interface RefRegion {
  nid: number;
  startPfn: number;
  nrPages: number;
  firstPage: number; // first pfn offset of dpage 0
  dpages: number;
  alloc: boolean[];
  count: number[];
  retired: boolean[];
  error: boolean[];
}

const geometry = fc.record({
  nodes: fc.integer({ min: 1, max: 3 }),
  shift: fc.constantFrom(12, 13, 14),
  regions: fc.array(fc.record({ gap: fc.integer({ min: 0, max: 5 }), pages: fc.integer({ min: 1, max: 150 }), node: fc.nat() }), { minLength: 1, maxLength: 6 }),
  order: fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
});

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('alloc' as const), nid: fc.nat(2), mask: fc.option(fc.subarray([0, 1, 2]), { nil: null }), tryMax: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('free' as const), pick: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('poison' as const), region: fc.nat(), page: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('get' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('put' as const), pick: fc.nat() }) },
);

describe('dmem pool against a naive reference', () => {
  it('random sequences keep the counters, first fit and retirement right', () => {
    fc.assert(
      fc.property(geometry, fc.array(op, { maxLength: 120 }), (g, ops) => {
        const pool = new DmemPoolImpl(g.nodes, newLog());
        // Lay regions out at increasing page offsets from 4 GiB; register in a shuffled order.
        let cursor = (4 * 2 ** 30) / PAGE;
        const laid = g.regions.map((r) => {
          cursor += r.gap;
          const s = cursor;
          cursor += r.pages;
          return { nid: r.node % g.nodes, s, e: cursor };
        });
        const order = laid.map((_, i) => i).sort((a, b) => (g.order[a]! - g.order[b]!) || a - b);
        for (const i of order) pool.dmem_region_register(laid[i]!.nid, laid[i]!.s * PAGE, laid[i]!.e * PAGE);
        expect(pool.dmem_late_init({ sparse: { first_pfn_with_struct_page: () => -1 }, kalloc: new FakeKalloc(), topo: topo(g.nodes) })).toBe(0);
        pool.dmem_alloc_init(g.shift);
        const per = 2 ** (g.shift - 12);
        const regs = pool.regions();
        const ref: RefRegion[] = regs.map((r) => {
          const firstDp = Math.ceil(r.start_pfn / per);
          const dpages = Math.max(0, Math.floor((r.start_pfn + r.nr_pages) / per) - firstDp);
          return {
            nid: r.nid, startPfn: r.start_pfn, nrPages: r.nr_pages, firstPage: firstDp * per - r.start_pfn, dpages,
            alloc: new Array<boolean>(dpages).fill(false), count: new Array<number>(dpages).fill(0),
            retired: new Array<boolean>(dpages).fill(false), error: new Array<boolean>(r.nr_pages).fill(false),
          };
        });
        const regionOrder = new Map(regs.map((r, i) => [r, i]));
        const held = (): [number, number][] => ref.flatMap((r, ri) => r.count.flatMap((c, p) => (c > 0 ? [[ri, p] as [number, number]] : [])));
        const release = (r: RefRegion, p: number): void => {
          const err = r.error.slice(r.firstPage + p * per, r.firstPage + (p + 1) * per).some(Boolean);
          if (err) r.retired[p] = true;
          else r.alloc[p] = false;
        };

        for (const o of ops) {
          if (o.k === 'alloc') {
            const nid = o.nid % g.nodes;
            // Reference: nodes in the pool's fallback order, regions in registration order, lowest free dpage, greedy run.
            let want: { phys: number; nr: number } | null = null;
            outer: for (const node of pool.nodes[nid]!.nodelist) {
              if (o.mask && !o.mask.includes(node)) continue;
              for (const r of pool.nodes[node]!.regions) {
                const rr = ref[regionOrder.get(r)!]!;
                const p = rr.alloc.indexOf(false);
                if (p < 0) continue;
                let n = 1;
                while (n < Math.max(1, o.tryMax) && p + n < rr.dpages && !rr.alloc[p + n]) n++;
                want = { phys: (rr.startPfn + rr.firstPage + p * per) * PAGE, nr: n };
                for (let i = 0; i < n; i++) [rr.alloc[p + i], rr.count[p + i]] = [true, 1];
                break outer;
              }
            }
            expect(pool.dmem_alloc_pages_nodemask(nid, o.mask ?? undefined, o.tryMax)).toEqual(want);
          } else if (o.k === 'free' || o.k === 'get' || o.k === 'put') {
            const h = held();
            if (!h.length) continue;
            const [ri, p] = h[o.pick % h.length]!;
            const r = ref[ri]!;
            const phys = (r.startPfn + r.firstPage + p * per) * PAGE;
            if (o.k === 'get') {
              pool.dmem_get_page(phys);
              r.count[p]!++;
              continue;
            }
            let n = 1;
            if (o.k === 'free') while (n < o.len && p + n < r.dpages && r.count[p + n]! > 0) n++;
            if (o.k === 'free') pool.dmem_free_pages(phys, n);
            else expect(pool.dmem_put_page(phys)).toBe(r.count[p] === 2);
            for (let i = 0; i < n; i++) if (--r.count[p + i]! === 0) release(r, p + i);
          } else {
            const r = ref[o.region % ref.length]!;
            const page = o.page % r.nrPages;
            r.error[page] = true;
            let want: string = 'free-retired';
            const p = Math.floor((page - r.firstPage) / per);
            if (page >= r.firstPage && p < r.dpages && !r.retired[p]) {
              if (r.alloc[p]) want = 'in-use';
              else [r.alloc[p], r.retired[p]] = [true, true];
            }
            expect(pool.dmem_memory_failure(r.startPfn + page)).toBe(want);
          }

          // Invariants.
          let poolFree = 0;
          let poolTotal = 0;
          for (const dnode of pool.nodes) {
            let nf = 0;
            let nt = 0;
            for (const reg of dnode.regions) {
              const rr = ref[regionOrder.get(reg)!]!;
              let clear = 0;
              for (let p = 0; p < rr.dpages; p++) {
                expect(reg.is_allocated(p)).toBe(rr.alloc[p]);
                expect(reg.refcount(p)).toBe(rr.count[p]);
                expect(reg.retired.has(p)).toBe(rr.retired[p]);
                if (!rr.alloc[p]) clear++;
                // The hint: everything below it is allocated.
                if (p < reg.next_free_pos) expect(rr.alloc[p]).toBe(true);
              }
              expect(reg.free).toBe(clear);
              expect(reg.total).toBe(rr.dpages);
              expect(reg.free + reg.in_use() + reg.retired.size).toBe(reg.total);
              nf += reg.free;
              nt += reg.total;
            }
            expect([dnode.free_dpages, dnode.total_dpages]).toEqual([nf, nt]);
            poolFree += nf;
            poolTotal += nt;
          }
          expect([pool.free_dpages(), pool.total_dpages()]).toEqual([poolFree, poolTotal]);
          expect(pool.retired_dpages()).toBe(ref.reduce((n, r) => n + r.retired.filter(Boolean).length, 0));
          expect(pool.poisoned_pages()).toBe(ref.reduce((n, r) => n + r.error.filter(Boolean).length, 0));
        }
      }),
      { numRuns: 150 },
    );
  });
});

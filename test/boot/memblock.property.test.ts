/**
 * Random memblock operation sequences against a naive reference: one slot per
 * 4 KiB page holding {nid, flags} for memory and a boolean for reserved.
 * After every step: regions sorted, disjoint, minimal (touching neighbours
 * differ in nid or flags), totals equal sums, contents equal the reference,
 * free-range iteration (both directions, per node) equals reference free pages,
 * and allocations return exactly what the reference's top-down/bottom-up
 * search over maximal free runs predicts.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  MAX_NUMNODES,
  MEMBLOCK_ALLOC_ACCESSIBLE,
  MEMBLOCK_HOTPLUG,
  MEMBLOCK_NOMAP,
  Memblock,
  MemblockType,
  NUMA_NO_NODE,
} from '../../src/kernel/mm/memblock.ts';

const U = 4096;
const N = 80; // pages modelled

type Slot = { nid: number; flags: number } | null;
type Op =
  | { k: 'add_node'; b: number; s: number; nid: number; flags: number }
  | { k: 'add' | 'remove' | 'reserve' | 'phys_free' | 'mark_nomap' | 'clear_nomap'; b: number; s: number }
  | { k: 'set_node'; b: number; s: number; nid: number }
  | { k: 'alloc'; s: number; align: number; nid: number; exact: boolean; bottomUp: boolean };

const range = { b: fc.integer({ min: 0, max: 64 }), s: fc.integer({ min: 0, max: 16 }) };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('add_node' as const), ...range, nid: fc.integer({ min: 0, max: 2 }), flags: fc.constantFrom(0, MEMBLOCK_HOTPLUG) }),
  fc.record({ k: fc.constantFrom('add', 'remove', 'reserve', 'phys_free', 'mark_nomap', 'clear_nomap'), ...range }),
  fc.record({ k: fc.constant('set_node' as const), ...range, nid: fc.integer({ min: 0, max: 2 }) }),
  fc.record({
    k: fc.constant('alloc' as const),
    s: fc.integer({ min: 1, max: 8 }),
    align: fc.constantFrom(1, 2, 4, 8),
    nid: fc.constantFrom(NUMA_NO_NODE, 0, 1),
    exact: fc.boolean(),
    bottomUp: fc.boolean(),
  }),
);

class Ref {
  mem: Slot[] = new Array<Slot>(N).fill(null);
  res: boolean[] = new Array<boolean>(N).fill(false);

  each(b: number, s: number, fn: (u: number) => void): void {
    for (let u = b; u < Math.min(N, b + s); u++) fn(u);
  }

  /** Maximal free runs [start, end) in pages, split where nid/flags change (= region ∩ gap). */
  freeRuns(nid: number): [number, number][] {
    const runs: [number, number][] = [];
    const ok = (u: number): boolean => {
      const m = this.mem[u];
      return !!m && !this.res[u] && !(m.flags & MEMBLOCK_NOMAP) && (nid < 0 || nid >= MAX_NUMNODES || m.nid === nid);
    };
    for (let u = 0; u < N; u++) {
      if (!ok(u)) continue;
      const last = runs.at(-1);
      const prev = this.mem[u - 1];
      const cur = this.mem[u]!;
      if (last && last[1] === u && prev && prev.nid === cur.nid && prev.flags === cur.flags) last[1] = u + 1;
      else runs.push([u, u + 1]);
    }
    return runs;
  }

  find(size: number, align: number, nid: number, bottomUp: boolean): number {
    const runs = this.freeRuns(nid);
    const start = 1; // avoid allocating the first page
    if (bottomUp) {
      for (const [s, e] of runs) {
        const ts = Math.max(s, start);
        const te = Math.max(e, start);
        const cand = Math.ceil(ts / align) * align;
        if (cand < te && te - cand >= size) return cand;
      }
    } else {
      for (const [s, e] of [...runs].reverse()) {
        const ts = Math.max(s, start);
        const te = Math.max(e, start);
        if (te < size) continue;
        const cand = Math.floor((te - size) / align) * align;
        if (cand >= ts) return cand;
      }
    }
    return 0;
  }
}

function checkType(t: MemblockType, expectFn: (u: number) => boolean, minimal = true): void {
  let sum = 0;
  for (let i = 0; i < t.regions.length; i++) {
    const r = t.regions[i]!;
    expect(r.size).toBeGreaterThan(0);
    sum += r.size;
    const next = t.regions[i + 1];
    if (next) {
      expect(r.base + r.size).toBeLessThanOrEqual(next.base);
      if (minimal && r.base + r.size === next.base) expect(r.nid !== next.nid || r.flags !== next.flags).toBe(true);
    }
  }
  expect(t.total_size).toBe(sum);
  for (let u = 0; u < N; u++) expect(t.search(u * U) !== -1).toBe(expectFn(u));
}

function apply(mb: Memblock, ref: Ref, op: Op): void {
  switch (op.k) {
    case 'add_node':
      mb.add_node(op.b * U, op.s * U, op.nid, op.flags);
      ref.each(op.b, op.s, (u) => (ref.mem[u] ??= { nid: op.nid, flags: op.flags }));
      break;
    case 'add':
      mb.add(op.b * U, op.s * U);
      ref.each(op.b, op.s, (u) => (ref.mem[u] ??= { nid: MAX_NUMNODES, flags: 0 }));
      break;
    case 'remove':
      mb.remove(op.b * U, op.s * U);
      ref.each(op.b, op.s, (u) => (ref.mem[u] = null));
      break;
    case 'reserve':
      mb.reserve(op.b * U, op.s * U);
      ref.each(op.b, op.s, (u) => (ref.res[u] = true));
      break;
    case 'phys_free':
      mb.phys_free(op.b * U, op.s * U);
      ref.each(op.b, op.s, (u) => (ref.res[u] = false));
      break;
    case 'set_node':
      mb.set_node(op.b * U, op.s * U, op.nid);
      ref.each(op.b, op.s, (u) => ref.mem[u] && (ref.mem[u] = { ...ref.mem[u]!, nid: op.nid }));
      break;
    case 'mark_nomap':
    case 'clear_nomap': {
      const set = op.k === 'mark_nomap';
      if (set) mb.mark_nomap(op.b * U, op.s * U);
      else mb.clear_nomap(op.b * U, op.s * U);
      ref.each(op.b, op.s, (u) => {
        const m = ref.mem[u];
        if (m) ref.mem[u] = { ...m, flags: set ? m.flags | MEMBLOCK_NOMAP : m.flags & ~MEMBLOCK_NOMAP };
      });
      break;
    }
    case 'alloc': {
      mb.bottom_up = op.bottomUp;
      let want = ref.find(op.s, op.align, op.nid, op.bottomUp);
      if (!want && op.nid >= 0 && !op.exact) want = ref.find(op.s, op.align, NUMA_NO_NODE, op.bottomUp);
      const got = mb.alloc_range_nid(op.s * U, op.align * U, 0, MEMBLOCK_ALLOC_ACCESSIBLE, op.nid, op.exact);
      expect(got).toBe(want * U);
      if (want) ref.each(want, op.s, (u) => (ref.res[u] = true));
      break;
    }
  }
}

function check(mb: Memblock, ref: Ref): void {
  checkType(mb.memory, (u) => ref.mem[u] !== null);
  checkType(mb.reserved, (u) => ref.res[u]!);
  for (const r of mb.memory.regions) {
    for (let u = r.base / U; u < (r.base + r.size) / U; u++) expect(ref.mem[u]).toEqual({ nid: r.nid, flags: r.flags });
  }
  for (const nid of [NUMA_NO_NODE, 0, 2]) {
    const fwd = [...mb.free_mem_ranges(nid)].map((r) => [r.start / U, r.end / U]);
    const rev = [...mb.free_mem_ranges(nid, true)].map((r) => [r.start / U, r.end / U]);
    expect(rev).toEqual([...fwd].reverse());
    expect(fwd).toEqual(ref.freeRuns(nid));
  }
}

describe('memblock against a per-page reference', () => {
  it('random operation sequences keep every invariant after every step', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const mb = new Memblock();
        const ref = new Ref();
        for (const op of ops) {
          apply(mb, ref, op);
          check(mb, ref);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('allocations never overlap each other or reserved memory, and stay in memory', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ s: fc.integer({ min: 1, max: 64 }), a: fc.constantFrom(1, 8, 64) }), { maxLength: 30 }),
        fc.boolean(),
        (reqs, bottomUp) => {
          const mb = new Memblock();
          mb.add_node(0, 256 * U, 0);
          mb.add_node(512 * U, 256 * U, 1);
          mb.reserve(100 * U, 50 * U);
          mb.bottom_up = bottomUp;
          const taken: [number, number][] = [[100 * U, 150 * U]];
          for (const { s, a } of reqs) {
            const p = mb.phys_alloc(s * U, a * U);
            if (!p) continue;
            expect(p % (a * U)).toBe(0);
            expect(mb.is_region_memory(p, s * U)).toBe(true);
            for (const [ts, te] of taken) expect(p + s * U <= ts || p >= te).toBe(true);
            taken.push([p, p + s * U]);
          }
          expect(mb.reserved_size()).toBe(taken.reduce((sum, [s, e]) => sum + e - s, 0));
        },
      ),
    );
  });
});

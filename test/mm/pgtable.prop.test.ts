/**
 * Page tables against a naive reference: random operation sequences, checked after
 * every step. The reference is a Map from a leaf's first address to {pfn, level, flags}.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LEVEL_SIZE, PageTables, _PAGE_PRESENT, _PAGE_PSE, _PAGE_RW, _PAGE_USER, mk_entry, pte_pfn } from '../../src/kernel/mm/pgtable.ts';
import { GiB, MiB } from '../../src/lib/size.ts';
import { TestAllocator } from './pgtable_helpers.ts';

interface Leaf {
  pfn: number;
  level: number;
  flags: number;
}

const K4 = 4096;
const M2 = 2 * MiB;
// Four PUD slots straddling a PGD boundary (512 GiB), so every level gets exercised.
const BASE = 2 ** 39 - 2 * GiB;
const PUDS = [0, 1, 2, 3];
const PMDS = [0, 1, 2, 511];
const PTES = [0, 1, 2, 511];

const addr = fc.record({ pud: fc.constantFrom(...PUDS), pmd: fc.constantFrom(...PMDS), pte: fc.constantFrom(...PTES) });
const toVa = (a: { pud: number; pmd: number; pte: number }, level: number): number => {
  const va = BASE + a.pud * GiB + (level <= 2 ? a.pmd * M2 : 0) + (level === 1 ? a.pte * K4 : 0);
  return va;
};

const op = fc.oneof(
  fc.record({ k: fc.constant('set' as const), a: addr, level: fc.constantFrom(1, 1, 1, 2, 2, 3), pfn: fc.nat(1 << 20), failAfter: fc.constantFrom(-1, -1, -1, 0, 1, 2) }),
  fc.record({ k: fc.constant('clear' as const), pick: fc.nat() }),
  fc.record({ k: fc.constant('update' as const), pick: fc.nat() }),
  fc.record({ k: fc.constant('split' as const), pick: fc.nat(), fail: fc.boolean() }),
  fc.record({ k: fc.constant('zap' as const), a: addr, gran: fc.constantFrom(1, 2, 3), n: fc.integer({ min: 1, max: 3 }), free: fc.boolean() }),
  fc.record({ k: fc.constant('mprotect' as const), a: addr, gran: fc.constantFrom(1, 2, 3), n: fc.integer({ min: 1, max: 3 }) }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

const entryOf = (l: Leaf): number => mk_entry(l.pfn, l.flags);
const sizeOf = (level: number): number => LEVEL_SIZE[level]!;

/** Tables the reference needs: for each leaf, one table per level from its own up to PUD, plus the PGD. */
function neededTables(ref: Map<number, Leaf>): number {
  const keys = new Set<string>();
  for (const [va, l] of ref) for (let t = l.level; t <= 3; t++) keys.add(`${t}:${Math.floor(va / (sizeOf(t) * 512))}`);
  return keys.size + 1;
}

function overlapping(ref: Map<number, Leaf>, start: number, end: number): number[] {
  return [...ref.entries()].filter(([va, l]) => va < end && va + sizeOf(l.level) > start).map(([va]) => va).sort((x, y) => x - y);
}

function check(pt: PageTables, a: TestAllocator, ref: Map<number, Leaf>, alwaysFree: boolean): void {
  pt.validate();
  const got: [number, number, number][] = [];
  pt.for_each_leaf(0, 2 ** 47, (va, level, e) => got.push([va, level, e]));
  const want = [...ref.entries()].sort((x, y) => x[0] - y[0]).map(([va, l]) => [va, l.level, entryOf(l)]);
  expect(got).toEqual(want);
  for (const [va, l] of ref) {
    for (const off of [0, sizeOf(l.level) - K4]) {
      expect(pt.walk(va + off)).toBe(entryOf(l));
      expect(pt.lastLevel).toBe(l.level);
    }
  }
  const counts = pt.count_leaves();
  expect([counts.pte, counts.pmd, counts.pud]).toEqual([1, 2, 3].map((lv) => [...ref.values()].filter((l) => l.level === lv).length));
  expect(a.count()).toBe(pt.nr_tables());
  if (alwaysFree) expect(pt.nr_tables()).toBe(neededTables(ref));
  else expect(pt.nr_tables()).toBeGreaterThanOrEqual(neededTables(ref));
}

function pick<T>(xs: T[], n: number): T | undefined {
  return xs.length ? xs[n % xs.length] : undefined;
}

function apply(pt: PageTables, a: TestAllocator, ref: Map<number, Leaf>, o: Op, alwaysFree: boolean): void {
  const leaves = [...ref.keys()].sort((x, y) => x - y);
  switch (o.k) {
    case 'set': {
      const va = toVa(o.a, o.level);
      const flags = o.level > 1 ? _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_PSE : _PAGE_PRESENT | _PAGE_RW | _PAGE_USER;
      const pfn = o.pfn * (sizeOf(o.level) / K4);
      const clash = overlapping(ref, va, va + sizeOf(o.level)).length > 0;
      a.failAfter = o.failAfter;
      const before = pt.nr_tables();
      if (clash) {
        expect(() => pt.set_leaf(va, o.level, mk_entry(pfn, flags))).toThrow();
      } else if (pt.set_leaf(va, o.level, mk_entry(pfn, flags))) {
        ref.set(va, { pfn, level: o.level, flags });
      } else {
        expect(pt.nr_tables()).toBe(before);
      }
      a.failAfter = -1;
      return;
    }
    case 'clear': {
      if (alwaysFree) return; // clear_leaf keeps tables, like pte_clear
      const va = pick(leaves, o.pick);
      if (va === undefined) return;
      const l = ref.get(va)!;
      expect(pt.clear_leaf(va, l.level)).toBe(entryOf(l));
      ref.delete(va);
      return;
    }
    case 'update': {
      const va = pick(leaves, o.pick);
      if (va === undefined) return;
      const l = ref.get(va)!;
      const nl = { ...l, flags: l.flags ^ _PAGE_RW };
      expect(pt.update_leaf(va, l.level, entryOf(nl))).toBe(entryOf(l));
      ref.set(va, nl);
      return;
    }
    case 'split': {
      const huge = leaves.filter((va) => ref.get(va)!.level > 1);
      const va = pick(huge, o.pick);
      if (va === undefined) return;
      const l = ref.get(va)!;
      a.failAfter = o.fail ? 0 : -1;
      const ok = l.level === 2 ? pt.split_huge_pmd(va) : pt.split_huge_pud(va);
      a.failAfter = -1;
      if (!ok) return;
      ref.delete(va);
      const step = sizeOf(l.level - 1);
      const flags = l.level === 2 ? l.flags & ~_PAGE_PSE : l.flags;
      for (let i = 0; i < 512; i++) ref.set(va + i * step, { pfn: l.pfn + (i * step) / K4, level: l.level - 1, flags });
      return;
    }
    case 'zap':
    case 'mprotect': {
      const start = toVa(o.a, o.gran);
      const end = start + o.n * sizeOf(o.gran);
      const hit = overlapping(ref, start, end);
      const straddle = hit.some((va) => va < start || va + sizeOf(ref.get(va)!.level) > end);
      const free = o.k === 'zap' && (o.free || alwaysFree);
      if (straddle) {
        expect(() => (o.k === 'zap' ? pt.zap_range(start, end, null, free) : pt.change_protection(start, end, (e) => e))).toThrow(/straddles/);
        return;
      }
      if (o.k === 'mprotect') {
        expect(pt.change_protection(start, end, (e) => e - (e % K4) + ((e % K4) ^ _PAGE_RW))).toBe(hit.length);
        for (const va of hit) ref.get(va)!.flags ^= _PAGE_RW;
        return;
      }
      const seen: number[] = [];
      pt.zap_range(start, end, (va, level, e) => {
        expect(e).toBe(entryOf(ref.get(va)!));
        expect(level).toBe(ref.get(va)!.level);
        seen.push(va);
      }, free);
      expect(seen).toEqual(hit);
      for (const va of hit) ref.delete(va);
      if (free) {
        // No leafless table page survives inside the zapped range.
        pt.for_each_table(start, end, (base, level) => {
          if (level === 4) return;
          const span = sizeOf(level) * 512;
          if (overlapping(ref, base, base + span).length === 0) expect(`empty ${level} table at ${base}`).toBe('freed');
        });
      }
      return;
    }
  }
}

function run(ops: Op[], alwaysFree: boolean): void {
  const a = new TestAllocator();
  const pt = new PageTables(a);
  const ref = new Map<number, Leaf>();
  for (const o of ops) {
    apply(pt, a, ref, o, alwaysFree);
    check(pt, a, ref, alwaysFree);
  }
  pt.destroy();
  expect(a.count()).toBe(0);
  expect(pte_pfn(0)).toBe(0);
}

describe('page tables vs reference (property)', () => {
  it('every zap frees tables: table count equals the tables needed', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => run(ops, true)), { numRuns: 200 });
  });
  it('mixed zaps and clears: leaves match, no leafless table survives a freeing zap', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => run(ops, false)), { numRuns: 200 });
  });
});

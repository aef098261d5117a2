/**
 * The VMA tree against a naive reference: random mmap / munmap / mprotect / mbind
 * sequences, checked after every step. The reference is a map from page number to
 * the page's attributes; the expected VMAs are its maximal mergeable runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MMAP_BASE, VmaTree, is_mergeable_anon_vma, mpol_equal } from '../../src/kernel/mm/vma_tree.ts';
import { type MemPolicy, VM_EXEC, VM_READ, VM_WRITE, VmArea } from '../../src/kernel/mm/vm_area.ts';

const P = 0x1000;
const FLAGS = [VM_READ | VM_WRITE, VM_READ, VM_READ | VM_EXEC];
const policy = (i: number): MemPolicy | null => (i === 0 ? null : { mode: 2, nodes: [i - 1] });

interface Page {
  flags: number;
  pgoff: number;
  pol: number;
}

const op = fc.oneof(
  fc.record({ k: fc.constant('mmap' as const), len: fc.integer({ min: 1, max: 8 }), f: fc.nat(2), pol: fc.nat(2), hint: fc.option(fc.record({ pick: fc.nat(), d: fc.integer({ min: -10, max: 10 }) }), { nil: null }) }),
  fc.record({ k: fc.constant('munmap' as const), pick: fc.nat(), d: fc.integer({ min: -2, max: 2 }), len: fc.integer({ min: 1, max: 10 }) }),
  fc.record({ k: fc.constant('mprotect' as const), pick: fc.nat(), d: fc.integer({ min: -2, max: 2 }), len: fc.integer({ min: 1, max: 10 }), f: fc.nat(2) }),
  fc.record({ k: fc.constant('mbind' as const), pick: fc.nat(), d: fc.integer({ min: -2, max: 2 }), len: fc.integer({ min: 1, max: 10 }), pol: fc.nat(2) }),
  fc.record({ k: fc.constant('touch' as const), pick: fc.nat() }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

/** Occupied page runs [start, end) in page numbers, ascending. */
function runs(ref: Map<number, Page>): [number, number][] {
  const keys = [...ref.keys()].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const k of keys) {
    const last = out[out.length - 1];
    if (last && last[1] === k) last[1]++;
    else out.push([k, k + 1]);
  }
  return out;
}

/** Where top-down get_unmapped_area must put len pages: the top of the highest fitting gap below mmap_base. */
function expectedArea(ref: Map<number, Page>, len: number): number {
  const r = runs(ref);
  let ge = MMAP_BASE / P;
  for (let i = r.length - 1; i >= -1; i--) {
    const gs = i >= 0 ? r[i]![1] : 16; // mmap_min_addr is 16 pages
    if (ge - gs >= len) return ge - len;
    if (i >= 0) ge = Math.min(ge, r[i]![0]);
  }
  throw new Error('no room');
}

/** The expected VMAs: maximal runs of pages with equal flags and policy and consecutive pgoff. */
function maximalRuns(ref: Map<number, Page>): number {
  const keys = [...ref.keys()].sort((a, b) => a - b);
  let n = 0;
  for (let i = 0; i < keys.length; i++) {
    const p = ref.get(keys[i]!)!;
    const q = i > 0 ? ref.get(keys[i - 1]!) : undefined;
    const joins = q && keys[i - 1] === keys[i]! - 1 && q.flags === p.flags && q.pol === p.pol && q.pgoff + 1 === p.pgoff;
    if (!joins) n++;
  }
  return n;
}

function check(t: VmaTree, ref: Map<number, Page>, anon: boolean): void {
  t.validate();
  const vmas = t.toArray();
  let pages = 0;
  for (const v of vmas) {
    for (let a = v.start; a < v.end; a += P) {
      const p = ref.get(a / P);
      expect(p, `page ${a.toString(16)} mapped only in the tree`).toBeDefined();
      expect([p!.flags, p!.pgoff]).toEqual([v.flags, v.pgoff + (a - v.start) / P]);
      expect(mpol_equal(policy(p!.pol), v.policy)).toBe(true);
      pages++;
    }
  }
  expect(pages).toBe(ref.size);
  for (let i = 1; i < vmas.length; i++) {
    const a = vmas[i - 1]!;
    const b = vmas[i]!;
    const mergeable = a.end === b.start && a.flags === b.flags && mpol_equal(a.policy, b.policy) && a.pgoff + (a.end - a.start) / P === b.pgoff && is_mergeable_anon_vma(a.anon_vma, b.anon_vma);
    expect(mergeable, `adjacent mergeable VMAs at ${b.start.toString(16)}`).toBe(false);
  }
  if (!anon) expect(vmas.length).toBe(maximalRuns(ref));
  for (const v of vmas.slice(0, 3)) {
    expect(t.find_vma(v.start - 1)?.end).toBeGreaterThan(v.start - 1);
    expect(t.vma_lookup(v.end - 1)).toBe(v);
  }
}

function range(ref: Map<number, Page>, pick: number, d: number, len: number): [number, number] | null {
  const keys = [...ref.keys()].sort((a, b) => a - b);
  if (!keys.length) return null;
  const s = keys[pick % keys.length]! + d;
  return [s * P, (s + len) * P];
}

function apply(t: VmaTree, ref: Map<number, Page>, o: Op, anon: boolean): void {
  switch (o.k) {
    case 'mmap': {
      const len = o.len;
      let want: number;
      let hint = 0;
      const keys = [...ref.keys()].sort((a, b) => a - b);
      if (o.hint && keys.length) {
        const h = keys[o.hint.pick % keys.length]! + o.hint.d;
        hint = h * P;
        let free = true;
        for (let i = 0; i < len; i++) if (ref.has(h + i)) free = false;
        want = free ? h : expectedArea(ref, len);
      } else {
        want = expectedArea(ref, len);
      }
      const addr = t.get_unmapped_area(len * P, hint);
      expect(addr / P).toBe(want);
      const flags = FLAGS[o.f]!;
      const merged = t.vma_merge_new_range(undefined, undefined, addr, addr + len * P, flags, null, addr / P, policy(o.pol), null);
      if (!merged) t.insert(new VmArea(addr, addr + len * P, flags, addr / P, null, null, policy(o.pol)));
      for (let i = 0; i < len; i++) ref.set(want + i, { flags, pgoff: want + i, pol: o.pol });
      return;
    }
    case 'munmap': {
      const r = range(ref, o.pick, o.d, o.len);
      if (!r) return;
      const [start, end] = r;
      const vmas = t.vmas_in(start, end);
      if (vmas.length) {
        if (vmas[0]!.start < start) t.split_vma(vmas[0]!, start, true);
        const last = vmas[vmas.length - 1]!;
        if (last.end > end) t.split_vma(last, end, false);
        for (const v of vmas) t.remove(v);
      }
      for (let p = start / P; p < end / P; p++) ref.delete(p);
      return;
    }
    case 'mprotect':
    case 'mbind': {
      const r = range(ref, o.pick, o.d, o.len);
      if (!r) return;
      const [start, end] = r;
      if (o.k === 'mprotect') t.modify_range(start, end, () => ({ flags: FLAGS[o.f]! }));
      else t.modify_range(start, end, () => ({ policy: policy(o.pol) }));
      for (let p = start / P; p < end / P; p++) {
        const pg = ref.get(p);
        if (!pg) continue;
        if (o.k === 'mprotect') pg.flags = FLAGS[o.f]!;
        else pg.pol = o.pol;
      }
      return;
    }
    case 'touch': {
      if (!anon || t.count === 0) return;
      const v = t.toArray()[o.pick % t.count]!;
      v.anon_vma ??= {};
      return;
    }
  }
}

function run(ops: Op[], anon: boolean): void {
  const t = new VmaTree();
  const ref = new Map<number, Page>();
  for (const o of ops) {
    apply(t, ref, o, anon);
    check(t, ref, anon);
  }
}

describe('VMA tree vs reference (property)', () => {
  it('mmap/munmap/mprotect/mbind: VMAs are exactly the maximal mergeable runs', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 40 }), (ops) => run(ops, false)), { numRuns: 300 });
  });
  it('with anon_vmas: coverage exact, no adjacent mergeable pair', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 40 }), (ops) => run(ops, true)), { numRuns: 300 });
  });
});

/**
 * The dpage table (fs/dmemfs's xarray of value entries, as 512-slot leaves).
 *
 *   index  0 ... 510 511 | 512 513 ...      one leaf per 512 indexes;
 *          #        #  # |  #               empty leaves are dropped
 */
import { describe, expect, it } from 'vitest';
import { DpageTable, NO_DPAGE } from '../../src/kernel/fs/dmemfs/extent.ts';

describe('DpageTable', () => {
  it('stores, looks up and erases across a leaf boundary', () => {
    const t = new DpageTable();
    t.store(511, 0x1000);
    t.store(512, 0x2000);
    expect([t.lookup(511), t.lookup(512), t.lookup(0), t.size]).toEqual([0x1000, 0x2000, NO_DPAGE, 2]);
    expect(() => t.store(511, 0x3000)).toThrow(/twice/);
    expect(t.erase(511)).toBe(0x1000);
    expect(t.erase(511)).toBe(NO_DPAGE);
    expect(t.size).toBe(1);
  });

  it('next() finds the first entry in [from, limit), skipping absent leaves', () => {
    const t = new DpageTable();
    t.store(5000, 1);
    expect(t.next(0, 10000)).toBe(5000);
    expect(t.next(0, 4000)).toBe(4000);
    expect(t.next(5000, 5001)).toBe(5000);
    expect(t.next(5001, 6000)).toBe(6000);
  });

  it('drain() empties a range in index order; huge indexes are fine', () => {
    const t = new DpageTable();
    const big = 2 ** 40;
    for (const i of [big + 3, 7, 1030, 3]) t.store(i, i * 10);
    const seen: number[] = [];
    t.drain(4, Infinity, (i, phys) => seen.push(i, phys));
    expect(seen).toEqual([7, 70, 1030, 10300, big + 3, (big + 3) * 10]);
    expect(t.size).toBe(1);
    expect(t.lookup(3)).toBe(30);
  });
});

describe('DpageTable leaves as arithmetic runs', () => {
  // A model: the same operations on a plain Map must give the same answers.
  function check(t: DpageTable, m: Map<number, number>, upTo: number): void {
    for (let i = 0; i < upTo; i++) expect(t.lookup(i)).toBe(m.get(i) ?? NO_DPAGE);
    expect(t.size).toBe(m.size);
    const seen: [number, number][] = [];
    t.forEach(0, upTo, (i, p) => seen.push([i, p]));
    expect(seen).toEqual([...m].sort((a, b) => a[0] - b[0]));
  }

  it('runs stored in order, then a break, an erase and a drain behave as a map', () => {
    //  slots   0 ........ 99 100 ... 199 | 200      (step 0x1000 from 0x10_0000)
    //          run A (storeRun x1)  run B extends A | C: not consecutive -> array
    const t = new DpageTable();
    const m = new Map<number, number>();
    const put = (i: number, n: number, phys: number): void => {
      t.storeRun(i, n, phys, 0x1000);
      for (let j = 0; j < n; j++) m.set(i + j, phys + j * 0x1000);
    };
    for (let i = 0; i < 100; i++) put(i, 1, 0x100000 + i * 0x1000);
    put(100, 100, 0x100000 + 100 * 0x1000);
    check(t, m, 600);
    expect(() => t.storeRun(50, 1, 0x100000 + 50 * 0x1000, 0x1000)).toThrow(/twice/);
    put(200, 1, 0x900000); // breaks the run: the leaf becomes an array
    put(300, 300, 0x2000000); // crosses into the next leaf
    check(t, m, 1200);
    expect(t.erase(150)).toBe(0x100000 + 150 * 0x1000);
    m.delete(150);
    check(t, m, 1200);
    const drained: number[] = [];
    t.drain(120, 520, (i) => drained.push(i));
    for (const i of drained) m.delete(i);
    expect(drained.length).toBe(80 - 1 + 1 + 220);
    check(t, m, 1200);
    expect(t.next(0, 1200)).toBe(0);
    expect(t.next(120, 1200)).toBe(520);
  });

  it('a run extended downwards, and a mismatched step, stay correct', () => {
    const t = new DpageTable();
    t.storeRun(10, 5, 0x10000, 0x200000);
    t.storeRun(5, 5, 0x10000 - 5 * 0x200000, 0x200000);
    t.storeRun(15, 1, 0x10000 + 5 * 0x1000, 0x1000);
    expect([t.lookup(4), t.lookup(5), t.lookup(14), t.lookup(15), t.lookup(16), t.size]).toEqual([
      NO_DPAGE, 0x10000 - 5 * 0x200000, 0x10000 + 4 * 0x200000, 0x10000 + 5 * 0x1000, NO_DPAGE, 11,
    ]);
  });
});

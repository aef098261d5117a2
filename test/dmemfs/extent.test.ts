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

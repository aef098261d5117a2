/**
 * Table pages take their entry arrays from per-address-space slabs of 16
 * (pgtable_core.ts new_table). Tables from one slab must not see each other's
 * entries, and tables made after others were freed start empty (slots are never
 * reused, so a freed table's array cannot leak into a new one).
 *
 *   BASE  |P...|P...|P...| ... 40 PTE tables (3 slabs), one leaf at slot t of table t
 *   zap the first 20 (tables freed) and map them again: every new table is empty
 */
import { describe, expect, it } from 'vitest';
import { PageTables, _PAGE_PRESENT, _PAGE_RW, _PAGE_USER, mk_entry } from '../../src/kernel/mm/pgtable.ts';
import { MiB } from '../../src/lib/size.ts';
import { TestAllocator } from './pgtable_helpers.ts';

const BASE = 0x7f0000000000;
const RW = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER;
const M2 = 2 * MiB;

describe('page-table entry slabs', () => {
  it('keep tables apart across slab boundaries and start new tables empty after frees', () => {
    const pt = new PageTables(new TestAllocator());
    const va = (t: number): number => BASE + t * M2 + t * 4096;
    for (let t = 0; t < 40; t++) expect(pt.set_leaf(va(t), 1, mk_entry(1000 + t, RW))).toBe(true);
    expect(pt.nr_tables(1)).toBe(40);
    for (let t = 0; t < 40; t++) {
      expect(pt.walk(va(t))).toBe(mk_entry(1000 + t, RW));
      expect(pt.pte_page(va(t))!.entries.reduce((n, e) => n + (e !== 0 ? 1 : 0), 0)).toBe(1);
    }
    pt.zap_range(BASE, BASE + 20 * M2, null, true);
    expect(pt.nr_tables(1)).toBe(20);
    for (let t = 0; t < 20; t++) {
      expect(pt.walk(va(t))).toBe(0);
      expect(pt.set_leaf(va(t) + 4096, 1, mk_entry(2000 + t, RW))).toBe(true);
      expect(pt.pte_page(va(t))!.entries.reduce((n, e) => n + (e !== 0 ? 1 : 0), 0)).toBe(1);
    }
    for (let t = 20; t < 40; t++) expect(pt.walk(va(t))).toBe(mk_entry(1000 + t, RW));
    pt.validate();
  });
});

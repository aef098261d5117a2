/**
 * Page-table geometry cases, in the style of tools/testing/vma and
 * tools/testing/memblock: one case per shape, a picture of the address space above
 * it, exact table and leaf counts after each step.
 *
 * Pictures: `|` a table boundary, `P` a 4K pte, `M` a 2M pmd leaf, `G` a 1G pud leaf,
 * `.` nothing mapped. Addresses are offsets from BASE, a 1 GiB-aligned user address.
 */
import { describe, expect, it } from 'vitest';
import {
  PageTables, _PAGE_ACCESSED, _PAGE_DEVMAP, _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_PSE, _PAGE_RW, _PAGE_SPECIAL, _PAGE_USER,
  TASK_SIZE_MAX, leaf_pfn_at, mk_entry, pmd_leaf, pte_dirty, pte_flags, pte_pfn, pte_present, pte_special, pte_write,
  pte_wrprotect,
} from '../../src/kernel/mm/pgtable.ts';
import { GiB, MiB } from '../../src/lib/size.ts';
import { TestAllocator } from './pgtable_helpers.ts';

const K4 = 4096;
const M2 = 2 * MiB;
const BASE = 0x7f0000000000; // 1 GiB aligned, PGD slot 254
const RW = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER;
const HUGE = RW | _PAGE_PSE;

function setup(): { a: TestAllocator; pt: PageTables } {
  const a = new TestAllocator();
  return { a, pt: new PageTables(a) };
}

/** [pte tables, pmd tables, pud tables, pgd] */
function tables(pt: PageTables): number[] {
  return [pt.nr_tables(1), pt.nr_tables(2), pt.nr_tables(3), pt.nr_tables(4)];
}

describe('entry encoding', () => {
  it('keeps pfn and flags apart for pfns up to 2^40', () => {
    const pfn = 2 ** 40 - 1;
    const e = mk_entry(pfn, RW | _PAGE_DIRTY | _PAGE_SPECIAL | _PAGE_DEVMAP);
    expect(pte_pfn(e)).toBe(pfn);
    expect(pte_flags(e)).toBe(RW | _PAGE_DIRTY | _PAGE_SPECIAL | _PAGE_DEVMAP);
    expect([pte_present(e), pte_write(e), pte_dirty(e), pte_special(e)]).toEqual([true, true, true, true]);
    const ro = pte_wrprotect(e);
    expect(pte_write(ro)).toBe(false);
    expect(pte_pfn(ro)).toBe(pfn);
    expect(leaf_pfn_at(mk_entry(0x40000, HUGE), 2, BASE + 5 * K4 + 17)).toBe(0x40005);
  });
});

describe('page tables: install', () => {
  it('an empty mm has only its PGD', () => {
    const { a, pt } = setup();
    expect(tables(pt)).toEqual([0, 0, 0, 1]);
    expect(a.count()).toBe(1);
    expect(pt.walk(BASE)).toBe(0);
    expect(pt.lastLevel).toBe(0);
  });

  it('first pte allocates one table per level', () => {
    /*
     * |P.......| one PTE table under one PMD table under one PUD table
     * 0        2M
     */
    const { a, pt } = setup();
    const e = mk_entry(0x1234, RW);
    expect(pt.set_leaf(BASE, 1, e)).toBe(true);
    expect(tables(pt)).toEqual([1, 1, 1, 1]);
    expect(a.count()).toBe(4);
    expect(pt.walk(BASE + 100)).toBe(e);
    expect(pt.lastLevel).toBe(1);
    expect(pt.walk(BASE + K4)).toBe(0);
    expect(pt.pgtables_bytes()).toBe(4 * K4);
  });

  it('neighbouring ptes share a table; the next 2M needs one more PTE table', () => {
    /*
     * |PP......|P.......|
     * 0        2M       4M
     */
    const { pt } = setup();
    pt.set_leaf(BASE, 1, mk_entry(1, RW));
    pt.set_leaf(BASE + K4, 1, mk_entry(2, RW));
    expect(tables(pt)).toEqual([1, 1, 1, 1]);
    pt.set_leaf(BASE + M2, 1, mk_entry(3, RW));
    expect(tables(pt)).toEqual([2, 1, 1, 1]);
    expect(pt.count_leaves()).toEqual({ pte: 3, pmd: 0, pud: 0 });
  });

  it('a pmd leaf needs no PTE table; a pud leaf needs no PMD table', () => {
    /*
     * |MMMMMMMM|  at BASE        (PUD + PMD tables)
     * |GGGGGGGG|  at BASE + 1G   (same PUD table, no PMD table)
     */
    const { pt } = setup();
    pt.set_leaf(BASE, 2, mk_entry(0x200, HUGE));
    expect(tables(pt)).toEqual([0, 1, 1, 1]);
    expect(pt.walk(BASE + M2 - 1)).toBe(mk_entry(0x200, HUGE));
    expect(pt.lastLevel).toBe(2);
    pt.set_leaf(BASE + GiB, 3, mk_entry(0x40000, RW)); // _PAGE_PSE is added (pud_mkhuge)
    expect(tables(pt)).toEqual([0, 1, 1, 1]);
    const g = pt.walk(BASE + GiB + 123 * MiB);
    expect(pt.lastLevel).toBe(3);
    expect(pmd_leaf(g)).toBe(true);
    expect(pt.count_leaves()).toEqual({ pte: 0, pmd: 1, pud: 1 });
  });

  it('refuses overlaps: same slot, small inside huge, huge over a mapped table', () => {
    /*
     * |P.......|MMMMMMMM|
     * 0        2M       4M
     */
    const { pt } = setup();
    pt.set_leaf(BASE, 1, mk_entry(1, RW));
    pt.set_leaf(BASE + M2, 2, mk_entry(0x200, HUGE));
    expect(() => pt.set_leaf(BASE, 1, mk_entry(9, RW))).toThrow(/already set/);
    expect(() => pt.set_leaf(BASE + M2 + K4, 1, mk_entry(9, RW))).toThrow(/split it first/);
    expect(() => pt.set_leaf(BASE, 2, mk_entry(0x400, HUGE))).toThrow(/mapped lower table/);
    expect(() => pt.set_leaf(BASE, 3, mk_entry(0x40000, HUGE))).toThrow(/mapped lower table/);
    expect(() => pt.set_leaf(BASE + K4, 2, mk_entry(0x400, HUGE))).toThrow(/aligned/);
    pt.validate();
    expect(tables(pt)).toEqual([1, 1, 1, 1]);
  });

  it('a huge leaf over an empty lower table frees that table', () => {
    /*
     * |P.......|  clear_leaf  |........|  set pmd  |MMMMMMMM|
     */
    const { a, pt } = setup();
    pt.set_leaf(BASE, 1, mk_entry(1, RW));
    expect(pt.clear_leaf(BASE, 1)).toBe(mk_entry(1, RW));
    expect(tables(pt)).toEqual([1, 1, 1, 1]); // clearing keeps the table, as Linux does
    expect(pt.is_none(BASE, 2)).toBe(false); // pmd_none is false while the PTE table exists
    pt.set_leaf(BASE, 2, mk_entry(0x200, HUGE));
    expect(tables(pt)).toEqual([0, 1, 1, 1]);
    expect(a.count(1)).toBe(0);
    pt.validate();
  });

  it('allocation failure part way down leaves nothing behind', () => {
    const { a, pt } = setup();
    a.failAfter = 2; // PUD and PMD tables succeed, the PTE table fails
    expect(pt.set_leaf(BASE, 1, mk_entry(1, RW))).toBe(false);
    expect(tables(pt)).toEqual([0, 0, 0, 1]);
    expect(a.count()).toBe(1);
    expect(pt.walk(BASE)).toBe(0);
    a.failAfter = -1;
    expect(pt.set_leaf(BASE, 1, mk_entry(1, RW))).toBe(true);
    pt.validate();
  });

  it('the last user page and the first page are mappable', () => {
    const { pt } = setup();
    pt.set_leaf(TASK_SIZE_MAX - K4, 1, mk_entry(5, RW));
    pt.set_leaf(0, 1, mk_entry(6, RW));
    expect(pt.walk(TASK_SIZE_MAX - 1)).toBe(mk_entry(5, RW));
    expect(tables(pt)).toEqual([2, 2, 2, 1]);
    expect(() => pt.walk(2 ** 47)).toThrow(RangeError);
  });
});

describe('page tables: update, split', () => {
  it('update_leaf replaces, clear_leaf returns the old entry', () => {
    const { pt } = setup();
    pt.set_leaf(BASE, 1, mk_entry(1, RW));
    expect(pt.update_leaf(BASE, 1, mk_entry(1, RW | _PAGE_DIRTY | _PAGE_ACCESSED))).toBe(mk_entry(1, RW));
    expect(pte_dirty(pt.walk(BASE))).toBe(true);
    expect(() => pt.update_leaf(BASE + K4, 1, mk_entry(2, RW))).toThrow(/no pte leaf/);
    expect(pt.clear_leaf(BASE + K4, 1)).toBe(0);
  });

  it('split_huge_pmd: one 2M leaf becomes 512 consecutive ptes', () => {
    /*
     * |MMMMMMMM|  →  |PPPPPPPP|  (+1 PTE table, -1 pmd leaf, +512 ptes)
     */
    const { pt } = setup();
    pt.set_leaf(BASE, 2, mk_entry(0x800, HUGE | _PAGE_DIRTY));
    expect(pt.split_huge_pmd(BASE + 7 * K4)).toBe(true);
    expect(tables(pt)).toEqual([1, 1, 1, 1]);
    expect(pt.count_leaves()).toEqual({ pte: 512, pmd: 0, pud: 0 });
    for (const i of [0, 1, 255, 511]) {
      expect(pt.walk(BASE + i * K4)).toBe(mk_entry(0x800 + i, RW | _PAGE_DIRTY));
      expect(pt.lastLevel).toBe(1);
    }
    expect(() => pt.split_huge_pmd(BASE)).toThrow(/no pmd leaf/);
    pt.validate();
  });

  it('split_huge_pud: one 1G leaf becomes 512 pmd leaves; then split one of those', () => {
    const { a, pt } = setup();
    pt.set_leaf(BASE, 3, mk_entry(0x40000, HUGE));
    expect(pt.split_huge_pud(BASE + 5 * M2)).toBe(true);
    expect(tables(pt)).toEqual([0, 1, 1, 1]);
    expect(pt.walk(BASE + 3 * M2)).toBe(mk_entry(0x40000 + 3 * 512, HUGE));
    expect(pt.lastLevel).toBe(2);
    a.failAfter = 0;
    expect(pt.split_huge_pmd(BASE + 3 * M2)).toBe(false); // no PTE table: unchanged
    expect(pt.count_leaves()).toEqual({ pte: 0, pmd: 512, pud: 0 });
    a.failAfter = -1;
    expect(pt.split_huge_pmd(BASE + 3 * M2)).toBe(true);
    expect(pt.count_leaves()).toEqual({ pte: 512, pmd: 511, pud: 0 });
    pt.validate();
  });
});

describe('page tables: zap and free', () => {
  it('zap without freeing keeps the tables (MADV_DONTNEED)', () => {
    /*
     * |PP......|P.......|  zap [0, 4M)  |........|........|
     */
    const { pt } = setup();
    for (const va of [0, K4, M2]) pt.set_leaf(BASE + va, 1, mk_entry(va / K4 + 1, RW));
    const seen: number[] = [];
    pt.zap_range(BASE, BASE + 2 * M2, (va, level) => seen.push(va - BASE, level), false);
    expect(seen).toEqual([0, 1, K4, 1, M2, 1]);
    expect(tables(pt)).toEqual([2, 1, 1, 1]);
    expect(pt.count_leaves()).toEqual({ pte: 0, pmd: 0, pud: 0 });
  });

  it('zap with freeing releases every table that became empty, up to the PGD', () => {
    const { a, pt } = setup();
    for (const va of [0, K4, M2]) pt.set_leaf(BASE + va, 1, mk_entry(va / K4 + 1, RW));
    pt.zap_range(BASE, BASE + 2 * M2, null, true);
    expect(tables(pt)).toEqual([0, 0, 0, 1]);
    expect(a.count()).toBe(1);
  });

  it('zap with freeing keeps a table that still maps something', () => {
    /*
     * |PP......|  zap [4K, 8K)  |P.......|  the PTE table stays
     */
    const { pt } = setup();
    pt.set_leaf(BASE, 1, mk_entry(1, RW));
    pt.set_leaf(BASE + K4, 1, mk_entry(2, RW));
    pt.zap_range(BASE + K4, BASE + 2 * K4, null, true);
    expect(tables(pt)).toEqual([1, 1, 1, 1]);
    expect(pt.walk(BASE)).toBe(mk_entry(1, RW));
  });

  it('floor and ceiling keep tables a neighbouring VMA may share (free_pgd_range)', () => {
    /*
     *  prev ends at 1M    unmapped [1M, 1M+4K)    next starts at 3M
     * |....P...|........|   floor = 1M, ceiling = 3M
     * The PTE table spans [0, 2M): below floor, so it stays though empty.
     */
    const { pt } = setup();
    pt.set_leaf(BASE + MiB, 1, mk_entry(1, RW));
    pt.zap_range(BASE + MiB, BASE + MiB + K4, null, true, BASE + MiB, BASE + 3 * MiB);
    expect(tables(pt)).toEqual([1, 1, 1, 1]);
    // With no neighbours (floor 0, ceiling top) everything goes.
    pt.zap_range(BASE + MiB, BASE + MiB + K4, null, true, 0);
    expect(tables(pt)).toEqual([0, 0, 0, 1]);
  });

  it('empty tables left by an earlier non-freeing zap go with the next freeing one', () => {
    const { pt } = setup();
    pt.set_leaf(BASE, 1, mk_entry(1, RW));
    pt.set_leaf(BASE + M2, 1, mk_entry(2, RW));
    pt.zap_range(BASE, BASE + M2, null, false);
    expect(tables(pt)).toEqual([2, 1, 1, 1]);
    pt.zap_range(BASE + M2, BASE + 2 * M2, null, true);
    // The PMD table [BASE, BASE+1G) is leafless: freed with both PTE tables below it.
    expect(tables(pt)).toEqual([0, 0, 0, 1]);
    pt.validate();
  });

  it('a huge leaf straddling the range is refused before anything changes', () => {
    /*
     * |P.......|MMMMMMMM|   zap [0, 3M) would cut the pmd leaf
     */
    const { pt } = setup();
    pt.set_leaf(BASE, 1, mk_entry(1, RW));
    pt.set_leaf(BASE + M2, 2, mk_entry(0x200, HUGE));
    expect(() => pt.zap_range(BASE, BASE + 3 * MiB, null, true)).toThrow(/straddles/);
    expect(pt.count_leaves()).toEqual({ pte: 1, pmd: 1, pud: 0 });
    expect(() => pt.change_protection(BASE + 3 * MiB, BASE + 5 * MiB, (e) => e)).toThrow(/straddles/);
    pt.zap_range(BASE, BASE + 4 * MiB, null, true);
    expect(tables(pt)).toEqual([0, 0, 0, 1]);
  });

  it('destroy frees every table page including the PGD', () => {
    const { a, pt } = setup();
    pt.set_leaf(BASE, 1, mk_entry(1, RW));
    pt.set_leaf(BASE + GiB, 3, mk_entry(0x40000, HUGE));
    pt.set_leaf(0x400000, 2, mk_entry(0x200, HUGE));
    pt.destroy();
    expect(a.count()).toBe(0);
    expect(pt.nr_tables()).toBe(0);
    expect(() => pt.set_leaf(BASE, 1, mk_entry(1, RW))).toThrow();
  });
});

describe('page tables: iteration and protection', () => {
  it('for_each_leaf visits in address order across levels', () => {
    /*
     * |.P......|MMMMMMMM|   ...   |GGGG| at +1G
     */
    const { pt } = setup();
    pt.set_leaf(BASE + GiB, 3, mk_entry(0x40000, HUGE));
    pt.set_leaf(BASE + M2, 2, mk_entry(0x200, HUGE));
    pt.set_leaf(BASE + K4, 1, mk_entry(1, RW));
    const seen: [number, number][] = [];
    pt.for_each_leaf(BASE, BASE + 2 * GiB, (va, level) => seen.push([va - BASE, level]));
    expect(seen).toEqual([[K4, 1], [M2, 2], [GiB, 3]]);
    expect(pt.count_leaves(BASE + M2, BASE + M2 + K4)).toEqual({ pte: 0, pmd: 1, pud: 0 });
    const tablesSeen: number[] = [];
    pt.for_each_table(BASE, BASE + 2 * GiB, (_b, level) => tablesSeen.push(level));
    expect(tablesSeen).toEqual([4, 3, 2, 1]);
  });

  it('change_protection write-protects every leaf and counts changes', () => {
    const { pt } = setup();
    pt.set_leaf(BASE, 1, mk_entry(1, RW));
    pt.set_leaf(BASE + K4, 1, mk_entry(2, _PAGE_PRESENT | _PAGE_USER));
    pt.set_leaf(BASE + M2, 2, mk_entry(0x200, HUGE));
    expect(pt.change_protection(BASE, BASE + 2 * M2, (e) => pte_wrprotect(e))).toBe(2);
    expect(pte_write(pt.walk(BASE))).toBe(false);
    expect(pt.walk(BASE + M2)).toBe(mk_entry(0x200, _PAGE_PRESENT | _PAGE_USER | _PAGE_PSE));
    pt.validate();
  });
});

/**
 * The page tables of one address space: x86-64 4-level paging (PGD → PUD → PMD →
 * PTE, P4D folded), user half only. This module adds the range operations to the
 * core in pgtable_core.ts (mm/memory.c: zap_pte_range/zap_pmd_range/unmap_page_range,
 * free_pgtables, free_pgd_range; mm/mprotect.c: change_protection; mm/ptdump.c) and
 * re-exports the entry encoding (pgtable_types.ts): import page-table things from here.
 */

import { PAGE_SIZE } from '../../lib/size.ts';
import { PageTablesCore, type LeafVisitor, type PtPage, has_leaves, slot_span } from './pgtable_core.ts';
import { _PAGE_PRESENT, _PAGE_PSE, _PAGE_TABLE, LEVEL_SIZE, PTRS_PER_PTE, USER_PGTABLES_CEILING, USER_VA_END, level_name, mk_entry } from './pgtable_types.ts';

export * from './pgtable_types.ts';
export type { LeafVisitor, PgtableAllocator } from './pgtable_core.ts';

/** Leaf counts by level, as count_leaves returns them. */
export interface LeafCounts {
  pte: number;
  pmd: number;
  pud: number;
}

/** The page tables of one mm (mm->pgd and everything below it). */
export class PageTables extends PageTablesCore {
  /**
   * Remove every leaf in [start, end) (zap_page_range / unmap_page_range), calling
   * `visit` for each after clearing it. A huge leaf only partly inside the range is
   * an error (callers split first) and is detected before anything changes.
   * With free_tables, table pages that overlap the range, became leafless and whose
   * whole span lies inside [floor, ceiling) are freed, as free_pgtables /
   * free_pgd_range do with floor = prev->vm_end and ceiling = next->vm_start. The
   * defaults free every leafless table the range touches. `visit` must not modify
   * these page tables.
   */
  zap_range(start: number, end: number, visit: LeafVisitor | null, free_tables: boolean, floor = 0, ceiling = USER_PGTABLES_CEILING): void {
    this.check_range('zap_range', start, end);
    if (start === end) return;
    this.check_boundary('zap_range', start, end);
    this.zap_table(this.pgd, 0, start, end, visit, free_tables, floor, ceiling);
  }

  private zap_table(t: PtPage, base: number, start: number, end: number, visit: LeafVisitor | null, free: boolean, floor: number, ceiling: number): void {
    const L = t.level;
    const size = LEVEL_SIZE[L]!;
    const [i0, i1] = slot_span(base, size, start, end);
    const ent = t.entries;
    if (L === 1) {
      for (let i = i0; i < i1; i++) {
        const e = ent[i]!;
        if (e === 0) continue;
        ent[i] = 0;
        t.used--;
        this.leaves[1]!--;
        if (visit !== null) visit(base + i * size, 1, e);
      }
      return;
    }
    for (let i = i0; i < i1; i++) {
      const e = ent[i]!;
      if (e === 0) continue;
      const va = base + i * size;
      const child = t.children[i]!;
      if (child === null) {
        ent[i] = 0;
        t.used--;
        this.leaves[L]!--;
        if (visit !== null) visit(va, L, e);
        continue;
      }
      this.zap_table(child, va, start, end, visit, free, floor, ceiling);
      if (free && va >= floor && va + size <= ceiling && (child.used === 0 || !has_leaves(child))) {
        this.free_subtree(child);
        t.children[i] = null;
        ent[i] = 0;
        t.used--;
      }
    }
  }

  /** Visit every leaf overlapping [start, end) in address order. */
  for_each_leaf(start: number, end: number, visit: LeafVisitor): void {
    this.check_range('for_each_leaf', start, end);
    if (start < end) this.walk_range(this.pgd, 0, start, end, visit);
  }

  private walk_range(t: PtPage, base: number, start: number, end: number, visit: LeafVisitor): void {
    const L = t.level;
    const size = LEVEL_SIZE[L]!;
    const [i0, i1] = slot_span(base, size, start, end);
    for (let i = i0; i < i1; i++) {
      const e = t.entries[i]!;
      if (e === 0) continue;
      const child = L > 1 ? t.children[i]! : null;
      if (child === null) visit(base + i * size, L, e);
      else this.walk_range(child, base + i * size, start, end, visit);
    }
  }

  /**
   * Rewrite every leaf in [start, end) with fn(entry, level) (change_protection).
   * Returning 0 clears the leaf. Huge leaves partly inside the range are an error.
   * Returns the number of leaves whose entry changed.
   */
  change_protection(start: number, end: number, fn: (entry: number, level: number) => number): number {
    this.check_range('change_protection', start, end);
    if (start === end) return 0;
    this.check_boundary('change_protection', start, end);
    return this.change_table(this.pgd, 0, start, end, fn);
  }

  private change_table(t: PtPage, base: number, start: number, end: number, fn: (entry: number, level: number) => number): number {
    const L = t.level;
    const size = LEVEL_SIZE[L]!;
    const [i0, i1] = slot_span(base, size, start, end);
    let changed = 0;
    for (let i = i0; i < i1; i++) {
      const e = t.entries[i]!;
      if (e === 0) continue;
      const child = L > 1 ? t.children[i]! : null;
      if (child !== null) {
        changed += this.change_table(child, base + i * size, start, end, fn);
        continue;
      }
      const n = fn(e, L);
      if (n === e) continue;
      changed++;
      if (n === 0) {
        t.entries[i] = 0;
        t.used--;
        this.leaves[L]!--;
      } else {
        t.entries[i] = this.fix_huge(n, L);
      }
    }
    return changed;
  }

  /**
   * Visit every table page whose span overlaps [start, end), parents before children
   * (a ptdump of the table pages): its first address, the level of its entries and
   * how many entries are in use. The PGD is visited too (level 4).
   */
  for_each_table(start: number, end: number, visit: (base: number, level: number, used: number) => void): void {
    this.check_range('for_each_table', start, end);
    const rec = (t: PtPage, base: number): void => {
      visit(base, t.level, t.used);
      if (t.level === 1) return;
      const size = LEVEL_SIZE[t.level]!;
      const [i0, i1] = slot_span(base, size, start, end);
      for (let i = i0; i < i1; i++) {
        const child = t.children[i]!;
        if (child !== null) rec(child, base + i * size);
      }
    };
    if (start < end) rec(this.pgd, 0);
  }

  /** Leaves overlapping [start, end) by level (whole address space by default). */
  count_leaves(start = 0, end = USER_VA_END): LeafCounts {
    if (start === 0 && end === USER_VA_END) return { pte: this.leaves[1]!, pmd: this.leaves[2]!, pud: this.leaves[3]! };
    const c: LeafCounts = { pte: 0, pmd: 0, pud: 0 };
    this.for_each_leaf(start, end, (_va, level) => {
      if (level === 1) c.pte++;
      else if (level === 2) c.pmd++;
      else c.pud++;
    });
    return c;
  }

  /** Check internal consistency (used counts, table and leaf counters); throws on the first violation. */
  validate(): void {
    const tables = [0, 0, 0, 0, 0];
    const leaves = [0, 0, 0, 0];
    const visit = (t: PtPage): void => {
      tables[t.level]!++;
      let used = 0;
      for (let i = 0; i < PTRS_PER_PTE; i++) {
        const e = t.entries[i]!;
        const child = t.level > 1 ? t.children[i]! : null;
        if (child !== null) {
          if (e !== mk_entry(child.pfn, _PAGE_TABLE)) throw new Error(`validate: table entry mismatch at level ${t.level} slot ${i}`);
          if (child.level !== t.level - 1) throw new Error('validate: child level');
          used++;
          visit(child);
        } else if (e !== 0) {
          if (t.level > 1 && (e % PAGE_SIZE & (_PAGE_PRESENT | _PAGE_PSE)) === _PAGE_PRESENT) {
            throw new Error(`validate: present ${level_name(t.level)} leaf without _PAGE_PSE`);
          }
          used++;
          leaves[t.level]!++;
        }
      }
      if (used !== t.used) throw new Error(`validate: used ${t.used} != ${used} at level ${t.level}`);
    };
    if (this.dead) return;
    visit(this.pgd);
    for (let l = 1; l <= 4; l++) if (tables[l] !== this.tables[l]) throw new Error(`validate: ${tables[l]} tables at level ${l}, counted ${this.tables[l]}`);
    for (let l = 1; l <= 3; l++) if (leaves[l] !== this.leaves[l]) throw new Error(`validate: ${leaves[l]} leaves at level ${l}, counted ${this.leaves[l]}`);
  }

}

/**
 * The core of an address space's page tables: the table pages, the walk and the
 * single-entry operations (mm/memory.c: __pte_alloc, __pmd_alloc, __pud_alloc;
 * mm/huge_memory.c: __split_huge_pmd_locked, __split_huge_pud_locked;
 * arch/x86/mm/pgtable.c: pgd_alloc). The range operations are in pgtable.ts, which is
 * the module to import.
 *
 * Every table page is a frame from the page allocator (PgtableAllocator), so it shows
 * up in /proc/meminfo PageTables; its 512 entries live in a Float64Array (a slice of
 * a per-address-space slab, pgtable_page.ts) next to a JS array of child tables for speed. The entry
 * of a table slot still holds the child's pfn with _PAGE_TABLE flags, as the
 * hardware format does. The table's contents are not mirrored into the frame's DRAM
 * bytes. The kernel half of the PGD (slots 256..511) is not populated: the model
 * has no kernel mappings.
 *
 * Virtual addresses are split into gib = floor(va / 2^30) (< 2^18) and
 * off = va - gib * 2^30 (< 2^30); both fit in 31 bits, so the table indices are
 * taken with exact bitwise operators on those small parts, never on the address.
 */

import { Errno } from '../../lib/errno.ts';
import { GiB, PAGE_SIZE } from '../../lib/size.ts';
import {
  _PAGE_PRESENT, _PAGE_PSE, _PAGE_TABLE, LEVEL_SIZE, PG_LEVEL_512G, PTRS_PER_PTE, USER_VA_END, level_name, mk_entry,
  pte_clear_flags,
} from './pgtable_types.ts';
import { PtPage, PtSlab } from './pgtable_page.ts';

export { PtPage };

/** Where table pages come from (the mm injects the page allocator; pte_alloc_one / pmd_alloc_one). */
export interface PgtableAllocator {
  /** pfn of a zeroed page for a table holding entries of `level`; -1 when out of memory. */
  alloc_table(level: number): number;
  /** Return a table page to the allocator. */
  free_table(pfn: number, level: number): void;
}

/** Called for each leaf: its first virtual address, level and entry. */
export type LeafVisitor = (va: number, level: number, entry: number) => void;

/** Page tables without the range operations (see PageTables in pgtable.ts). */
export class PageTablesCore {
  /** Level of the entry the last walk() returned (0 when none). */
  lastLevel = 0;
  protected pgd: PtPage;
  /** Table pages by level of the entries they hold (1 = PTE tables ... 4 = PGD). */
  protected readonly tables = [0, 0, 0, 0, 0];
  /** Leaves by level. */
  protected readonly leaves = [0, 0, 0, 0];
  protected dead = false;
  /** Where table pages' entry arrays come from (pgtable_page.ts). */
  private readonly slab = new PtSlab();

  /** pgd_alloc: the PGD page is allocated now; throws ENOMEM when it cannot be. */
  constructor(protected readonly allocator: PgtableAllocator) {
    const pfn = allocator.alloc_table(PG_LEVEL_512G);
    if (pfn < 0) throw new Errno('ENOMEM', 'pgd_alloc');
    this.pgd = new PtPage(pfn, PG_LEVEL_512G);
    this.tables[PG_LEVEL_512G] = 1;
  }

  /** pfn of the PGD page (what CR3 would hold). */
  get pgd_pfn(): number {
    return this.pgd.pfn;
  }

  /** Table pages at one level (1 = PTE tables, 2 = PMD, 3 = PUD, 4 = PGD), or all of them. */
  nr_tables(level?: number): number {
    if (level === undefined) return this.tables[1]! + this.tables[2]! + this.tables[3]! + this.tables[4]!;
    return this.tables[level] ?? 0;
  }

  /** Bytes of page-table memory (mm_pgtables_bytes). */
  pgtables_bytes(): number {
    return this.nr_tables() * PAGE_SIZE;
  }

  /**
   * The leaf entry covering `va` (0 if none), with its level left in `lastLevel`.
   * The fault hot path: no allocation, no object returned.
   */
  walk(va: number): number {
    if (!(va >= 0 && va < USER_VA_END)) throw new RangeError(`walk: va ${va} outside the user half`);
    const gib = Math.floor(va / GiB);
    const off = va - gib * GiB;
    const pud = this.pgd.children[gib >>> 9]!;
    if (pud === null) {
      this.lastLevel = 0;
      return 0;
    }
    const i3 = gib & 511;
    const pmd = pud.children[i3]!;
    if (pmd === null) {
      const e = pud.entries[i3]!;
      this.lastLevel = e === 0 ? 0 : 3;
      return e;
    }
    const i2 = off >>> 21;
    const pt = pmd.children[i2]!;
    if (pt === null) {
      const e = pmd.entries[i2]!;
      this.lastLevel = e === 0 ? 0 : 2;
      return e;
    }
    const e = pt.entries[(off >>> 12) & 511]!;
    this.lastLevel = e === 0 ? 0 : 1;
    return e;
  }

  /**
   * Install a leaf at `va` (aligned to the level's size), allocating the missing
   * tables first (__pte_alloc / __pmd_alloc). Returns false, with nothing changed,
   * when a table page cannot be allocated. Throws when the slot already holds a
   * leaf, when a bigger leaf covers `va`, or when a huge leaf would overlap a lower
   * table that still maps something: callers clear or split first. An empty lower
   * table in the way is freed. Present entries at PMD/PUD level get _PAGE_PSE.
   */
  set_leaf(va: number, level: number, entry: number): boolean {
    if (level === 1 && entry !== 0 && va >= 0 && va < USER_VA_END && va % PAGE_SIZE === 0) {
      const gib = Math.floor(va / GiB);
      const off = va - gib * GiB;
      const pud = this.pgd.children[gib >>> 9]!;
      if (pud !== null) {
        const pmd = pud.children[gib & 511]!;
        if (pmd !== null) {
          const pt = pmd.children[off >>> 21]!;
          if (pt !== null) {
            const i = (off >>> 12) & 511;
            if (pt.entries[i] !== 0) throw new Error(`set_leaf: pte at ${va.toString(16)} already set`);
            pt.entries[i] = entry;
            pt.used++;
            this.leaves[1]!++;
            return true;
          }
        }
      }
    }
    return this.set_leaf_slow(va, level, entry);
  }

  /**
   * The PTE table page covering `va`, or null when there is none (no table yet,
   * or a huge leaf covers va). For batched faults over one table (fault_run.ts):
   * read its entries directly and fill empty slots with set_pte().
   */
  pte_page(va: number): PtPage | null {
    if (this.dead || !(va >= 0 && va < USER_VA_END)) return null;
    const gib = Math.floor(va / GiB);
    const pud = this.pgd.children[gib >>> 9]!;
    if (pud === null) return null;
    const pmd = pud.children[gib & 511]!;
    if (pmd === null) return null;
    return pmd.children[(va - gib * GiB) >>> 21]!;
  }

  /** Fill the empty slot i of a PTE table page from pte_page() (set_leaf without the walk). */
  set_pte(pt: PtPage, i: number, entry: number): void {
    if (pt.entries[i] !== 0 || entry === 0 || pt.level !== 1) throw new Error(`set_pte: slot ${i} already set or bad entry`);
    pt.entries[i] = entry;
    pt.used++;
    this.leaves[1]!++;
  }

  private set_leaf_slow(va: number, level: number, entry: number): boolean {
    this.check_leaf_args('set_leaf', va, level);
    if (entry === 0) throw new Error('set_leaf: empty entry (use clear_leaf)');
    entry = this.fix_huge(entry, level);
    let t = this.pgd;
    for (let L = PG_LEVEL_512G; L > level; L--) {
      const idx = index_of(va, L);
      const child = t.children[idx]!;
      if (child === null) {
        if (t.entries[idx] !== 0) {
          throw new Error(`set_leaf: ${level_name(L - 1)} leaf covers ${va.toString(16)}; split it first`);
        }
        return this.populate(t, idx, L - 1, va, level, entry);
      }
      t = child;
    }
    const idx = index_of(va, level);
    const lower = level > 1 ? t.children[idx]! : null;
    if (lower !== null) {
      if (has_leaves(lower)) {
        throw new Error(`set_leaf: ${level_name(level)} leaf at ${va.toString(16)} overlaps a mapped lower table`);
      }
      this.free_subtree(lower);
      t.children[idx] = null;
    } else if (t.entries[idx] !== 0) {
      throw new Error(`set_leaf: ${level_name(level)} at ${va.toString(16)} already set`);
    } else {
      t.used++;
    }
    t.entries[idx] = entry;
    this.leaves[level]!++;
    return true;
  }

  /** Allocate tables for levels `top` down to `level`, link them under t[idx], then set the leaf. */
  private populate(t: PtPage, idx: number, top: number, va: number, level: number, entry: number): boolean {
    const fresh: PtPage[] = [];
    for (let L = top; L >= level; L--) {
      const pfn = this.allocator.alloc_table(L);
      if (pfn < 0) {
        // Nothing was linked yet: give back what we took and leave no trace.
        for (const p of fresh) this.allocator.free_table(p.pfn, p.level);
        return false;
      }
      fresh.push(this.slab.new_table(pfn, L));
    }
    let parent = t;
    let slot = idx;
    for (const p of fresh) {
      parent.children[slot] = p;
      parent.entries[slot] = mk_entry(p.pfn, _PAGE_TABLE);
      parent.used++;
      this.tables[p.level]!++;
      parent = p;
      slot = index_of(va, p.level);
    }
    parent.entries[slot] = entry;
    parent.used++;
    this.leaves[level]!++;
    return true;
  }

  /**
   * True when the slot of `level` covering `va` is empty: no leaf and no lower table
   * there, and no bigger leaf above (pmd_none / pud_none after the walk).
   */
  is_none(va: number, level: number): boolean {
    this.check_leaf_args('is_none', va - (va % LEVEL_SIZE[level]!), level);
    let t = this.pgd;
    for (let L = PG_LEVEL_512G; L > level; L--) {
      const idx = index_of(va, L);
      const child = t.children[idx]!;
      if (child === null) return t.entries[idx] === 0;
      t = child;
    }
    return t.entries[index_of(va, level)] === 0;
  }

  /** Remove the leaf of `level` at `va`; returns the old entry (0 if there was none). */
  clear_leaf(va: number, level: number): number {
    this.check_leaf_args('clear_leaf', va, level);
    const t = this.table_at(va, level, 'clear_leaf');
    if (t === null) return 0;
    const idx = index_of(va, level);
    if (level > 1 && t.children[idx] !== null) throw new Error(`clear_leaf: ${level_name(level)} at ${va.toString(16)} is a table`);
    const old = t.entries[idx]!;
    if (old !== 0) {
      t.entries[idx] = 0;
      t.used--;
      this.leaves[level]!--;
    }
    return old;
  }

  /** Replace an existing leaf of `level` at `va` (set_pte_at over a present pte); returns the old entry. */
  update_leaf(va: number, level: number, entry: number): number {
    this.check_leaf_args('update_leaf', va, level);
    if (entry === 0) throw new Error('update_leaf: empty entry (use clear_leaf)');
    const t = this.table_at(va, level, 'update_leaf');
    const idx = index_of(va, level);
    if (t === null || t.entries[idx] === 0 || (level > 1 && t.children[idx] !== null)) {
      throw new Error(`update_leaf: no ${level_name(level)} leaf at ${va.toString(16)}`);
    }
    const old = t.entries[idx]!;
    t.entries[idx] = this.fix_huge(entry, level);
    return old;
  }

  /**
   * Split the PMD leaf covering `va` into a PTE table of 512 entries with
   * consecutive pfns and the same flags minus _PAGE_PSE (__split_huge_pmd_locked's
   * anonymous path). Returns false when the PTE table cannot be allocated.
   */
  split_huge_pmd(va: number): boolean {
    return this.split_leaf(va, 2);
  }

  /** Split the PUD leaf covering `va` into a PMD table of 512 PMD leaves. Returns false on allocation failure. */
  split_huge_pud(va: number): boolean {
    return this.split_leaf(va, 3);
  }

  private split_leaf(va: number, level: number): boolean {
    const base = va - (va % LEVEL_SIZE[level]!);
    const t = this.table_at(base, level, 'split');
    const idx = index_of(base, level);
    if (t === null || t.children[idx] !== null || t.entries[idx] === 0) {
      throw new Error(`split: no ${level_name(level)} leaf at ${va.toString(16)}`);
    }
    const pfn = this.allocator.alloc_table(level - 1);
    if (pfn < 0) return false;
    const huge = t.entries[idx]!;
    const p = this.slab.new_table(pfn, level - 1);
    const first = Math.floor(huge / PAGE_SIZE);
    const flags = level - 1 === 1 ? pte_clear_flags(huge, _PAGE_PSE) % PAGE_SIZE : huge % PAGE_SIZE;
    const step = LEVEL_SIZE[level - 1]! / PAGE_SIZE;
    for (let i = 0; i < PTRS_PER_PTE; i++) p.entries[i] = (first + i * step) * PAGE_SIZE + flags;
    p.used = PTRS_PER_PTE;
    t.children[idx] = p;
    t.entries[idx] = mk_entry(pfn, _PAGE_TABLE);
    this.tables[level - 1]!++;
    this.leaves[level]!--;
    this.leaves[level - 1]! += PTRS_PER_PTE;
    return true;
  }

  /** Free every table page including the PGD (exit_mmap → free_pgtables, pgd_free). Leaves are dropped unvisited. */
  destroy(): void {
    if (this.dead) return;
    this.free_subtree(this.pgd);
    this.leaves.fill(0);
    this.dead = true;
  }

  /** The table holding entries of `level` for `va`, or null if not allocated; throws if a bigger leaf covers va. */
  protected table_at(va: number, level: number, who: string): PtPage | null {
    let t = this.pgd;
    for (let L = PG_LEVEL_512G; L > level; L--) {
      const idx = index_of(va, L);
      const child = t.children[idx]!;
      if (child === null) {
        if (t.entries[idx] !== 0) throw new Error(`${who}: ${level_name(L)} leaf covers ${va.toString(16)}`);
        return null;
      }
      t = child;
    }
    return t;
  }

  protected free_subtree(t: PtPage): void {
    if (t.level > 1) {
      for (let i = 0; i < PTRS_PER_PTE; i++) {
        const child = t.children[i]!;
        if (child !== null) this.free_subtree(child);
        else if (t.entries[i] !== 0) this.leaves[t.level]!--;
      }
    } else {
      this.leaves[1]! -= t.used;
    }
    this.allocator.free_table(t.pfn, t.level);
    this.tables[t.level]!--;
  }

  protected fix_huge(entry: number, level: number): number {
    if (level > 1 && ((entry % PAGE_SIZE) & _PAGE_PRESENT) !== 0) {
      const f = entry % PAGE_SIZE;
      return entry - f + (f | _PAGE_PSE);
    }
    return entry;
  }

  protected check_leaf_args(who: string, va: number, level: number): void {
    if (this.dead) throw new Error(`${who}: page tables destroyed`);
    if (level !== 1 && level !== 2 && level !== 3) throw new Error(`${who}: bad level ${level}`);
    if (!(va >= 0 && va < USER_VA_END) || va % LEVEL_SIZE[level]! !== 0) {
      throw new Error(`${who}: va ${va.toString(16)} not a ${level_name(level)}-aligned user address`);
    }
  }

  protected check_range(who: string, start: number, end: number): void {
    if (this.dead) throw new Error(`${who}: page tables destroyed`);
    if (start % PAGE_SIZE !== 0 || end % PAGE_SIZE !== 0 || start < 0 || end > USER_VA_END || start > end) {
      throw new Error(`${who}: bad range [${start.toString(16)}, ${end.toString(16)})`);
    }
  }

  /** A huge leaf straddling start or end would be half zapped: refuse before touching anything. */
  protected check_boundary(who: string, start: number, end: number): void {
    for (const va of [start, end - 1]) {
      if (this.walk(va) === 0 || this.lastLevel < 2) continue;
      const size = LEVEL_SIZE[this.lastLevel]!;
      const base = va - (va % size);
      if (base < start || base + size > end) {
        throw new Error(`${who}: ${level_name(this.lastLevel)} leaf at ${base.toString(16)} straddles [${start.toString(16)}, ${end.toString(16)}); split it first`);
      }
    }
  }
}

/** Slot index of `va` in a table of `level`. */
export function index_of(va: number, level: number): number {
  return Math.floor(va / LEVEL_SIZE[level]!) % PTRS_PER_PTE;
}

/** Slots [i0, i1) of a table at `base` with entries of `size` that overlap [start, end). */
export function slot_span(base: number, size: number, start: number, end: number): [number, number] {
  const i0 = start > base ? Math.floor((start - base) / size) : 0;
  const i1 = Math.min(PTRS_PER_PTE, Math.ceil((end - base) / size));
  return [i0, i1];
}

/** True when any leaf lives in this table's subtree. */
export function has_leaves(t: PtPage): boolean {
  if (t.level === 1) return t.used > 0;
  for (let i = 0; i < PTRS_PER_PTE; i++) {
    if (t.entries[i] === 0) continue;
    const child = t.children[i]!;
    if (child === null || has_leaves(child)) return true;
  }
  return false;
}
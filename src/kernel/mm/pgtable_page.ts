/**
 * One page-table page as the model holds it, and where its entry arrays come
 * from. A table page is a frame from the page allocator (its pfn) whose 512
 * entries live in a Float64Array next to a JS array of child tables; PTE
 * tables have no children and share one empty array.
 *
 * Entry arrays are carved, 16 tables at a time, from slabs owned by one
 * address space: one ArrayBuffer per 16 tables instead of one each (allocating
 * and garbage-collecting a million 4 KiB ArrayBuffers was a fifth of a 1 TiB
 * fleet's time). Slots are never reused: a slab lives while any of its tables
 * is referenced and goes with the last one (at worst 16x the live tables'
 * entries when tables die out of order and the address space lives on).
 */
import { PTRS_PER_PTE } from './pgtable_types.ts';

/** Tables per slab of entry arrays. */
const SLAB_TABLES = 16;

/** The children of every PTE table (none; shared, never written: one array less per table). */
const NO_CHILDREN: (PtPage | null)[] = [];

/** One table page: 512 entries plus, above PTE level, the child tables. */
export class PtPage {
  readonly entries: Float64Array;
  readonly children: (PtPage | null)[];
  /** Non-zero entries (leaves and tables). */
  used = 0;
  constructor(
    readonly pfn: number,
    readonly level: number,
    /** 512 zeroed entries (a slice of a PtSlab); a fresh array if absent. */
    entries?: Float64Array,
  ) {
    this.entries = entries ?? new Float64Array(PTRS_PER_PTE);
    this.children = level > 1 ? new Array<PtPage | null>(PTRS_PER_PTE).fill(null) : NO_CHILDREN;
  }
}

/** The entry-array slabs of one address space. */
export class PtSlab {
  private slab: Float64Array | null = null;
  private next = SLAB_TABLES;

  /** A table page object for pfn, its entries from the current slab. */
  new_table(pfn: number, level: number): PtPage {
    if (this.next === SLAB_TABLES) {
      this.slab = new Float64Array(SLAB_TABLES * PTRS_PER_PTE);
      this.next = 0;
    }
    const at = this.next++ * PTRS_PER_PTE;
    return new PtPage(pfn, level, this.slab!.subarray(at, at + PTRS_PER_PTE));
  }
}

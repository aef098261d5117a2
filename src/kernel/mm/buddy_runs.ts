/**
 * The free MAX_PAGE_ORDER blocks of one zone (free_area[MAX_PAGE_ORDER] in
 * mm/page_alloc.c) as sorted, disjoint runs of block indices (block = pfn / 1024).
 *
 * Releasing 16 TiB at boot adds one run; taking a block takes the lowest one
 * (Linux's memblock_free_all frees ascending with FPI_TO_TAIL, so early
 * allocations come from low addresses too). Lookups are binary searches;
 * inserting a run that touches nothing costs a splice, O(runs), which stays
 * small unless free order-10 blocks are scattered one by one.
 */

/** Free MAX_PAGE_ORDER blocks of one zone: sorted disjoint runs [start, end) of block indices. */
export class BlockRuns {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** Number of free blocks (free_area[MAX_PAGE_ORDER].nr_free). */
  count = 0;

  /** Index of the first run whose end is >= b. */
  private lowerEnd(b: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid]! < b) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** True when block b is free. */
  contains(b: number): boolean {
    const i = this.lowerEnd(b + 1);
    return i < this.starts.length && this.starts[i]! <= b;
  }

  /** True when any block of [s, e) is free. */
  overlaps(s: number, e: number): boolean {
    const i = this.lowerEnd(s + 1);
    return i < this.starts.length && this.starts[i]! < e;
  }

  /** Add the free blocks [s, e), merging with touching runs; returns false (adding nothing) on overlap. */
  add(s: number, e: number): boolean {
    const starts = this.starts;
    const ends = this.ends;
    const n = starts.length;
    const i = this.lowerEnd(s);
    const mergeLeft = i < n && ends[i] === s;
    if (!mergeLeft && i < n && starts[i]! < e) return false;
    const j = mergeLeft ? i + 1 : i;
    if (j < n && starts[j]! < e) return false;
    const mergeRight = j < n && starts[j] === e;
    if (mergeLeft && mergeRight) {
      ends[i] = ends[j]!;
      starts.splice(j, 1);
      ends.splice(j, 1);
    } else if (mergeLeft) {
      ends[i] = e;
    } else if (mergeRight) {
      starts[j] = s;
    } else if (j === n) {
      starts.push(s);
      ends.push(e);
    } else {
      starts.splice(j, 0, s);
      ends.splice(j, 0, e);
    }
    this.count += e - s;
    return true;
  }

  /** Take the lowest free block; -1 when none. */
  popLowest(): number {
    if (this.starts.length === 0) return -1;
    const b = this.starts[0]!;
    if (b + 1 === this.ends[0]) {
      this.starts.shift();
      this.ends.shift();
    } else {
      this.starts[0] = b + 1;
    }
    this.count--;
    return b;
  }

  /**
   * Take the lowest run of `nb` free blocks starting at a multiple of `align`
   * blocks; returns its first block or -1.
   */
  takeAligned(nb: number, align: number): number {
    const starts = this.starts;
    const ends = this.ends;
    for (let k = 0; k < starts.length; k++) {
      const r = starts[k]! % align;
      const a = r === 0 ? starts[k]! : starts[k]! + (align - r);
      if (a + nb > ends[k]!) continue;
      this.remove(k, a, a + nb);
      return a;
    }
    return -1;
  }

  /** Remove [a, b) from run k, which contains it. */
  private remove(k: number, a: number, b: number): void {
    const s = this.starts[k]!;
    const e = this.ends[k]!;
    if (a === s && b === e) {
      this.starts.splice(k, 1);
      this.ends.splice(k, 1);
    } else if (a === s) {
      this.starts[k] = b;
    } else if (b === e) {
      this.ends[k] = a;
    } else {
      this.ends[k] = a;
      this.starts.splice(k + 1, 0, b);
      this.ends.splice(k + 1, 0, e);
    }
    this.count -= b - a;
  }

  /** Remove the single free block b (which must be free). */
  take(b: number): void {
    const k = this.lowerEnd(b + 1);
    this.remove(k, b, b + 1);
  }

  /** The runs as [start, end) block-index pairs, ascending. */
  runs(): [number, number][] {
    return this.starts.map((s, k) => [s, this.ends[k]!]);
  }

  /** Number of runs (the cost of the O(runs) operations). */
  get nr_runs(): number {
    return this.starts.length;
  }
}

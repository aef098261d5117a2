/**
 * The file offset → physical address table of one dmemfs inode: one entry per
 * dpage. The original kept these as xarray value entries in inode->i_mapping
 * (fs/dmemfs/inode.c: dmem_addr_to_entry, dmemfs_find_get_entries,
 * find_radix_entry_or_next, xa_store/xa_erase). This is the same two-level
 * shape: 512-slot leaves keyed by index / 512, each an arithmetic run while
 * its dpages are physically consecutive (a file faulted in order: a few bytes
 * per 512 dpages) and a typed array (8 bytes per dpage) otherwise; no object per
 * page, and sparse files cost nothing for their holes. It knows nothing of the MMU, so a real backend can
 * reuse it.
 */

/** Slots per leaf (XA_CHUNK_SIZE is 64; a larger leaf keeps the key map small). */
const CHUNK = 512;
/** A slot with no dpage. Physical addresses are never negative. */
export const NO_DPAGE = -1;

/**
 * One leaf: physical addresses of CHUNK consecutive dpage indexes. A leaf filled
 * in index order with physically consecutive dpages (what 4K faults in order
 * give) is kept as an arithmetic run, slots [lo, hi) at base + slot * step, and
 * costs a few numbers instead of 4 KiB; anything else turns it into an array.
 */
class Leaf {
  phys: Float64Array | null = null;
  base = 0;
  step = 0;
  lo = 0;
  hi = 0;
  used = 0;

  /** Physical address in slot, or NO_DPAGE. */
  get(slot: number): number {
    const a = this.phys;
    if (a !== null) return a[slot]!;
    return slot >= this.lo && slot < this.hi ? this.base + slot * this.step : NO_DPAGE;
  }

  /** The leaf as an array (for any change other than extending its run). */
  array(): Float64Array {
    let a = this.phys;
    if (a === null) {
      a = this.phys = new Float64Array(CHUNK).fill(NO_DPAGE);
      for (let s = this.lo; s < this.hi; s++) a[s] = this.base + s * this.step;
    }
    return a;
  }

  /** Enter slots [slot0, slot0 + m) at p0, p0 + step, ... if that keeps (or starts) the arithmetic run. */
  extend(slot0: number, m: number, p0: number, step: number): boolean {
    if (this.phys !== null) return false;
    if (this.used === 0) {
      this.base = p0 - slot0 * step;
      this.step = step;
      this.lo = slot0;
      this.hi = slot0 + m;
    } else if (step === this.step && p0 === this.base + slot0 * step && (slot0 === this.hi || slot0 + m === this.lo)) {
      if (slot0 === this.hi) this.hi += m;
      else this.lo = slot0;
    } else {
      return false;
    }
    this.used += m;
    return true;
  }
}

/** The dpage table of one inode. */
export class DpageTable {
  private readonly leaves = new Map<number, Leaf>();
  private nr = 0;

  /** Entries in the table (mapping->nrexceptional in the original). */
  get size(): number {
    return this.nr;
  }

  /** Physical address of dpage `index`, or NO_DPAGE. */
  lookup(index: number): number {
    const key = Math.floor(index / CHUNK);
    const leaf = this.leaves.get(key);
    return leaf ? leaf.get(index - key * CHUNK) : NO_DPAGE;
  }

  /** Enter dpage `index` at `phys`; a present entry is a bug (xa_store over a value). */
  store(index: number, phys: number): void {
    this.storeRun(index, 1, phys, 0);
  }

  /** store() for dpages [index, index + n) at phys, phys + step, ...: one leaf lookup per 512 dpages. */
  storeRun(index: number, n: number, phys: number, step: number): void {
    for (let i = 0; i < n; ) {
      const key = Math.floor((index + i) / CHUNK);
      let leaf = this.leaves.get(key);
      if (!leaf) this.leaves.set(key, (leaf = new Leaf()));
      const slot0 = index + i - key * CHUNK;
      const m = Math.min(n - i, CHUNK - slot0);
      if (!leaf.extend(slot0, m, phys + i * step, step)) {
        const a = leaf.array();
        for (let j = 0; j < m; j++) {
          if (a[slot0 + j] !== NO_DPAGE) throw new Error(`dmemfs: dpage ${index + i + j} entered twice`);
          a[slot0 + j] = phys + (i + j) * step;
        }
        leaf.used += m;
      }
      this.nr += m;
      i += m;
    }
  }

  /** Remove dpage `index`; returns its physical address or NO_DPAGE. */
  erase(index: number): number {
    const key = Math.floor(index / CHUNK);
    const leaf = this.leaves.get(key);
    if (!leaf) return NO_DPAGE;
    const slot = index % CHUNK;
    const phys = leaf.get(slot);
    if (phys === NO_DPAGE) return NO_DPAGE;
    leaf.array()[slot] = NO_DPAGE;
    this.nr--;
    if (--leaf.used === 0) this.leaves.delete(key);
    return phys;
  }

  /**
   * The first present index in [from, limit), or `limit` when there is none
   * (find_radix_entry_or_next bounded by how far the caller would allocate).
   * Absent leaves are skipped whole.
   */
  next(from: number, limit: number): number {
    let i = from;
    while (i < limit) {
      const key = Math.floor(i / CHUNK);
      const leaf = this.leaves.get(key);
      const leafEnd = Math.min(limit, (key + 1) * CHUNK);
      if (leaf) {
        for (; i < leafEnd; i++) if (leaf.get(i - key * CHUNK) !== NO_DPAGE) return i;
      }
      i = leafEnd;
    }
    return limit;
  }

  /**
   * Remove every entry in [from, to) in index order, handing each to `fn`
   * (inode_drop_dpages' walk). `to` may be Infinity.
   */
  drain(from: number, to: number, fn: (index: number, phys: number) => void): void {
    const keys = [...this.leaves.keys()].filter((k) => (k + 1) * CHUNK > from && k * CHUNK < to).sort((a, b) => a - b);
    for (const key of keys) {
      const leaf = this.leaves.get(key)!;
      const lo = Math.max(from, key * CHUNK);
      const hi = Math.min(to, (key + 1) * CHUNK);
      const a = leaf.array();
      for (let i = lo; i < hi; i++) {
        const phys = a[i % CHUNK]!;
        if (phys === NO_DPAGE) continue;
        a[i % CHUNK] = NO_DPAGE;
        leaf.used--;
        this.nr--;
        fn(i, phys);
      }
      if (leaf.used === 0) this.leaves.delete(key);
    }
  }

  /** Visit every entry in [from, to) in index order without changing anything. */
  forEach(from: number, to: number, fn: (index: number, phys: number) => void): void {
    const keys = [...this.leaves.keys()].filter((k) => (k + 1) * CHUNK > from && k * CHUNK < to).sort((a, b) => a - b);
    for (const key of keys) {
      const leaf = this.leaves.get(key)!;
      const hi = Math.min(to, (key + 1) * CHUNK);
      for (let i = Math.max(from, key * CHUNK); i < hi; i++) {
        const phys = leaf.get(i % CHUNK);
        if (phys !== NO_DPAGE) fn(i, phys);
      }
    }
  }
}

/**
 * Drain dpages [from, to) out of `table` and give them back to the pool,
 * physically contiguous neighbours in one dmem_free_pages call (the original
 * freed one dpage per call). Returns how many dpages were freed.
 */
export function free_dpage_runs(table: DpageTable, pool: { dmem_free_pages(phys: number, nr: number): void }, size: number, from: number, to: number): number {
  let runPhys = NO_DPAGE;
  let runNr = 0;
  let freed = 0;
  table.drain(from, to, (_index, phys) => {
    freed++;
    if (runNr > 0 && phys === runPhys + runNr * size) {
      runNr++;
      return;
    }
    if (runNr > 0) pool.dmem_free_pages(runPhys, runNr);
    runPhys = phys;
    runNr = 1;
  });
  if (runNr > 0) pool.dmem_free_pages(runPhys, runNr);
  return freed;
}

/**
 * The file offset → physical address table of one dmemfs inode: one entry per
 * dpage. The original kept these as xarray value entries in inode->i_mapping
 * (fs/dmemfs/inode.c: dmem_addr_to_entry, dmemfs_find_get_entries,
 * find_radix_entry_or_next, xa_store/xa_erase). This is the same two-level
 * shape: 512-slot typed-array leaves keyed by index / 512, so a 4K-dpage file
 * costs 8 bytes per dpage and no object per page, and sparse files cost
 * nothing for their holes. It knows nothing of the MMU, so a real backend can
 * reuse it.
 */

/** Slots per leaf (XA_CHUNK_SIZE is 64; a larger leaf keeps the key map small). */
const CHUNK = 512;
/** A slot with no dpage. Physical addresses are never negative. */
export const NO_DPAGE = -1;

/** One leaf: physical addresses of CHUNK consecutive dpage indexes. */
interface Leaf {
  readonly phys: Float64Array;
  used: number;
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
    const leaf = this.leaves.get(Math.floor(index / CHUNK));
    return leaf ? leaf.phys[index % CHUNK]! : NO_DPAGE;
  }

  /** Enter dpage `index` at `phys`; a present entry is a bug (xa_store over a value). */
  store(index: number, phys: number): void {
    const key = Math.floor(index / CHUNK);
    let leaf = this.leaves.get(key);
    if (!leaf) {
      leaf = { phys: new Float64Array(CHUNK).fill(NO_DPAGE), used: 0 };
      this.leaves.set(key, leaf);
    }
    const slot = index % CHUNK;
    if (leaf.phys[slot] !== NO_DPAGE) throw new Error(`dmemfs: dpage ${index} entered twice`);
    leaf.phys[slot] = phys;
    leaf.used++;
    this.nr++;
  }

  /** store() for dpages [index, index + n) at phys, phys + step, ...: one leaf lookup per 512 dpages. */
  storeRun(index: number, n: number, phys: number, step: number): void {
    for (let i = 0; i < n; ) {
      const key = Math.floor((index + i) / CHUNK);
      let leaf = this.leaves.get(key);
      if (!leaf) {
        leaf = { phys: new Float64Array(CHUNK).fill(NO_DPAGE), used: 0 };
        this.leaves.set(key, leaf);
      }
      const slot0 = (index + i) % CHUNK;
      const m = Math.min(n - i, CHUNK - slot0);
      const a = leaf.phys;
      for (let j = 0; j < m; j++) {
        if (a[slot0 + j] !== NO_DPAGE) throw new Error(`dmemfs: dpage ${index + i + j} entered twice`);
        a[slot0 + j] = phys + (i + j) * step;
      }
      leaf.used += m;
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
    const phys = leaf.phys[slot]!;
    if (phys === NO_DPAGE) return NO_DPAGE;
    leaf.phys[slot] = NO_DPAGE;
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
        for (; i < leafEnd; i++) if (leaf.phys[i % CHUNK] !== NO_DPAGE) return i;
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
      for (let i = lo; i < hi; i++) {
        const phys = leaf.phys[i % CHUNK]!;
        if (phys === NO_DPAGE) continue;
        leaf.phys[i % CHUNK] = NO_DPAGE;
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
        const phys = leaf.phys[i % CHUNK]!;
        if (phys !== NO_DPAGE) fn(i, phys);
      }
    }
  }
}

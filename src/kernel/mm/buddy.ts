/**
 * The free-block store behind each zone's free_area[] (mm/page_alloc.c,
 * include/linux/mmzone.h struct free_area), laid out so that the allocator's own
 * memory never grows with the number of 4 KiB frames.
 *
 * Linux threads free blocks onto per-order lists through their struct pages and
 * marks them PageBuddy with the order in page_private. We have no struct page, so:
 *  - BlockRuns (buddy_runs.ts): free MAX_PAGE_ORDER blocks as sorted, disjoint runs of block
 *    indices (block = pfn / 1024). Freeing 16 TiB at boot is one run; taking a
 *    block takes the lowest-addressed one.
 *  - SplitBlocks: for every order-10 block that is currently split, one slot of
 *    typed arrays holding a bitmap per order 0..9 (bit i of order o set = the
 *    2^o frames at offset i<<o are a free buddy block, i.e. PageBuddy with
 *    buddy_order == o), and per order a stack of slots that hold a free block
 *    of that order (entries that went stale are dropped when met). A slot is
 *    recycled once its block holds no free block below order 10 (merged back to
 *    order 10 or fully allocated), after a short delay that spares a block split
 *    and merged over and over the Map churn, so a fully allocated host tracks
 *    (almost) nothing. Offsets inside a block are < 1024, so 32-bit bit
 *    operations on them are exact.
 */

export { BlockRuns } from './buddy_runs.ts';

/** Frames in a MAX_PAGE_ORDER block. */
export const BLOCK_PAGES = 1024;
/** Orders kept in SplitBlocks (0..MAX_PAGE_ORDER-1). */
export const SPLIT_ORDERS = 10;

/** Word offset of each order's bitmap inside a slot (32,16,8,4,2,1,1,1,1,1 words). */
const OFF = new Int32Array([0, 32, 48, 56, 60, 62, 63, 64, 65, 66]);
/** Word offset of the per-order summary words (bit w = bitmap word w is nonzero). */
const SUM = 67;
/** Word holding the mask of orders with a nonzero summary (the slot holds a free block of order o). */
const ORDERS = SUM + 10;
/** Word holding the mask of order stacks the slot is on. */
const INSTACK = ORDERS + 1;
/** Word set while the slot sits in the ring of recently emptied slots. */
const RINGED = INSTACK + 1;
/** Words per slot: 67 bitmap words, 10 summaries, 3 flag words. */
const WORDS = 80;
/** Recently emptied slots kept mapped. */
const RING = 64;

/** Count trailing zeros of a nonzero 32-bit value. */
function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Per-order bitmaps and free lists for the split MAX_PAGE_ORDER blocks of one zone. */
export class SplitBlocks {
  /** Bitmaps, summaries and flag words, WORDS per slot. */
  words: Uint32Array = new Uint32Array(WORDS * 16);
  /** Block index of each slot. */
  blk: Float64Array = new Float64Array(16);
  /** Per order, a stack of slots that may hold a free block of that order (stale entries are skipped lazily). */
  private readonly stacks: Int32Array[] = [];
  private readonly stackLen = new Int32Array(SPLIT_ORDERS);
  private readonly slotOf = new Map<number, number>();
  private readonly spare: number[] = [];
  /** Recently emptied slots kept mapped, so a block split and merged over and over costs no Map churn. */
  private readonly ring = new Int32Array(RING).fill(-1);
  private ringPos = 0;
  private cap = 16;
  private used = 0;
  /** One-entry lookup cache (block, slot); -1 when empty. */
  private lastB = -1;
  private lastS = -1;

  constructor() {
    for (let o = 0; o < SPLIT_ORDERS; o++) this.stacks.push(new Int32Array(16));
  }

  /** The slot of block b (possibly empty, i.e. holding no free block), or -1. */
  lookup(b: number): number {
    if (b === this.lastB) return this.lastS;
    const s = this.slotOf.get(b);
    if (s === undefined) return -1;
    this.lastB = b;
    this.lastS = s;
    return s;
  }

  /** The slot for block b: its existing (empty) slot, or a fresh empty one. */
  create(b: number): number {
    const old = this.lookup(b);
    if (old >= 0) return old;
    let s: number;
    if (this.spare.length > 0) {
      s = this.spare.pop()!;
    } else {
      if (this.used === this.cap) this.grow();
      s = this.used++;
    }
    this.blk[s] = b;
    this.slotOf.set(b, s);
    this.lastB = b;
    this.lastS = s;
    return s;
  }

  /**
   * Slot s no longer holds a free block (its block merged back to order 10 or
   * was fully allocated). It stays mapped until RING later releases push it out.
   */
  release(s: number): void {
    const w = this.words;
    if (w[s * WORDS + RINGED] !== 0) return;
    w[s * WORDS + RINGED] = 1;
    const old = this.ring[this.ringPos]!;
    this.ring[this.ringPos] = s;
    this.ringPos = (this.ringPos + 1) % RING;
    if (old < 0) return;
    w[old * WORDS + RINGED] = 0;
    if (w[old * WORDS + ORDERS] !== 0) return; // revived since
    this.slotOf.delete(this.blk[old]!);
    if (this.lastS === old) this.lastB = this.lastS = -1;
    this.spare.push(old);
  }

  /** Bit o set when slot s holds a free block of order o. */
  orderMask(s: number): number {
    return this.words[s * WORDS + ORDERS]!;
  }

  /** True when slot s holds no free block at all. */
  isEmpty(s: number): boolean {
    return this.words[s * WORDS + ORDERS] === 0;
  }

  /** Non-empty slots of the split blocks in [b, e), at a cost of O(min(e - b, split blocks)). */
  slotsIn(b: number, e: number): number[] {
    const out: number[] = [];
    if (e - b <= this.slotOf.size) {
      for (let k = b; k < e; k++) {
        const s = this.slotOf.get(k);
        if (s !== undefined && !this.isEmpty(s)) out.push(s);
      }
    } else {
      for (const [k, s] of this.slotOf) if (k >= b && k < e && !this.isEmpty(s)) out.push(s);
    }
    return out;
  }

  /** Number of split blocks currently mapped (holding free blocks, plus up to RING recently emptied). */
  get size(): number {
    return this.slotOf.size;
  }

  /** Slot capacity (memory is about WORDS*4 + 8 + 40 bytes per slot). */
  get capacity(): number {
    return this.cap;
  }

  private grow(): void {
    const cap = this.cap * 2;
    const words = new Uint32Array(WORDS * cap);
    words.set(this.words);
    const blk = new Float64Array(cap);
    blk.set(this.blk);
    this.words = words;
    this.blk = blk;
    this.cap = cap;
  }

  /** A slot holding a free block of order o; -1 when none. Pops stale entries on the way. */
  top(o: number): number {
    const st = this.stacks[o]!;
    const w = this.words;
    let n = this.stackLen[o]!;
    while (n > 0) {
      const s = st[n - 1]!;
      if (w[s * WORDS + SUM + o] !== 0) break;
      n--;
      w[s * WORDS + INSTACK] = w[s * WORDS + INSTACK]! & ~(1 << o);
    }
    this.stackLen[o] = n;
    return n > 0 ? st[n - 1]! : -1;
  }

  private push(s: number, o: number): void {
    let st = this.stacks[o]!;
    const n = this.stackLen[o]!;
    if (n === st.length) {
      const bigger = new Int32Array(st.length * 2);
      bigger.set(st);
      this.stacks[o] = st = bigger;
    }
    st[n] = s;
    this.stackLen[o] = n + 1;
  }

  /** PageBuddy && buddy_order == o for the block at offset off of slot s. */
  test(s: number, off: number, o: number): boolean {
    const i = off >> o;
    return (this.words[s * WORDS + OFF[o]! + (i >> 5)]! & (1 << (i & 31))) !== 0;
  }

  /** True when any order-o free block starts in [off, off + n) of slot s (n a multiple of 2^o, aligned). */
  anyIn(s: number, off: number, n: number, o: number): boolean {
    const i = off >> o;
    const bits = n >> o;
    const w = this.words;
    const base = s * WORDS + OFF[o]! + (i >> 5);
    if (bits >= 32) {
      for (let k = 0; k < bits >> 5; k++) if (w[base + k] !== 0) return true;
      return false;
    }
    const mask = ((1 << bits) - 1) << (i & 31);
    return (w[base]! & mask) !== 0;
  }

  /** Mark the order-o block at off free (set_buddy_order + add_to_free_list). */
  set(s: number, off: number, o: number): void {
    const i = off >> o;
    const w = this.words;
    const base = s * WORDS;
    const wi = base + OFF[o]! + (i >> 5);
    w[wi] = w[wi]! | (1 << (i & 31));
    const si = base + SUM + o;
    const sum = w[si]!;
    w[si] = sum | (1 << (i >> 5));
    if (sum !== 0) return;
    const bit = 1 << o;
    w[base + ORDERS] = w[base + ORDERS]! | bit;
    const inStack = w[base + INSTACK]!;
    if ((inStack & bit) === 0) {
      w[base + INSTACK] = inStack | bit;
      this.push(s, o);
    }
  }

  /**
   * expand() of a whole free block taken at offset 0 for a request of order
   * `low`, into the empty slot s: the buddies at offsets 2^k, k = low..9, each
   * of order k, become free. Same result as set() for each, without the searching.
   */
  setBuddiesOfFirst(s: number, low: number): void {
    const w = this.words;
    const base = s * WORDS;
    let inStack = w[base + INSTACK]!;
    for (let k = low; k < SPLIT_ORDERS; k++) {
      // Offset 2^k at order k is bit 1 of the order's first word.
      w[base + OFF[k]!] = 2;
      w[base + SUM + k] = 1;
      if ((inStack & (1 << k)) === 0) {
        inStack |= 1 << k;
        this.push(s, k);
      }
    }
    w[base + INSTACK] = inStack;
    w[base + ORDERS] = (1 << SPLIT_ORDERS) - (1 << low);
  }

  /**
   * The merge step of __free_one_page(): if the order-o buddy at `buddy` is
   * free, take it off its free list and return true.
   */
  takeBuddy(s: number, buddy: number, o: number): boolean {
    const i = buddy >> o;
    const w = this.words;
    const base = s * WORDS;
    const wi = base + OFF[o]! + (i >> 5);
    const bit = 1 << (i & 31);
    const v = w[wi]!;
    if ((v & bit) === 0) return false;
    const nv = v & ~bit;
    w[wi] = nv;
    if (nv === 0) {
      const si = base + SUM + o;
      const sum = w[si]! & ~(1 << (i >> 5));
      w[si] = sum;
      if (sum === 0) w[base + ORDERS] = w[base + ORDERS]! & ~(1 << o);
    }
    return true;
  }

  /** Mark the order-o block at off not free (del_page_from_free_list). */
  clear(s: number, off: number, o: number): void {
    const i = off >> o;
    const w = this.words;
    const base = s * WORDS;
    const wi = base + OFF[o]! + (i >> 5);
    const v = w[wi]! & ~(1 << (i & 31));
    w[wi] = v;
    if (v !== 0) return;
    const si = base + SUM + o;
    const sum = w[si]! & ~(1 << (i >> 5));
    w[si] = sum;
    if (sum === 0) w[base + ORDERS] = w[base + ORDERS]! & ~(1 << o);
  }

  /** Take the lowest-offset free block of order o from slot s (which must have one); returns its offset. */
  takeLowest(s: number, o: number): number {
    const w = this.words;
    const base = s * WORDS;
    const si = base + SUM + o;
    const sum = w[si]!;
    const wn = ctz(sum);
    const wi = base + OFF[o]! + wn;
    const v = w[wi]!;
    const b = ctz(v);
    const nv = v & (v - 1);
    w[wi] = nv;
    if (nv === 0) {
      const ns = sum & (sum - 1);
      w[si] = ns;
      if (ns === 0) w[base + ORDERS] = w[base + ORDERS]! & ~(1 << o);
    }
    return ((wn << 5) + b) << o;
  }

  /** Every free block of every split block as (pfn, order), for checks and dumps. */
  forEach(cb: (pfn: number, order: number) => void): void {
    for (const [b, s] of this.slotOf) {
      for (let o = 0; o < SPLIT_ORDERS; o++) {
        const n = BLOCK_PAGES >> o;
        for (let i = 0; i < n; i++) if (this.test(s, i << o, o)) cb(b * BLOCK_PAGES + (i << o), o);
      }
    }
  }
}

/**
 * Bitmaps for the dmem pool (lib/find_bit.c find_next_bit/find_next_zero_bit,
 * include/linux/bitmap.h, as mm/dmem.c uses them on unsigned long arrays).
 *
 * Bit indices can exceed 2^32 (a 16 TiB region has 2^32 4 KiB frames), so word
 * indices are computed with Math.floor, never with 32-bit shifts; bit operations
 * happen only inside one 32-bit word.
 *
 * Two shapes:
 *  - dense Uint32Array bitmaps (the allocation bitmap, the hot path);
 *  - SparseBitmap / ChunkedCounts, materialised one chunk at a time on first
 *    write. The kernel pays for the whole array (the pool charges KernelAlloc for
 *    the full size, as the original's kzalloc/vzalloc did); the model only keeps
 *    chunks that were ever written, because poisoned frames and pinned dpages are
 *    rare and a 16 TiB host would otherwise hold 512 MiB of zero error bits.
 */

/** BITS_TO_LONGS(n) * sizeof(long): bytes the kernel allocates for an n-bit bitmap. */
export function bitmap_bytes(nbits: number): number {
  return Math.ceil(nbits / 64) * 8;
}

/** A zeroed dense bitmap of nbits bits. */
export function bitmap_alloc(nbits: number): Uint32Array {
  return new Uint32Array(Math.ceil(nbits / 32));
}

/** Index of the lowest set bit of a nonzero 32-bit word. */
function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** test_bit(). */
export function test_bit(map: Uint32Array, i: number): boolean {
  const w = Math.floor(i / 32);
  return ((map[w]! >>> (i - w * 32)) & 1) === 1;
}

/** __set_bit(). */
export function set_bit(map: Uint32Array, i: number): void {
  const w = Math.floor(i / 32);
  map[w] = map[w]! | (1 << (i - w * 32));
}

/** __clear_bit(). */
export function clear_bit(map: Uint32Array, i: number): void {
  const w = Math.floor(i / 32);
  map[w] = map[w]! & ~(1 << (i - w * 32));
}

/** find_next_zero_bit(): first clear bit in [start, size), or size. Skips full words. */
export function find_next_zero_bit(map: Uint32Array, size: number, start: number): number {
  if (start >= size) return size;
  let w = Math.floor(start / 32);
  // Invert so clear bits become set; mask off the bits below start in the first word.
  let word = ~map[w]! & (0xffffffff << (start - w * 32));
  const lastWord = Math.floor((size - 1) / 32);
  while (word === 0) {
    if (++w > lastWord) return size;
    word = ~map[w]!;
  }
  return Math.min(w * 32 + ctz32(word), size);
}

/** find_next_bit(): first set bit in [start, size), or size. Skips empty words. */
export function find_next_bit(map: Uint32Array, size: number, start: number): number {
  if (start >= size) return size;
  let w = Math.floor(start / 32);
  let word = map[w]! & (0xffffffff << (start - w * 32));
  const lastWord = Math.floor((size - 1) / 32);
  while (word === 0) {
    if (++w > lastWord) return size;
    word = map[w]!;
  }
  return Math.min(w * 32 + ctz32(word), size);
}

/**
 * Set bit pos (which must be clear) and then the following clear bits, up to
 * max bits in all and never at or past size; stops at the first set bit (the
 * greedy extension of dmem_alloc_region_page). Returns how many were set.
 */
export function set_run(map: Uint32Array, size: number, pos: number, max: number): number {
  const limit = Math.min(size, pos + Math.max(1, max));
  set_bit(map, pos);
  let p = pos + 1;
  while (p < limit) {
    const w = Math.floor(p / 32);
    const off = p - w * 32;
    if (off === 0 && p + 32 <= limit && map[w] === 0) {
      map[w] = 0xffffffff;
      p += 32;
      continue;
    }
    if ((map[w]! >>> off) & 1) break;
    map[w] = map[w]! | (1 << off);
    p++;
  }
  return p - pos;
}

/** Count the set bits of a dense bitmap in [0, size) (tests and uinit checks). */
export function bitmap_weight(map: Uint32Array, size: number): number {
  let n = 0;
  for (let i = find_next_bit(map, size, 0); i < size; i = find_next_bit(map, size, i + 1)) n++;
  return n;
}

/** Bits per chunk of a SparseBitmap (8 KiB of bits). */
const SPARSE_CHUNK_BITS = 65536;

/** A bitmap whose 8 KiB chunks exist only once a bit in them was set. */
export class SparseBitmap {
  private readonly chunks: (Uint32Array | undefined)[];
  /** Number of set bits. */
  weight = 0;

  constructor(readonly nbits: number) {
    this.chunks = new Array<Uint32Array | undefined>(Math.ceil(nbits / SPARSE_CHUNK_BITS));
  }

  /** test_bit(). */
  test(i: number): boolean {
    const c = this.chunks[Math.floor(i / SPARSE_CHUNK_BITS)];
    return c !== undefined && test_bit(c, i % SPARSE_CHUNK_BITS);
  }

  /** __test_and_set_bit(): returns the old value. */
  test_and_set(i: number): boolean {
    const ci = Math.floor(i / SPARSE_CHUNK_BITS);
    let c = this.chunks[ci];
    if (!c) c = this.chunks[ci] = bitmap_alloc(SPARSE_CHUNK_BITS);
    const b = i - ci * SPARSE_CHUNK_BITS;
    if (test_bit(c, b)) return true;
    set_bit(c, b);
    this.weight++;
    return false;
  }

  /** find_next_bit() over [start, size), or size. Absent chunks are skipped whole. */
  find_next_bit(size: number, start: number): number {
    size = Math.min(size, this.nbits);
    if (this.weight === 0) return size;
    let i = start;
    while (i < size) {
      const ci = Math.floor(i / SPARSE_CHUNK_BITS);
      const base = ci * SPARSE_CHUNK_BITS;
      const c = this.chunks[ci];
      if (c) {
        const hit = find_next_bit(c, Math.min(SPARSE_CHUNK_BITS, size - base), i - base);
        if (base + hit < Math.min(base + SPARSE_CHUNK_BITS, size)) return base + hit;
      }
      i = base + SPARSE_CHUNK_BITS;
    }
    return size;
  }

  /** Bytes the model holds for this bitmap. */
  modelBytes(): number {
    let n = this.chunks.length * 8;
    for (const c of this.chunks) if (c) n += c.byteLength;
    return n;
  }
}

/** Entries per chunk of ChunkedCounts (64 KiB of u32). */
export const COUNT_CHUNK = 16384;

/**
 * An array of u32 counters (v2's struct dmempage { atomic_t _refcount; } per
 * dpage) whose chunks are materialised on demand; `init` fills a new chunk with
 * the values the owner implies (1 for an allocated dpage, 0 otherwise).
 */
export class ChunkedCounts {
  private readonly chunks: (Uint32Array | undefined)[];
  /** Chunks materialised so far. */
  materialised = 0;

  constructor(readonly length: number) {
    this.chunks = new Array<Uint32Array | undefined>(Math.ceil(length / COUNT_CHUNK));
  }

  /** The chunk holding index i, or undefined when it was never materialised. */
  peek(i: number): Uint32Array | undefined {
    return this.chunks[Math.floor(i / COUNT_CHUNK)];
  }

  /** The chunk holding index i, created and filled by init(firstIndex, chunk) if absent. */
  chunk(i: number, init: (first: number, c: Uint32Array) => void): Uint32Array {
    const ci = Math.floor(i / COUNT_CHUNK);
    let c = this.chunks[ci];
    if (!c) {
      c = this.chunks[ci] = new Uint32Array(Math.min(COUNT_CHUNK, this.length - ci * COUNT_CHUNK));
      init(ci * COUNT_CHUNK, c);
      this.materialised++;
    }
    return c;
  }

  /** The count at i, or -1 when its chunk was never materialised. */
  get(i: number): number {
    const c = this.peek(i);
    return c ? c[i % COUNT_CHUNK]! : -1;
  }

  /** Store v at i when its chunk exists (otherwise the implied value stands). */
  set_if_present(i: number, v: number): void {
    const c = this.peek(i);
    if (c) c[i % COUNT_CHUNK] = v;
  }

  /** Add delta at i, materialising its chunk with init first; returns the new value. */
  add(i: number, delta: number, init: (first: number, c: Uint32Array) => void): number {
    const c = this.chunk(i, init);
    const k = i % COUNT_CHUNK;
    c[k] = c[k]! + delta;
    return c[k]!;
  }

  /** Bytes the model holds. */
  modelBytes(): number {
    let n = this.chunks.length * 8;
    for (const c of this.chunks) if (c) n += c.byteLength;
    return n;
  }
}

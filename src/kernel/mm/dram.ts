/**
 * Physical memory contents: the bytes behind every page frame, what
 * clear_page/copy_page (arch/x86/lib/clear_page_64.S, copy_page_64.S) and
 * memcpy through the direct map act on.
 *
 * Sparse and sharded by 1 GiB chunk of frames (a JS Map holds at most 2^24
 * entries; a chunk's holds at most 2^18). A frame is in one of three states:
 *  - zero: nothing stored, reads as zero;
 *  - a run frame: one small write (up to 8 bytes) and zeros elsewhere, kept as
 *    part of an arithmetic run (dram_runs.ts) — a guest storing a word per page
 *    costs a few bytes per 512 pages instead of 4 KiB per page;
 *  - a page: a 4 KiB buffer, made when a frame gets a second write, a big one,
 *    or a writer asks for the buffer (frameForWrite).
 * Zeroing drops whatever is stored, so clearing a 1 GiB page that was never
 * written costs almost nothing. Like real DRAM, nothing is cleared when the
 * page allocator frees a frame, so a missing clear_page shows up as old data in
 * the next owner's reads.
 *
 * Buffers returned by frameForWrite() are only valid until the next
 * clear_pages/copy_pages/fill-with-zero over that frame; peekFrame() may return a
 * temporary copy, for reading only.
 */
import { PAGE_SIZE } from '../../lib/size.ts';
import { blockEmpty, blockFrames, blockInsert, blockRead, blockRemove, blockRemoveRange, blockSmall, type RunBlock } from './dram_block.ts';
import { BLOCK_FRAMES, appendRec, byteOf, leValue, smallLimit, type SmallWrite } from './dram_runs.ts';

/** Frames per chunk (1 GiB of 4 KiB frames). */
const CHUNK_FRAMES = 262144;
const BLOCKS_PER_CHUNK = CHUNK_FRAMES / BLOCK_FRAMES;

/** pfn's frame number inside its chunk, as an int32 (not `%`: pfns are doubles, a float modulo is a libm call). */
function chunkRel(pfn: number): number {
  return (pfn - Math.floor(pfn / CHUNK_FRAMES) * CHUNK_FRAMES) | 0;
}

/** The stored frames of one 1 GiB chunk. */
class Chunk {
  /** Frames with a full buffer, by pfn. */
  readonly pages = new Map<number, Uint8Array>();
  /** Small writes by 512-frame block (dram_block.ts); frames relative to the chunk. */
  readonly blocks: (RunBlock | undefined)[] = new Array<RunBlock | undefined>(BLOCKS_PER_CHUNK);
  /** Frames held in runs. */
  runFrames = 0;
}

/** The byte contents of a host's physical memory. */
export class Dram {
  private readonly chunks = new Map<number, Chunk>();
  /** One-entry cache: the last pfn looked at as a page (lastBuf) or as a frame that is all zero (undefined). */
  private lastPfn = -1;
  private lastBuf: Uint8Array | undefined;
  private nrPages = 0;
  private nrRunFrames = 0;
  /** Where the last small store went (a sequential writer's next store usually extends it). */
  private appendPfn = -2;
  private appendChunk: Chunk | undefined;
  private appendRecs: number[] | undefined;
  private appendAt = 0;
  /** Bytes zeroed by clear_pages (and zero fills), resident or not: the work the CPU would do. */
  bytesZeroed = 0;
  /** Bytes copied by copy_pages. */
  bytesCopied = 0;

  /** Frames that hold anything (a buffer or a compact small write). */
  get residentFrames(): number {
    return this.nrPages + this.nrRunFrames;
  }

  /** Frames that hold a full 4 KiB buffer. */
  get materialisedFrames(): number {
    return this.nrPages;
  }

  private chunk(pfn: number): Chunk | undefined {
    return this.chunks.get(Math.floor(pfn / CHUNK_FRAMES));
  }

  private chunkForWrite(pfn: number): Chunk {
    const key = Math.floor(pfn / CHUNK_FRAMES);
    let c = this.chunks.get(key);
    if (c === undefined) this.chunks.set(key, (c = new Chunk()));
    return c;
  }

  private deleteChunk(key: number): void {
    if (this.chunks.get(key) === this.appendChunk) this.appendChunk = undefined;
    this.chunks.delete(key);
  }

  /** The small write of a run frame, or undefined. */
  private smallOf(c: Chunk, pfn: number): SmallWrite | undefined {
    if (c.runFrames === 0) return undefined;
    const rel = chunkRel(pfn);
    const b = c.blocks[Math.floor(rel / BLOCK_FRAMES)];
    return b === undefined ? undefined : blockSmall(b, rel);
  }

  /** readUint of a frame that is not a page: its small write's bytes, or zeros. */
  private runRead(c: Chunk, pfn: number, off: number, len: number): number {
    if (c.runFrames === 0) return 0;
    const rel = chunkRel(pfn);
    const b = c.blocks[Math.floor(rel / BLOCK_FRAMES)];
    return b === undefined ? 0 : blockRead(b, rel, off, len);
  }

  /** Take pfn out of its run (it must be in one). */
  private unrun(c: Chunk, pfn: number): void {
    const rel = chunkRel(pfn);
    const bi = Math.floor(rel / BLOCK_FRAMES);
    if (blockRemove(c.blocks[bi]!, rel)) c.blocks[bi] = undefined;
    c.runFrames--;
    this.nrRunFrames--;
  }

  private addSmall(c: Chunk, pfn: number, off: number, len: number, value: number): void {
    const rel = chunkRel(pfn);
    const bi = Math.floor(rel / BLOCK_FRAMES);
    const { block, at } = blockInsert(c.blocks[bi], rel, off, len, value);
    c.blocks[bi] = block;
    this.appendAt = at;
    this.appendRecs = at >= 0 ? (block as number[]) : undefined;
    this.appendChunk = c;
    this.appendPfn = pfn;
    c.runFrames++;
    this.nrRunFrames++;
    if (pfn === this.lastPfn) this.lastPfn = -1;
  }

  /** Extend the record the last small store went to with pfn, if it is still there and pfn continues it. */
  private tryAppend(c: Chunk, pfn: number, off: number, len: number, value: number): boolean {
    const rel = chunkRel(pfn);
    if (rel % BLOCK_FRAMES === 0) return false;
    const recs = c.blocks[Math.floor(rel / BLOCK_FRAMES)];
    if (recs === undefined || recs !== this.appendRecs || !appendRec(this.appendRecs, this.appendAt, rel, off, len, value)) return false;
    c.runFrames++;
    this.nrRunFrames++;
    this.appendPfn = pfn;
    if (pfn === this.lastPfn) this.lastPfn = -1;
    return true;
  }

  /** The buffer of pfn if it holds anything (read-only use; undefined means all zero). */
  peekFrame(pfn: number): Uint8Array | undefined {
    if (pfn === this.lastPfn) return this.lastBuf;
    const c = this.chunk(pfn);
    if (c === undefined) return undefined;
    const buf = c.pages.get(pfn);
    if (buf !== undefined) return buf;
    const s = this.smallOf(c, pfn);
    return s === undefined ? undefined : expand(s);
  }

  /** The buffer of pfn, created (zero, or holding its small write) if absent, for writing. */
  frameForWrite(pfn: number): Uint8Array {
    if (pfn === this.lastPfn && this.lastBuf !== undefined) return this.lastBuf;
    const c = this.chunkForWrite(pfn);
    let buf = c.pages.get(pfn);
    if (buf === undefined) {
      const s = this.smallOf(c, pfn);
      if (s !== undefined) {
        this.unrun(c, pfn);
        buf = expand(s);
      } else {
        buf = new Uint8Array(PAGE_SIZE);
      }
      c.pages.set(pfn, buf);
      this.nrPages++;
    }
    this.lastPfn = pfn;
    this.lastBuf = buf;
    return buf;
  }

  /** One byte at a physical address. */
  readByte(phys: number): number {
    const pfn = Math.floor(phys / PAGE_SIZE);
    const off = phys - pfn * PAGE_SIZE;
    if (pfn === this.lastPfn) return this.lastBuf === undefined ? 0 : this.lastBuf[off]!;
    const c = this.chunk(pfn);
    if (c === undefined) return 0;
    const buf = c.pages.get(pfn);
    if (buf !== undefined) {
      this.lastPfn = pfn;
      this.lastBuf = buf;
      return buf[off]!;
    }
    const s = this.smallOf(c, pfn);
    if (s === undefined) {
      this.lastPfn = pfn;
      this.lastBuf = undefined;
      return 0;
    }
    return off >= s.off && off < s.off + s.len ? byteOf(s.value, off - s.off) : 0;
  }

  /** Store one byte at a physical address. */
  writeByte(phys: number, v: number): void {
    const pfn = Math.floor(phys / PAGE_SIZE);
    const off = phys - pfn * PAGE_SIZE;
    if (pfn === this.lastPfn && this.lastBuf !== undefined) {
      this.lastBuf[off] = v;
      return;
    }
    this.writeUint(phys, 1, v & 0xff);
  }

  /**
   * Store `value` as a len-byte (1..8) little-endian integer at phys, inside one
   * frame; value is a safe integer below 2^(8 * len). The guest's word store.
   */
  writeUint(phys: number, len: number, value: number): void {
    const pfn = Math.floor(phys / PAGE_SIZE);
    const off = phys - pfn * PAGE_SIZE;
    if (!(len >= 1 && len <= 8 && off + len <= PAGE_SIZE && Number.isSafeInteger(value) && value >= 0 && value <= smallLimit(len))) {
      throw new Error(`writeUint: bad store of ${value} (${len} bytes) at ${phys}`);
    }
    if (pfn === this.lastPfn && this.lastBuf !== undefined) {
      storeLE(this.lastBuf, off, len, value);
      return;
    }
    // A sequential writer: the next frame of the run the last store extended, in the same chunk.
    const ac = this.appendChunk;
    if (pfn === this.appendPfn + 1 && value !== 0 && ac !== undefined && chunkRel(pfn) !== 0 && (ac.pages.size === 0 || !ac.pages.has(pfn)) && this.tryAppend(ac, pfn, off, len, value)) return;
    const c = value === 0 ? this.chunk(pfn) : this.chunkForWrite(pfn);
    if (c === undefined) return; // zero into a zero frame
    const buf = c.pages.size > 0 ? c.pages.get(pfn) : undefined;
    if (buf !== undefined) {
      storeLE(buf, off, len, value);
      return;
    }
    if (pfn === this.appendPfn + 1 && value !== 0 && this.tryAppend(c, pfn, off, len, value)) return;
    const s = this.smallOf(c, pfn);
    if (s === undefined) {
      if (value !== 0) this.addSmall(c, pfn, off, len, value);
      return;
    }
    if (s.off === off && s.len === len && s.value === value) return; // the same store again
    storeLE(this.frameForWrite(pfn), off, len, value);
  }

  /** The len-byte (1..4) little-endian unsigned integer at phys, inside one frame. */
  readUint(phys: number, len: number): number {
    const pfn = Math.floor(phys / PAGE_SIZE);
    const off = phys - pfn * PAGE_SIZE;
    let buf: Uint8Array | undefined;
    if (pfn === this.lastPfn) buf = this.lastBuf;
    else {
      const c = this.chunk(pfn);
      if (c === undefined) return 0;
      buf = c.pages.size > 0 ? c.pages.get(pfn) : undefined;
      if (buf === undefined) return this.runRead(c, pfn, off, len);
    }
    if (buf === undefined) return 0;
    let v = 0;
    for (let k = len - 1; k >= 0; k--) v = v * 256 + buf[off + k]!;
    return v;
  }

  /** Copy len bytes starting at phys out of memory. */
  read(phys: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const addr = phys + done;
      const pfn = Math.floor(addr / PAGE_SIZE);
      const off = addr - pfn * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, len - done);
      const c = this.chunk(pfn);
      const buf = c?.pages.get(pfn);
      if (buf !== undefined) out.set(buf.subarray(off, off + n), done);
      else if (c !== undefined) {
        const s = this.smallOf(c, pfn);
        if (s !== undefined) {
          for (let k = 0; k < s.len; k++) {
            const o = s.off + k - off;
            if (o >= 0 && o < n) out[done + o] = byteOf(s.value, k);
          }
        }
      }
      done += n;
    }
    return out;
  }

  /** Store data at phys; all-zero pieces never create anything, pieces of up to 8 bytes stay compact. */
  write(phys: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const addr = phys + done;
      const pfn = Math.floor(addr / PAGE_SIZE);
      const off = addr - pfn * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, data.length - done);
      const piece = data.subarray(done, done + n);
      const value = n <= 8 ? leValue(piece, n) : -1;
      if (value >= 0) this.writeUint(addr, n, value);
      else {
        const buf = this.chunk(pfn)?.pages.get(pfn);
        if (buf !== undefined) buf.set(piece, off);
        else if (!isZero(piece) || this.peekFrame(pfn) !== undefined) this.frameForWrite(pfn).set(piece, off);
      }
      done += n;
    }
  }

  /** memset(phys, byte, len). */
  fill(phys: number, len: number, byte: number): void {
    const v = byte & 0xff;
    let done = 0;
    while (done < len) {
      const addr = phys + done;
      const pfn = Math.floor(addr / PAGE_SIZE);
      const off = addr - pfn * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, len - done);
      if (v === 0 && n === PAGE_SIZE) {
        // A whole frame to zero: clear_pages over the rest at once.
        const whole = Math.floor((len - done) / PAGE_SIZE);
        this.clear_pages(pfn, whole);
        done += whole * PAGE_SIZE;
        continue;
      }
      const buf = v === 0 ? (this.peekFrame(pfn) === undefined ? undefined : this.frameForWrite(pfn)) : this.frameForWrite(pfn);
      if (buf !== undefined) buf.fill(v, off, off + n);
      if (v === 0) this.bytesZeroed += n;
      done += n;
    }
  }

  /** clear_page() over nr frames from pfn; cost O(min(nr, stored frames)). */
  clear_pages(pfn: number, nr: number): void {
    this.bytesZeroed += nr * PAGE_SIZE;
    if (nr === 1) {
      // clear_page of one fresh frame, the fault path's case: usually nothing is stored.
      const c = this.chunk(pfn);
      if (c === undefined) return;
      if (pfn === this.lastPfn) this.lastPfn = -1;
      if (c.pages.size > 0 && c.pages.delete(pfn)) this.nrPages--;
      else if (c.runFrames > 0 && this.smallOf(c, pfn) !== undefined) this.unrun(c, pfn);
      if (c.pages.size === 0 && c.runFrames === 0) this.deleteChunk(Math.floor(pfn / CHUNK_FRAMES));
      return;
    }
    this.dropRange(pfn, nr);
  }

  /** Forget whatever frames [pfn, pfn + nr) hold. */
  private dropRange(pfn: number, nr: number): void {
    if (nr <= 0 || this.chunks.size === 0) return;
    if (this.lastPfn >= pfn && this.lastPfn < pfn + nr) this.lastPfn = -1;
    const end = pfn + nr;
    for (let key = Math.floor(pfn / CHUNK_FRAMES); key * CHUNK_FRAMES < end; key++) {
      const c = this.chunks.get(key);
      if (c === undefined) {
        // Skip ahead over a run of absent chunks cheaply when the range is huge.
        if (this.chunks.size < (end - key * CHUNK_FRAMES) / CHUNK_FRAMES) {
          let next = Infinity;
          for (const k of this.chunks.keys()) if (k > key && k < next) next = k;
          if (next === Infinity) return;
          key = next - 1;
        }
        continue;
      }
      const base = key * CHUNK_FRAMES;
      const from = Math.max(pfn, base) - base;
      const to = Math.min(end, base + CHUNK_FRAMES) - base;
      if (c.pages.size > 0) {
        if (to - from <= c.pages.size) {
          for (let p = base + from; p < base + to; p++) if (c.pages.delete(p)) this.nrPages--;
        } else {
          for (const p of c.pages.keys()) {
            if (p >= base + from && p < base + to) {
              c.pages.delete(p);
              this.nrPages--;
            }
          }
        }
      }
      if (c.runFrames > 0) {
        for (let bi = Math.floor(from / BLOCK_FRAMES); bi * BLOCK_FRAMES < to; bi++) {
          const b = c.blocks[bi];
          if (b === undefined) continue;
          const gone = blockRemoveRange(b, bi, from, to);
          if (blockEmpty(b)) c.blocks[bi] = undefined;
          c.runFrames -= gone;
          this.nrRunFrames -= gone;
        }
      }
      if (c.pages.size === 0 && c.runFrames === 0) this.deleteChunk(key);
    }
  }

  /** copy_page() of nr frames from srcPfn to dstPfn (overlap allowed, as memmove). */
  copy_pages(dstPfn: number, srcPfn: number, nr: number): void {
    this.bytesCopied += nr * PAGE_SIZE;
    const pages: [number, Uint8Array][] = [];
    const smalls: [number, SmallWrite][] = [];
    for (const p of this.storedIn(srcPfn, nr)) {
      const c = this.chunk(p)!;
      const buf = c.pages.get(p);
      if (buf !== undefined) pages.push([p - srcPfn, buf.slice()]);
      else smalls.push([p - srcPfn, this.smallOf(c, p)!]);
    }
    this.dropRange(dstPfn, nr);
    for (const [i, buf] of pages) {
      this.chunkForWrite(dstPfn + i).pages.set(dstPfn + i, buf);
      this.nrPages++;
    }
    for (const [i, s] of smalls) this.addSmall(this.chunkForWrite(dstPfn + i), dstPfn + i, s.off, s.len, s.value);
    // The one-entry cache may remember a destination frame as absent.
    this.lastPfn = -1;
    this.lastBuf = undefined;
  }

  /** Frames in [pfn, pfn + nr) that hold anything, ascending. */
  private storedIn(pfn: number, nr: number): number[] {
    const out: number[] = [];
    const end = pfn + nr;
    for (const [key, c] of this.chunks) {
      const base = key * CHUNK_FRAMES;
      if (base >= end || base + CHUNK_FRAMES <= pfn) continue;
      const from = Math.max(pfn, base);
      const to = Math.min(end, base + CHUNK_FRAMES);
      if (to - from <= c.pages.size) {
        for (let p = from; p < to; p++) if (c.pages.has(p)) out.push(p);
      } else {
        for (const p of c.pages.keys()) if (p >= from && p < to) out.push(p);
      }
      for (let bi = Math.floor((from - base) / BLOCK_FRAMES); bi * BLOCK_FRAMES < to - base; bi++) {
        const b = c.blocks[bi];
        if (b === undefined) continue;
        for (const rel of blockFrames(b, bi)) if (base + rel >= from && base + rel < to) out.push(base + rel);
      }
    }
    return out.sort((a, b) => a - b);
  }
}

/** A full page holding one small write. */
function expand(s: SmallWrite): Uint8Array {
  const buf = new Uint8Array(PAGE_SIZE);
  storeLE(buf, s.off, s.len, s.value);
  return buf;
}

/** Store a safe integer little-endian in len bytes. */
function storeLE(buf: Uint8Array, off: number, len: number, value: number): void {
  for (let k = 0; k < len; k++) buf[off + k] = byteOf(value, k);
}

/** True when every byte is zero. */
function isZero(a: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

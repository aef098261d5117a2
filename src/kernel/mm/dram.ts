/**
 * Physical memory contents: the bytes behind every page frame, what
 * clear_page/copy_page (arch/x86/lib/clear_page_64.S, copy_page_64.S) and
 * memcpy through the direct map act on.
 *
 * Sparse: a 4 KiB buffer exists only for a frame someone wrote nonzero bytes
 * to; every other frame reads as zero. Zeroing drops buffers, so clearing a
 * 1 GiB page that was never written costs almost nothing. Like real DRAM,
 * nothing is cleared when the page allocator frees a frame, so a missing
 * clear_page shows up as old data in the next owner's reads.
 *
 * Buffers returned by frameForWrite()/peekFrame() are only valid until the next
 * clear_pages/copy_pages/fill-with-zero over that frame.
 */
import { PAGE_SIZE } from '../../lib/size.ts';

/** The byte contents of a host's physical memory. */
export class Dram {
  private readonly frames = new Map<number, Uint8Array>();
  /** One-entry cache of the last frame touched by readByte/writeByte. */
  private lastPfn = -1;
  private lastBuf: Uint8Array | undefined;
  /** Bytes zeroed by clear_pages (and zero fills), resident or not: the work the CPU would do. */
  bytesZeroed = 0;
  /** Bytes copied by copy_pages. */
  bytesCopied = 0;

  /** Frames that currently hold a buffer. */
  get residentFrames(): number {
    return this.frames.size;
  }

  /** The buffer of pfn if it has one (read-only use; undefined means all zero). */
  peekFrame(pfn: number): Uint8Array | undefined {
    if (pfn === this.lastPfn) return this.lastBuf;
    return this.frames.get(pfn);
  }

  /** The buffer of pfn, created (zero) if absent, for writing. */
  frameForWrite(pfn: number): Uint8Array {
    let buf = this.frames.get(pfn);
    if (buf === undefined) {
      buf = new Uint8Array(PAGE_SIZE);
      this.frames.set(pfn, buf);
    }
    this.lastPfn = pfn;
    this.lastBuf = buf;
    return buf;
  }

  /** Drop pfn's buffer (its bytes become zero). */
  private drop(pfn: number): void {
    if (this.frames.delete(pfn) && pfn === this.lastPfn) {
      this.lastPfn = -1;
      this.lastBuf = undefined;
    }
  }

  /** One byte at a physical address. */
  readByte(phys: number): number {
    const pfn = Math.floor(phys / PAGE_SIZE);
    const off = phys - pfn * PAGE_SIZE;
    if (pfn === this.lastPfn) return this.lastBuf === undefined ? 0 : this.lastBuf[off]!;
    const buf = this.frames.get(pfn);
    this.lastPfn = pfn;
    this.lastBuf = buf;
    return buf === undefined ? 0 : buf[off]!;
  }

  /** Store one byte at a physical address. */
  writeByte(phys: number, v: number): void {
    const pfn = Math.floor(phys / PAGE_SIZE);
    const off = phys - pfn * PAGE_SIZE;
    let buf = pfn === this.lastPfn ? this.lastBuf : this.frames.get(pfn);
    if (buf === undefined) {
      if ((v & 0xff) === 0) return;
      buf = new Uint8Array(PAGE_SIZE);
      this.frames.set(pfn, buf);
    }
    this.lastPfn = pfn;
    this.lastBuf = buf;
    buf[off] = v;
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
      const buf = this.frames.get(pfn);
      if (buf !== undefined) out.set(buf.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  /** Store data at phys; all-zero pieces never create a buffer. */
  write(phys: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const addr = phys + done;
      const pfn = Math.floor(addr / PAGE_SIZE);
      const off = addr - pfn * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, data.length - done);
      const piece = data.subarray(done, done + n);
      const buf = this.frames.get(pfn);
      if (buf !== undefined) buf.set(piece, off);
      else if (!isZero(piece)) this.frameForWrite(pfn).set(piece, off);
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
      const buf = v === 0 ? this.frames.get(pfn) : this.frameForWrite(pfn);
      if (buf !== undefined) buf.fill(v, off, off + n);
      if (v === 0) this.bytesZeroed += n;
      done += n;
    }
  }

  /** clear_page() over nr frames from pfn; cost O(min(nr, resident frames)). */
  clear_pages(pfn: number, nr: number): void {
    this.bytesZeroed += nr * PAGE_SIZE;
    for (const p of this.residentIn(pfn, nr)) this.drop(p);
  }

  /** copy_page() of nr frames from srcPfn to dstPfn (overlap allowed, as memmove). */
  copy_pages(dstPfn: number, srcPfn: number, nr: number): void {
    this.bytesCopied += nr * PAGE_SIZE;
    const copies: [number, Uint8Array][] = [];
    for (const p of this.residentIn(srcPfn, nr)) copies.push([p - srcPfn, this.frames.get(p)!.slice()]);
    for (const p of this.residentIn(dstPfn, nr)) this.drop(p);
    for (const [i, buf] of copies) this.frames.set(dstPfn + i, buf);
    // The one-entry cache may remember a destination frame as absent.
    this.lastPfn = -1;
    this.lastBuf = undefined;
  }

  /** Resident frames in [pfn, pfn + nr), ascending, at cost O(min(nr, resident)). */
  private residentIn(pfn: number, nr: number): number[] {
    const out: number[] = [];
    if (nr <= this.frames.size) {
      for (let p = pfn; p < pfn + nr; p++) if (this.frames.has(p)) out.push(p);
    } else {
      for (const p of this.frames.keys()) if (p >= pfn && p < pfn + nr) out.push(p);
      out.sort((a, b) => a - b);
    }
    return out;
  }
}

/** True when every byte is zero. */
function isZero(a: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

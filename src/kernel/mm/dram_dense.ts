/**
 * A crowded block of run frames (dram_runs.ts). A sequential writer keeps a
 * 512-frame block in one record, but a random writer gives every frame a
 * record of its own: 48 bytes a frame, a binary search per lookup and a splice
 * per insert. Once a block holds DENSE_AT records its small writes move here,
 * one slot per frame — 16 bytes a frame and constant-time lookups and inserts
 * — so a random guest over a TiB stays within memory. Model-only, like the
 * runs: the bytes read back are exactly those written.
 */
import { BLOCK_FRAMES, REC, readSmall, recValue, type SmallWrite } from './dram_runs.ts';

/** Records in a block at which it becomes dense. */
export const DENSE_AT = 32;

/**
 * One slot per frame of a block: the frame's one small write, or none. A
 * slot is two adjacent doubles — off × 16 + len (−1 for none), then the value
 * — so a lookup touches one cache line.
 */
export class DenseBlock {
  private readonly slot = new Float64Array(2 * BLOCK_FRAMES).fill(-1);
  /** Frames holding a write. */
  count = 0;

  /** The block made from a record list (dram_runs.ts) whose frames start at `base` (chunk-relative). */
  static fromRecords(recs: readonly number[], base: number): DenseBlock {
    const b = new DenseBlock();
    for (let r = 0; r * REC < recs.length; r++) {
      const start = recs[r * REC]!;
      for (let i = 0; i < recs[r * REC + 1]!; i++) b.set(start + i - base, recs[r * REC + 2]!, recs[r * REC + 3]!, recValue(recs as number[], r, start + i));
    }
    return b;
  }

  /** Slot i's write, or undefined. */
  small(i: number): SmallWrite | undefined {
    const ol = this.slot[2 * i]!;
    return ol < 0 ? undefined : { off: ol >> 4, len: ol & 15, value: this.slot[2 * i + 1]! };
  }

  /** Give slot i a write. */
  set(i: number, off: number, len: number, value: number): void {
    if (this.slot[2 * i]! < 0) this.count++;
    this.slot[2 * i] = off * 16 + len;
    this.slot[2 * i + 1] = value;
  }

  /** Empty slot i (it holds a write). */
  remove(i: number): void {
    this.slot[2 * i] = -1;
    this.count--;
  }

  /** Empty slots [from, to); how many held a write. */
  removeRange(from: number, to: number): number {
    let n = 0;
    for (let i = from; i < to; i++) {
      if (this.slot[2 * i]! < 0) continue;
      this.slot[2 * i] = -1;
      n++;
    }
    this.count -= n;
    return n;
  }

  /** The slots that hold a write, ascending. */
  *slots(): Generator<number> {
    for (let i = 0; i < BLOCK_FRAMES; i++) if (this.slot[2 * i]! >= 0) yield i;
  }

  /** readRun for slot i: the len-byte (1..4) little-endian integer at byte `off`. */
  read(i: number, off: number, len: number): number {
    const ol = this.slot[2 * i]!;
    if (ol < 0) return 0;
    const sOff = ol >> 4;
    const sLen = ol & 15;
    if (off + len <= sOff || off >= sOff + sLen) return 0;
    return readSmall(sOff, sLen, this.slot[2 * i + 1]!, off, len);
  }
}

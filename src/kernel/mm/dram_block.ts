/**
 * A 512-frame block's small writes in whichever form the block is in: a run
 * record list (dram_runs.ts), or — once crowded with single-frame records, as
 * a random writer leaves it — one slot per frame (dram_dense.ts). Frames are
 * chunk-relative (0 .. 262143), as in both.
 */
import { DENSE_AT, DenseBlock } from './dram_dense.ts';
import { BLOCK_FRAMES, REC, findRec, insertRec, readRun, recValue, removeFromRec, removeRange, type SmallWrite } from './dram_runs.ts';

/** A block of run frames. */
export type RunBlock = number[] | DenseBlock;

/** Frame rel's small write, or undefined. */
export function blockSmall(b: RunBlock, rel: number): SmallWrite | undefined {
  if (b instanceof DenseBlock) return b.small(rel % BLOCK_FRAMES);
  const r = findRec(b, rel);
  if (r < 0) return undefined;
  return { off: b[r * REC + 2]!, len: b[r * REC + 3]!, value: recValue(b, r, rel) };
}

/** The len-byte (1..4) little-endian integer at byte `off` of frame rel (0 where it holds nothing). */
export function blockRead(b: RunBlock, rel: number, off: number, len: number): number {
  return b instanceof DenseBlock ? b.read(rel % BLOCK_FRAMES, off, len) : readRun(b, rel, off, len);
}

/** Take frame rel (which holds a write) out; true when the block is empty now. */
export function blockRemove(b: RunBlock, rel: number): boolean {
  if (b instanceof DenseBlock) {
    b.remove(rel % BLOCK_FRAMES);
    return b.count === 0;
  }
  removeFromRec(b, findRec(b, rel), rel);
  return b.length === 0;
}

/**
 * Give frame rel (which holds none) a write: the block to keep — a list that
 * reaches DENSE_AT records becomes dense — and the record index a following
 * append may extend (-1 for none).
 */
export function blockInsert(b: RunBlock | undefined, rel: number, off: number, len: number, value: number): { block: RunBlock; at: number } {
  if (b instanceof DenseBlock) {
    b.set(rel % BLOCK_FRAMES, off, len, value);
    return { block: b, at: -1 };
  }
  if (b !== undefined && b.length >= (DENSE_AT - 1) * REC) {
    const dense = DenseBlock.fromRecords(b, rel - (rel % BLOCK_FRAMES));
    dense.set(rel % BLOCK_FRAMES, off, len, value);
    return { block: dense, at: -1 };
  }
  const list = b ?? [];
  return { block: list, at: insertRec(list, rel, off, len, value) };
}

/** Empty frames [from, to) of block bi; how many held a write. */
export function blockRemoveRange(b: RunBlock, bi: number, from: number, to: number): number {
  if (!(b instanceof DenseBlock)) return removeRange(b, from, to);
  const base = bi * BLOCK_FRAMES;
  return b.removeRange(Math.max(0, from - base), Math.min(BLOCK_FRAMES, to - base));
}

/** Does the block hold nothing? */
export function blockEmpty(b: RunBlock): boolean {
  return b instanceof DenseBlock ? b.count === 0 : b.length === 0;
}

/** The frames of block bi holding a write, ascending. */
export function blockFrames(b: RunBlock, bi: number): number[] {
  const out: number[] = [];
  if (b instanceof DenseBlock) {
    for (const i of b.slots()) out.push(bi * BLOCK_FRAMES + i);
    return out;
  }
  for (let r = 0; r < b.length; r += REC) for (let i = 0; i < b[r + 1]!; i++) out.push(b[r]! + i);
  return out;
}

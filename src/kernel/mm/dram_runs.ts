/**
 * Compact storage for frames that hold one small write and zeros elsewhere: the
 * common case of a guest or a toucher storing a word per page. Model-only (real
 * DRAM has no such thing); the bytes read back are exactly those written.
 *
 * A run is a record [start, count, off, len, v0, step] in a 512-frame block: frame
 * start + i holds the len-byte little-endian integer v0 + i * step at byte offset
 * off and zero elsewhere. All values are safe integers below 2^(8 * len), so each
 * byte is exact. A sequential writer of `gpa` into every page fills a whole block
 * with one record; a random writer costs one record per frame.
 *
 * Records of a block are sorted by start and never overlap. Frames are relative
 * to their 1 GiB chunk (0 .. 262143).
 */

/** Numbers per record. */
export const REC = 6;
/** Frames per block (one record list each). */
export const BLOCK_FRAMES = 512;

/** The small write a run frame holds. */
export interface SmallWrite {
  off: number;
  len: number;
  value: number;
}

/** Largest value a write of len bytes may carry and still be stored compactly. */
export function smallLimit(len: number): number {
  return len >= 7 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * len) - 1;
}

/** Index of the record containing frame rel, or -1. */
export function findRec(recs: number[], rel: number): number {
  let lo = 0;
  let hi = recs.length / REC - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const s = recs[mid * REC]!;
    if (rel < s) hi = mid - 1;
    else if (rel >= s + recs[mid * REC + 1]!) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** Value of frame rel in record r. */
export function recValue(recs: number[], r: number, rel: number): number {
  const b = r * REC;
  return recs[b + 4]! + (rel - recs[b]!) * recs[b + 5]!;
}

/**
 * The len-byte (1..4) little-endian integer at byte `off` of frame rel: 0 where
 * no record holds the frame or outside its write; a read inside the write is the
 * stored integer's bytes by arithmetic (no byte loop: a guest reading the word it
 * stored per page lands here).
 */
export function readRun(recs: number[], rel: number, off: number, len: number): number {
  const r = findRec(recs, rel);
  if (r < 0) return 0;
  const sOff = recs[r * REC + 2]!;
  const sLen = recs[r * REC + 3]!;
  if (off + len <= sOff || off >= sOff + sLen) return 0;
  return readSmall(sOff, sLen, recValue(recs, r, rel), off, len);
}

/** The len-byte (1..4) integer at byte `off` of a frame whose one write is `value` (sLen bytes at sOff). */
export function readSmall(sOff: number, sLen: number, value: number, off: number, len: number): number {
  if (off >= sOff && off + len <= sOff + sLen) return Math.floor(value / 2 ** (8 * (off - sOff))) % 2 ** (8 * len);
  let v = 0;
  for (let k = len - 1; k >= 0; k--) {
    const o = off + k - sOff;
    v = v * 256 + (o >= 0 && o < sLen ? byteOf(value, o) : 0);
  }
  return v;
}

/**
 * Add frame rel (absent from every record) holding `value` at off/len; extends the
 * preceding record when the frame continues its progression.
 */
export function insertRec(recs: number[], rel: number, off: number, len: number, value: number): number {
  // First record starting after rel.
  let lo = 0;
  let hi = recs.length / REC;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (recs[mid * REC]! < rel) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0) {
    const b = (lo - 1) * REC;
    const count = recs[b + 1]!;
    if (recs[b]! + count === rel && recs[b + 2] === off && recs[b + 3] === len) {
      if (count === 1) {
        recs[b + 5] = value - recs[b + 4]!;
        recs[b + 1] = 2;
        return b;
      }
      if (recs[b + 4]! + count * recs[b + 5]! === value) {
        recs[b + 1] = count + 1;
        return b;
      }
    }
  }
  recs.splice(lo * REC, 0, rel, 1, off, len, value, 0);
  return lo * REC;
}

/**
 * Append frame rel to the record at b when that record ends just before rel, no
 * record holds rel, and the value continues its progression; false otherwise.
 */
export function appendRec(recs: number[], b: number, rel: number, off: number, len: number, value: number): boolean {
  if (b + REC > recs.length) return false;
  const count = recs[b + 1]!;
  if (recs[b]! + count !== rel || recs[b + 2] !== off || recs[b + 3] !== len) return false;
  if (b + REC < recs.length && recs[b + REC] === rel) return false;
  if (count === 1) recs[b + 5] = value - recs[b + 4]!;
  else if (recs[b + 4]! + count * recs[b + 5]! !== value) return false;
  recs[b + 1] = count + 1;
  return true;
}

/** Remove frame rel from record r (splitting it when rel is inside). */
export function removeFromRec(recs: number[], r: number, rel: number): void {
  const b = r * REC;
  const start = recs[b]!;
  const count = recs[b + 1]!;
  const i = rel - start;
  if (count === 1) {
    recs.splice(b, REC);
    return;
  }
  if (i === 0) {
    recs[b] = start + 1;
    recs[b + 1] = count - 1;
    recs[b + 4] = recs[b + 4]! + recs[b + 5]!;
    return;
  }
  if (i === count - 1) {
    recs[b + 1] = count - 1;
    return;
  }
  const off = recs[b + 2]!;
  const len = recs[b + 3]!;
  const step = recs[b + 5]!;
  recs[b + 1] = i;
  recs.splice(b + REC, 0, rel + 1, count - i - 1, off, len, recs[b + 4]! + (i + 1) * step, step);
}

/** Remove every frame in [from, to) from the records; returns how many frames went. */
export function removeRange(recs: number[], from: number, to: number): number {
  let removed = 0;
  for (let r = 0; r < recs.length / REC; ) {
    const b = r * REC;
    const s = recs[b]!;
    const e = s + recs[b + 1]!;
    if (e <= from || s >= to) {
      r++;
      continue;
    }
    const cutS = Math.max(s, from);
    const cutE = Math.min(e, to);
    removed += cutE - cutS;
    const step = recs[b + 5]!;
    if (cutS === s && cutE === e) {
      recs.splice(b, REC);
      continue;
    }
    if (cutS === s) {
      recs[b + 4] = recs[b + 4]! + (cutE - s) * step;
      recs[b] = cutE;
      recs[b + 1] = e - cutE;
    } else if (cutE === e) {
      recs[b + 1] = cutS - s;
    } else {
      recs[b + 1] = cutS - s;
      recs.splice(b + REC, 0, cutE, e - cutE, recs[b + 2]!, recs[b + 3]!, recs[b + 4]! + (cutE - s) * step, step);
    }
    r++;
  }
  return removed;
}

/** Byte k (little-endian) of a safe integer. */
export function byteOf(value: number, k: number): number {
  return k < 4 ? (value / 2 ** (8 * k)) & 0xff : Math.floor(value / 2 ** (8 * k)) & 0xff;
}

/** The len-byte little-endian integer in bytes[0..len), or -1 if it is not a safe integer. */
export function leValue(bytes: Uint8Array, len: number): number {
  if (len === 8 && bytes[7]! > 0) return -1;
  if (len >= 7 && bytes[6]! > 0x1f) return -1;
  let v = 0;
  for (let k = len - 1; k >= 0; k--) v = v * 256 + bytes[k]!;
  return v;
}

/**
 * The sorted VMA set of one mm, standing for the maple tree (lib/maple_tree.c:
 * mas_find, mas_empty_area, mas_empty_area_rev; mm/mmap.c: find_vma,
 * find_vma_prev, find_vma_intersection, vma_lookup, unmapped_area,
 * unmapped_area_topdown; mm/vma.c: vma_link). The VMA mechanics (split, merge,
 * modify, get_unmapped_area) are in vma_tree.ts, the module to import.
 *
 * VMAs are kept sorted in a two-level array (chunks of at most 128), which gives
 * O(log n) find_vma and cheap inserts at any position; each chunk caches the largest
 * gap in front of its VMAs so the gap search skips full chunks, as the maple tree's
 * gap tracking does. Because of that cache, a VMA's start/end must only change
 * through this class (vma_set_range, split, merge), never by assignment.
 */

import { PAGE_SIZE } from '../../lib/size.ts';
import { VM_GROWSDOWN, type VmArea } from './vm_area.ts';

/** stack_guard_gap: 256 pages below a VM_GROWSDOWN VMA stay unmapped. */
export const STACK_GUARD_GAP = 256 * PAGE_SIZE;

const CHUNK_MAX = 128;
const CHUNK_MIN = 16;

/** vm_start_gap: a VM_GROWSDOWN VMA keeps stack_guard_gap free below it. */
export function vm_start_gap(vma: VmArea): number {
  return vma.flags & VM_GROWSDOWN ? Math.max(0, vma.start - STACK_GUARD_GAP) : vma.start;
}

/** The sorted, non-overlapping VMAs of one mm with gap search (mm->mm_mt). */
export class VmaStore {
  /** mmap_min_addr: nothing is placed below it. */
  mmap_min_addr: number;
  /** TASK_SIZE for this mm. */
  task_size: number;
  private chunks: VmArea[][] = [];
  /** Per chunk: the largest gap in front of any of its VMAs; -1 when stale. */
  private gaps: number[] = [];
  private n = 0;
  /** Last find_vma hit (the old per-mm vmacache); dropped on every change. */
  private cache: VmArea | null = null;
  private pc = 0;
  private pi = 0;

  /** An empty set with the given mmap_min_addr and TASK_SIZE. */
  constructor(mmap_min_addr: number, task_size: number) {
    this.mmap_min_addr = mmap_min_addr;
    this.task_size = task_size;
  }

  /** Number of VMAs. */
  get count(): number {
    return this.n;
  }

  /** mm->map_count (the same number: every VMA in the tree counts). */
  get map_count(): number {
    return this.n;
  }

  /** The first VMA with end > addr, or null (find_vma). O(log n), O(1) on a repeat hit. */
  find_vma(addr: number): VmArea | null {
    const c = this.cache;
    if (c !== null && c.start <= addr && addr < c.end) return c;
    if (!this.seek(addr)) return null;
    const v = this.chunks[this.pc]![this.pi]!;
    if (v.start <= addr) this.cache = v;
    return v;
  }

  /** find_vma and the VMA before it (find_vma_prev). */
  find_vma_prev(addr: number): { vma: VmArea | null; prev: VmArea | null } {
    if (!this.seek(addr)) return { vma: null, prev: this.last() };
    return { vma: this.chunks[this.pc]![this.pi]!, prev: this.at_prev(this.pc, this.pi) };
  }

  /** The VMA containing addr, or null (vma_lookup). */
  vma_lookup(addr: number): VmArea | null {
    const v = this.find_vma(addr);
    return v !== null && v.start <= addr ? v : null;
  }

  /** The first VMA overlapping [start, end), or null (find_vma_intersection). */
  find_vma_intersection(start: number, end: number): VmArea | null {
    const v = this.find_vma(start);
    return v !== null && v.start < end ? v : null;
  }

  /** VMAs overlapping [start, end) in address order, as a snapshot safe to mutate the tree under. */
  vmas_in(start: number, end: number): VmArea[] {
    const out: VmArea[] = [];
    if (!this.seek(start)) return out;
    for (let c = this.pc, i = this.pi; c < this.chunks.length; c++, i = 0) {
      const ch = this.chunks[c]!;
      for (; i < ch.length; i++) {
        if (ch[i]!.start >= end) return out;
        out.push(ch[i]!);
      }
    }
    return out;
  }

  /** Every VMA in address order. */
  *[Symbol.iterator](): IterableIterator<VmArea> {
    for (const ch of this.chunks) yield* ch;
  }

  /** All VMAs as an array. */
  toArray(): VmArea[] {
    return this.chunks.flat();
  }

  /** Lowest VMA or null. */
  first(): VmArea | null {
    return this.chunks.length ? this.chunks[0]![0]! : null;
  }

  /** Highest VMA or null. */
  last(): VmArea | null {
    const ch = this.chunks[this.chunks.length - 1];
    return ch ? ch[ch.length - 1]! : null;
  }

  /** The VMA before `vma` in the tree (vma_prev). */
  prev(vma: VmArea): VmArea | null {
    this.locate(vma);
    return this.at_prev(this.pc, this.pi);
  }

  /** The VMA after `vma` in the tree (vma_next). */
  next(vma: VmArea): VmArea | null {
    this.locate(vma);
    const ch = this.chunks[this.pc]!;
    if (this.pi + 1 < ch.length) return ch[this.pi + 1]!;
    return this.pc + 1 < this.chunks.length ? this.chunks[this.pc + 1]![0]! : null;
  }

  /** Link a VMA (vma_link): into the tree, into its file's i_mmap. Overlap is a kernel bug and throws. */
  insert(vma: VmArea): void {
    if (!(vma.start < vma.end) || vma.start % PAGE_SIZE || vma.end % PAGE_SIZE || vma.start < 0 || vma.end > this.task_size + PAGE_SIZE) {
      throw new Error(`insert: bad VMA [${vma.start.toString(16)}, ${vma.end.toString(16)})`);
    }
    const found = this.seek(vma.start);
    if (found && this.chunks[this.pc]![this.pi]!.start < vma.end) {
      const o = this.chunks[this.pc]![this.pi]!;
      throw new Error(`insert: [${vma.start.toString(16)}, ${vma.end.toString(16)}) overlaps [${o.start.toString(16)}, ${o.end.toString(16)})`);
    }
    if (this.chunks.length === 0) {
      this.chunks.push([vma]);
      this.gaps.push(-1);
    } else {
      let c = this.pc;
      let i = this.pi;
      if (!found) {
        c = this.chunks.length - 1;
        i = this.chunks[c]!.length;
      }
      const ch = this.chunks[c]!;
      ch.splice(i, 0, vma);
      if (ch.length > CHUNK_MAX) {
        this.chunks.splice(c + 1, 0, ch.splice(CHUNK_MAX / 2));
        this.gaps.splice(c + 1, 0, -1);
      }
      this.stale(c);
    }
    this.n++;
    this.cache = null;
    vma.file?.f_mapping.i_mmap.add(vma);
  }

  /** Unlink a VMA from the tree and its file's i_mmap (no ->close: the caller does remove_vma). */
  remove(vma: VmArea): void {
    this.locate(vma);
    const c = this.pc;
    const ch = this.chunks[c]!;
    ch.splice(this.pi, 1);
    if (ch.length === 0) {
      this.chunks.splice(c, 1);
      this.gaps.splice(c, 1);
    } else if (ch.length < CHUNK_MIN && c + 1 < this.chunks.length && ch.length + this.chunks[c + 1]!.length <= CHUNK_MAX) {
      ch.push(...this.chunks[c + 1]!);
      this.chunks.splice(c + 1, 1);
      this.gaps.splice(c + 1, 1);
    }
    this.stale(Math.max(0, c - 1));
    this.stale(c);
    this.n--;
    this.cache = null;
    vma.file?.f_mapping.i_mmap.delete(vma);
  }

  /** Move a VMA's bounds (vma_set_range) without crossing a neighbour; the way callers resize a VMA. */
  vma_set_range(vma: VmArea, start: number, end: number, pgoff: number): void {
    const prev = this.prev(vma);
    const next = this.next(vma);
    if (!(start < end) || start % PAGE_SIZE || end % PAGE_SIZE || (prev && prev.end > start) || (next && next.start < end)) {
      throw new Error(`vma_set_range: [${start.toString(16)}, ${end.toString(16)}) overlaps a neighbour or is empty`);
    }
    this.set_range(vma, start, end, pgoff);
  }

  /** unmapped_area_topdown: the highest gap in [low, high) holding len + align_mask; -1 if none. */
  unmapped_area_topdown(len: number, low: number, high: number, align_mask: number, align_offset: number): number {
    const length = len + align_mask;
    low = Math.max(low, this.mmap_min_addr);
    const fit = (gs: number, ge: number): number => {
      const lo = Math.max(gs, low);
      const hi = Math.min(ge, high);
      if (hi - lo < length) return -1;
      const gap = hi - len;
      return gap - ((((gap - align_offset) % (align_mask + 1)) + align_mask + 1) % (align_mask + 1));
    };
    const top = this.last();
    let r = fit(top ? top.end : 0, Infinity);
    if (r >= 0) return r;
    for (let c = this.chunks.length - 1; c >= 0; c--) {
      const ch = this.chunks[c]!;
      if (ch[ch.length - 1]!.start <= low) break;
      if (this.gap_of(c) < length) continue;
      for (let i = ch.length - 1; i >= 0; i--) {
        const v = ch[i]!;
        if (v.start <= low) return -1;
        r = fit(this.prev_end(c, i), vm_start_gap(v));
        if (r >= 0) return r;
      }
    }
    return -1;
  }

  /** unmapped_area: the lowest gap in [low, high) holding len + align_mask; -1 if none. */
  unmapped_area(len: number, low: number, high: number, align_mask: number, align_offset: number): number {
    const length = len + align_mask;
    low = Math.max(low, this.mmap_min_addr);
    const fit = (gs: number, ge: number): number => {
      const lo = Math.max(gs, low);
      const hi = Math.min(ge, high);
      if (hi - lo < length) return -1;
      return lo + ((((align_offset - lo) % (align_mask + 1)) + align_mask + 1) % (align_mask + 1));
    };
    for (let c = 0; c < this.chunks.length; c++) {
      const ch = this.chunks[c]!;
      if (ch[ch.length - 1]!.start <= low || this.gap_of(c) < length) continue;
      for (let i = 0; i < ch.length; i++) {
        const pe = this.prev_end(c, i);
        if (pe >= high) return -1;
        const r = fit(pe, vm_start_gap(ch[i]!));
        if (r >= 0) return r;
      }
    }
    const top = this.last();
    return fit(top ? top.end : 0, Infinity);
  }

  /** Check the tree's invariants (validate_mm): sorted, non-overlapping, counts, gap caches. Throws on a violation. */
  validate(): void {
    let prevEnd = -1;
    let n = 0;
    for (let c = 0; c < this.chunks.length; c++) {
      const ch = this.chunks[c]!;
      if (ch.length === 0 || ch.length > CHUNK_MAX) throw new Error(`validate: chunk ${c} size ${ch.length}`);
      for (const v of ch) {
        if (!(v.start < v.end) || v.start < prevEnd) throw new Error(`validate: VMA [${v.start.toString(16)}, ${v.end.toString(16)}) out of order`);
        prevEnd = v.end;
        n++;
      }
      if (this.gaps[c]! >= 0 && this.gaps[c] !== this.compute_gap(c)) throw new Error(`validate: stale gap cache in chunk ${c}`);
    }
    if (n !== this.n || this.gaps.length !== this.chunks.length) throw new Error(`validate: map_count ${this.n} but ${n} VMAs`);
  }

  /** Position the cursor (pc, pi) on the first VMA with end > addr; false when there is none. */
  private seek(addr: number): boolean {
    const chunks = this.chunks;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const ch = chunks[mid]!;
      if (ch[ch.length - 1]!.end > addr) hi = mid;
      else lo = mid + 1;
    }
    this.pc = lo;
    this.pi = 0;
    if (lo === chunks.length) return false;
    const ch = chunks[lo]!;
    let a = 0;
    let b = ch.length - 1;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (ch[m]!.end > addr) b = m;
      else a = m + 1;
    }
    this.pi = a;
    return true;
  }

  private locate(vma: VmArea): void {
    if (!this.seek(vma.start) || this.chunks[this.pc]![this.pi] !== vma) throw new Error('VMA not in this tree');
  }

  private at_prev(c: number, i: number): VmArea | null {
    if (i > 0) return this.chunks[c]![i - 1]!;
    if (c === 0) return null;
    const ch = this.chunks[c - 1]!;
    return ch[ch.length - 1]!;
  }

  private prev_end(c: number, i: number): number {
    const p = this.at_prev(c, i);
    return p ? p.end : 0;
  }

  protected set_range(vma: VmArea, start: number, end: number, pgoff: number): void {
    this.locate(vma);
    const c = this.pc;
    vma.start = start;
    vma.end = end;
    vma.pgoff = pgoff;
    this.stale(c);
    this.cache = null;
  }

  /** Chunk c's gaps changed, and so did the first gap of chunk c + 1. */
  private stale(c: number): void {
    if (c < this.gaps.length) this.gaps[c] = -1;
    if (c + 1 < this.gaps.length) this.gaps[c + 1] = -1;
  }

  private gap_of(c: number): number {
    let g = this.gaps[c]!;
    if (g < 0) g = this.gaps[c] = this.compute_gap(c);
    return g;
  }

  private compute_gap(c: number): number {
    const ch = this.chunks[c]!;
    let max = 0;
    let pe = this.prev_end(c, 0);
    for (const v of ch) {
      if (v.start - pe > max) max = v.start - pe;
      pe = v.end;
    }
    return max;
  }
}

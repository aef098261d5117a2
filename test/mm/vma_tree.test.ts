/**
 * VMA tree geometry cases in the style of tools/testing/vma/vma.c: one function per
 * shape, the address space drawn above it (one character per page, 0x1000), exact
 * VMA counts, bounds and pgoffs after each step.
 */
import { describe, expect, it } from 'vitest';
import { Errno } from '../../src/lib/errno.ts';
import { GiB, MiB } from '../../src/lib/size.ts';
import {
  MMAP_BASE, STACK_GUARD_GAP, TASK_UNMAPPED_BASE, VmaTree,
} from '../../src/kernel/mm/vma_tree.ts';
import { AddressSpace, type MappedFile, VM_GROWSDOWN, VM_IO, VM_MAYREAD, VM_READ, VM_SOFTDIRTY, VM_WRITE, VmArea, type VmOperations } from '../../src/kernel/mm/vm_area.ts';
import { MAP_FIXED } from '../../src/uapi/mman.ts';

const P = 0x1000;
const R = VM_READ | VM_MAYREAD;
const RW = R | VM_WRITE;

/** alloc_and_link_vma: [start, end) in pages, pgoff in pages. */
function link(t: VmaTree, start: number, end: number, pgoff = start, flags = RW, file: MappedFile | null = null, ops: VmOperations | null = null): VmArea {
  const v = new VmArea(start * P, end * P, flags, pgoff, file, ops);
  t.insert(v);
  return v;
}

/** A mapped file that counts its references (get_file / fput). */
function mkfile(): MappedFile & { refs: number } {
  return {
    f_mapping: new AddressSpace(),
    refs: 1,
    get() {
      this.refs++;
      return this;
    },
    fput() {
      this.refs--;
    },
  };
}

/** The tree as [start, end, pgoff] in pages. */
function shape(t: VmaTree): number[][] {
  return t.toArray().map((v) => [v.start / P, v.end / P, v.pgoff]);
}

describe('vma tree: lookup', () => {
  it('find_vma, vma_lookup, find_vma_intersection, prev/next', () => {
    /*
     * 0123456789
     *  AA   BBB
     */
    const t = new VmaTree();
    const a = link(t, 1, 3);
    const b = link(t, 6, 9);
    expect(t.find_vma(0)).toBe(a);
    expect(t.find_vma(2 * P + 5)).toBe(a);
    expect(t.find_vma(3 * P)).toBe(b);
    expect(t.find_vma(9 * P)).toBe(null);
    expect(t.vma_lookup(4 * P)).toBe(null);
    expect(t.vma_lookup(6 * P)).toBe(b);
    expect(t.find_vma_intersection(3 * P, 6 * P)).toBe(null);
    expect(t.find_vma_intersection(3 * P, 7 * P)).toBe(b);
    expect([t.prev(b), t.next(a), t.prev(a), t.next(b)]).toEqual([a, b, null, null]);
    expect(t.find_vma_prev(4 * P)).toEqual({ vma: b, prev: a });
    expect(t.vmas_in(2 * P, 7 * P)).toEqual([a, b]);
    expect([t.count, t.map_count]).toEqual([2, 2]);
  });

  it('insert refuses an overlap (a kernel bug), remove unlinks', () => {
    /*
     * 0123456789
     *  AAAA
     *     XX     overlaps A
     */
    const t = new VmaTree();
    const a = link(t, 1, 5);
    expect(() => link(t, 4, 6)).toThrow(/overlaps/);
    t.remove(a);
    expect(t.count).toBe(0);
    expect(() => t.remove(a)).toThrow(/not in this tree/);
    t.validate();
  });

  it('10,000 VMAs: find_vma finds every one', () => {
    const t = new VmaTree();
    for (let i = 9999; i >= 0; i--) link(t, 2 * i, 2 * i + 1, 0, i % 2 ? R : RW);
    t.validate();
    expect(t.count).toBe(10000);
    for (let i = 0; i < 10000; i++) {
      expect(t.find_vma(2 * i * P)!.start).toBe(2 * i * P);
      expect(t.find_vma((2 * i + 1) * P)?.start).toBe(i < 9999 ? (2 * i + 2) * P : undefined);
    }
  });
});

describe('vma tree: split', () => {
  it('split_vma above and below, pgoff follows the address', () => {
    /*
     * 0123456789
     * AAAAAAAAA    split at 3 (new above), then at 1 (new below)
     * BCCDDDDDD
     */
    const t = new VmaTree();
    const a = link(t, 0, 9, 100);
    const d = t.split_vma(a, 3 * P, false);
    expect(shape(t)).toEqual([[0, 3, 100], [3, 9, 103]]);
    expect(d.start).toBe(3 * P);
    const b = t.split_vma(a, 1 * P, true);
    expect(shape(t)).toEqual([[0, 1, 100], [1, 3, 101], [3, 9, 103]]);
    expect(b.end).toBe(1 * P);
    expect(t.count).toBe(3);
    t.validate();
  });

  it('may_split refuses (dmemfs: EINVAL) and nothing changes', () => {
    const ops: VmOperations = { may_split: () => { throw new Errno('EINVAL'); } };
    const t = new VmaTree();
    const a = link(t, 0, 4, 0, RW, null, ops);
    expect(() => t.split_vma(a, 2 * P, false)).toThrow(Errno);
    expect(shape(t)).toEqual([[0, 4, 0]]);
  });

  it('max_map_count: the split that would exceed it fails with ENOMEM', () => {
    const t = new VmaTree({ max_map_count: 2 });
    const a = link(t, 0, 4);
    t.split_vma(a, 2 * P, false);
    let err: unknown;
    try {
      t.split_vma(a, 1 * P, false);
    } catch (e) {
      err = e;
    }
    expect((err as Errno).code).toBe('ENOMEM');
    expect(t.count).toBe(2);
  });

  it('split keeps the file mapping and calls ->open on the new VMA', () => {
    const file = mkfile();
    const opened: VmArea[] = [];
    const ops: VmOperations = { open: (v) => void opened.push(v) };
    const t = new VmaTree();
    const a = link(t, 0, 4, 0, RW, file, ops);
    const n = t.split_vma(a, 1 * P, false);
    expect(opened).toEqual([n]);
    expect([...file.f_mapping.i_mmap]).toEqual([a, n]);
    expect(file.refs).toBe(2); // the new VMA holds its own reference
  });
});

describe('vma tree: merge new range', () => {
  /** mmap-style: merge or insert. */
  function map(t: VmaTree, start: number, end: number, flags = RW, file: MappedFile | null = null, ops: VmOperations | null = null, pgoff = start): VmArea {
    return t.vma_merge_new_range(undefined, undefined, start * P, end * P, flags, file, pgoff, null, ops) ?? link(t, start, end, pgoff, flags, file, ops);
  }

  it('merges with prev, with next, with both', () => {
    /*
     * 0123456789
     * AA          map [2,4) → AAAA        (prev grows)
     *       BB    map [4,6) → AAAAAAAA    (prev grows over the gap and swallows B)
     */
    const t = new VmaTree();
    const a = map(t, 0, 2);
    expect(map(t, 2, 4)).toBe(a);
    map(t, 6, 8);
    expect(t.count).toBe(2);
    expect(map(t, 4, 6)).toBe(a);
    expect(shape(t)).toEqual([[0, 8, 0]]);
    expect(t.count).toBe(1);
    /*      next only: map [10,12) then [8,10) joins... prev A (adjacent) wins first */
    const u = new VmaTree();
    const b = map(u, 4, 6);
    expect(map(u, 2, 4)).toBe(b);
    expect(shape(u)).toEqual([[2, 6, 2]]);
    // The short form looks prev and next up itself: (start, end, flags, file, pgoff, policy, vm_ops).
    expect(u.vma_merge_new_range(6 * P, 7 * P, RW, null, 6, null, null)).toBe(b);
    expect(u.vma_merge_new_range(8 * P, 9 * P, RW, null, 8, null, null)).toBe(null);
    expect(shape(u)).toEqual([[2, 7, 2]]);
    u.validate();
  });

  it('no merge: different flags (VM_SOFTDIRTY ignored), VM_SPECIAL, non-contiguous pgoff, other file', () => {
    /*
     * 0123456789
     * AA BB CC DD   each neighbour of a new [2,3) ... refuses for one reason
     */
    const t = new VmaTree();
    map(t, 0, 2);
    map(t, 2, 3, R);
    expect(t.count).toBe(2);
    map(t, 3, 4, R | VM_SOFTDIRTY);
    expect(t.count).toBe(2); // soft-dirty does not prevent the merge
    map(t, 4, 5, R | VM_IO);
    map(t, 5, 6, R | VM_IO);
    expect(t.count).toBe(4); // VM_SPECIAL never merges
    map(t, 6, 7, R, null, null, 999);
    expect(t.count).toBe(5); // pgoff not contiguous
    map(t, 7, 8, R, mkfile(), null, 7);
    expect(t.count).toBe(6);
    t.validate();
  });

  it('a next VMA with ->close is not removed: only prev grows', () => {
    /*
     * 0123456789
     * AA  BB     B has ->close; map [2,4) → AAAABB
     */
    const ops: VmOperations = { close: () => {} };
    const t = new VmaTree();
    const f = mkfile();
    map(t, 0, 2, RW, f, ops, 0);
    map(t, 4, 6, RW, f, ops, 4);
    map(t, 2, 4, RW, f, ops, 2);
    expect(shape(t)).toEqual([[0, 4, 0], [4, 6, 4]]);
  });

  it('incompatible anon_vmas: prev merges, next stays', () => {
    const t = new VmaTree();
    const a = map(t, 0, 2);
    const b = map(t, 4, 6);
    a.anon_vma = {};
    b.anon_vma = {};
    map(t, 2, 4);
    expect(shape(t)).toEqual([[0, 4, 0], [4, 6, 4]]);
  });
});

describe('vma tree: vma_modify (mprotect, mbind)', () => {
  it('middle of a VMA: split in three', () => {
    /*
     * 0123456789
     * AAAAAAAAA    mprotect [3,6) R → AAA BBB CCC
     */
    const t = new VmaTree();
    const a = link(t, 0, 9);
    const m = t.vma_modify_flags(a, 3 * P, 6 * P, R);
    expect(shape(t)).toEqual([[0, 3, 0], [3, 6, 3], [6, 9, 6]]);
    expect(m.flags).toBe(R);
    expect(t.toArray().map((v) => v.flags)).toEqual([RW, R, RW]);
  });

  it('left part joins prev: prev grows, vma shrinks', () => {
    /*
     * 0123456789
     * PPPVVVVVV    P is R; mprotect [3,5) R → PPPPPVVVV
     */
    const t = new VmaTree();
    const p = link(t, 0, 3, 0, R);
    const v = link(t, 3, 9);
    expect(t.vma_modify_flags(v, 3 * P, 5 * P, R)).toBe(p);
    expect(shape(t)).toEqual([[0, 5, 0], [5, 9, 5]]);
  });

  it('right part joins next: next grows down, vma shrinks', () => {
    /*
     * 0123456789
     * VVVVVVNNN    N is R; mprotect [4,6) R → VVVVNNNNN
     */
    const t = new VmaTree();
    const v = link(t, 0, 6);
    const n = link(t, 6, 9, 6, R);
    expect(t.vma_modify_flags(v, 4 * P, 6 * P, R)).toBe(n);
    expect(shape(t)).toEqual([[0, 4, 0], [4, 9, 4]]);
  });

  it('whole VMA: prev, vma and next become one', () => {
    /*
     * 0123456789
     * PPPVVVNNN    P, N are R; mprotect V R → PPPPPPPPP
     */
    const t = new VmaTree();
    const p = link(t, 0, 3, 0, R);
    const v = link(t, 3, 6);
    link(t, 6, 9, 6, R);
    expect(t.vma_modify_flags(v, 3 * P, 6 * P, R)).toBe(p);
    expect(shape(t)).toEqual([[0, 9, 0]]);
    t.validate();
  });

  it('a file VMA swallowed by a merge drops its file reference and leaves i_mmap', () => {
    /*
     * 0123456789
     * PPPVVV       same file, contiguous pgoff; mprotect V R → PPPPPP
     */
    const f = mkfile();
    const t = new VmaTree();
    const p = link(t, 0, 3, 10, R, f);
    const v = link(t, 3, 6, 13, RW, f);
    f.refs = 2; // one per VMA
    expect(t.vma_modify_flags(v, 3 * P, 6 * P, R)).toBe(p);
    expect(shape(t)).toEqual([[0, 6, 10]]);
    expect(f.refs).toBe(1);
    expect([...f.f_mapping.i_mmap]).toEqual([p]);
  });

  it('whole VMA with ->close cannot be deleted: flags change in place', () => {
    const ops: VmOperations = { close: () => {} };
    const t = new VmaTree();
    link(t, 0, 3, 0, R, null, ops);
    const v = link(t, 3, 6, 3, RW, null, ops);
    expect(t.vma_modify_flags(v, 3 * P, 6 * P, R)).toBe(v);
    expect(t.count).toBe(2 + 0);
    expect(v.flags).toBe(R);
  });

  it('a no-op change splits nothing; a policy change splits like flags', () => {
    const t = new VmaTree();
    const a = link(t, 0, 9);
    expect(t.vma_modify_flags(a, 3 * P, 6 * P, RW)).toBe(a);
    expect(t.count).toBe(1);
    const pol = { mode: 2, nodes: [1] };
    const m = t.vma_modify_policy(a, 3 * P, 6 * P, pol);
    expect(shape(t)).toEqual([[0, 3, 0], [3, 6, 3], [6, 9, 6]]);
    expect(m.policy).toBe(pol);
    // Setting an equal policy on the neighbour merges all three back.
    t.modify_range(0, 9 * P, () => ({ policy: { mode: 2, nodes: [1] } }));
    expect(shape(t)).toEqual([[0, 9, 0]]);
  });

  it('modify_range across several VMAs and holes', () => {
    /*
     * 0123456789
     * AA BB CC     mprotect [1,7) R → A A' B C' C with merges where flags meet
     */
    const t = new VmaTree();
    link(t, 0, 2);
    link(t, 3, 5);
    link(t, 6, 8);
    expect(t.modify_range(1 * P, 7 * P, () => ({ flags: R }))).toBe(3);
    expect(shape(t)).toEqual([[0, 1, 0], [1, 2, 1], [3, 5, 3], [6, 7, 6], [7, 8, 7]]);
    expect(t.toArray().map((v) => v.flags)).toEqual([RW, R, R, R, RW]);
  });
});

describe('vma tree: get_unmapped_area', () => {
  it('top-down from mmap_base, without ASLR', () => {
    const t = new VmaTree();
    expect(MMAP_BASE).toBe(0x7ffff7fff000);
    expect(TASK_UNMAPPED_BASE).toBe(0x2aaaaaaab000);
    const a = t.get_unmapped_area(P);
    expect(a).toBe(MMAP_BASE - P);
    link(t, a / P, a / P + 1);
    expect(t.get_unmapped_area(3 * P)).toBe(MMAP_BASE - 4 * P);
  });

  it('hints: honoured when free, rounded up to mmap_min_addr, ignored when taken', () => {
    const t = new VmaTree();
    expect(t.get_unmapped_area(P, 0x10000000)).toBe(0x10000000);
    expect(t.get_unmapped_area(P, 0x1000)).toBe(0x10000);
    link(t, 0x10000000 / P, 0x10000000 / P + 2);
    expect(t.get_unmapped_area(P, 0x10000000 + P)).toBe(MMAP_BASE - P);
    // MAP_FIXED: the hint itself, even over a mapping (do_mmap unmaps first); unaligned is EINVAL.
    expect(t.get_unmapped_area(P, 0x10000000, MAP_FIXED)).toBe(0x10000000);
    expect(() => t.get_unmapped_area(P, 0x123456, MAP_FIXED)).toThrow(/EINVAL/);
  });

  it('2 MiB (THP) and 1 GiB (dmemfs) alignment, honouring pgoff', () => {
    const t = new VmaTree();
    const a = t.get_unmapped_area(2 * MiB, 0, 0, 2 * MiB);
    expect(a % (2 * MiB)).toBe(0);
    expect(a + 2 * MiB).toBeLessThanOrEqual(MMAP_BASE);
    // __thp_get_unmapped_area: padded search returns MMAP_BASE - 4M, then rounds up.
    expect(a).toBe(0x7ffff7c00000);
    const g = t.get_unmapped_area(2 * GiB, 0, 0, GiB, 3 * 512);
    expect((g - 3 * 512 * P) % GiB).toBe(0);
    expect(g + 2 * GiB).toBeLessThanOrEqual(MMAP_BASE);
    // A range too short to hold one aligned huge page is not aligned.
    expect(t.get_unmapped_area(MiB, 0, 0, 2 * MiB)).toBe(MMAP_BASE - MiB);
  });

  it('stack guard gap below a VM_GROWSDOWN VMA is kept free', () => {
    /*
     *  [ gap 1M ][stack]   mmap_base
     */
    const t = new VmaTree();
    const top = MMAP_BASE / P;
    t.insert(new VmArea((top - 16) * P, top * P, RW | VM_GROWSDOWN, top - 16, null));
    expect(t.get_unmapped_area(P)).toBe((top - 16) * P - STACK_GUARD_GAP - P);
  });

  it('falls back to bottom-up from mmap_legacy_base, then ENOMEM', () => {
    const t = new VmaTree({ mmap_base: 0x30000, task_size: 0x50000, mmap_min_addr: 0x10000 });
    t.mmap_legacy_base = 0x30000;
    const got: number[] = [];
    for (let i = 0; i < 4; i++) {
      const a = t.get_unmapped_area(0x10000);
      got.push(a);
      link(t, a / P, a / P + 0x10, a / P, i % 2 ? R : RW);
    }
    expect(got).toEqual([0x20000, 0x10000, 0x30000, 0x40000]);
    expect(() => t.get_unmapped_area(0x10000)).toThrow(/ENOMEM/);
    expect(() => t.get_unmapped_area(0)).toThrow(/EINVAL/);
  });
});

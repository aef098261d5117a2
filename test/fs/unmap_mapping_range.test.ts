/**
 * unmap_mapping_range (mm/memory.c) geometry: which virtual ranges of which VMAs
 * are zapped for a file range.
 */
import { describe, expect, it } from 'vitest';
import { unmap_mapping_pages, unmap_mapping_range } from '../../src/kernel/mm/truncate.ts';
import { AddressSpace, VmArea, VM_SHARED, type MappedFile } from '../../src/kernel/mm/vm_area.ts';

const P = 4096;

/** A mapping with VMAs given as [start, pages, pgoff]; returns the zaps recorded. */
function setup(vmas: [number, number, number][]) {
  const mapping = new AddressSpace();
  const file: MappedFile = { f_mapping: mapping, get: () => file, fput: () => {} };
  const zaps: [number, number, number, boolean][] = [];
  vmas.forEach(([start, pages, pgoff], i) => {
    const vma = new VmArea(start, start + pages * P, VM_SHARED, pgoff, file);
    vma.vm_mm = { zap_vma_range: (_v, s, e, cows) => zaps.push([i, s, e, cows]) };
    mapping.i_mmap.add(vma);
  });
  return { mapping, zaps };
}

describe('unmap_mapping_range', () => {
  /*
   * file pgoff:   0   1   2   3   4   5   6
   * vma0 @0x10000         [2   3   4   5]
   * hole (to end)             [3 ...........
   * zapped                    [3   4   5]     → 0x11000..0x14000
   */
  it('a hole to the end of the file zaps the tail of the VMA', () => {
    const { mapping, zaps } = setup([[0x10000, 4, 2]]);
    unmap_mapping_range(mapping, 3 * P, 0, true);
    expect(zaps).toEqual([[0, 0x11000, 0x14000, true]]);
  });

  /*
   * vma0 @0x10000 [0   1]            vma1 @0x40000         [3   4]
   * hole                  [1   2   3]
   */
  it('a bounded hole zaps each overlapping VMA only where it overlaps', () => {
    const { mapping, zaps } = setup([
      [0x10000, 2, 0],
      [0x40000, 2, 3],
      [0x80000, 1, 9],
    ]);
    unmap_mapping_range(mapping, P, 3 * P, false);
    expect(zaps).toEqual([
      [0, 0x11000, 0x12000, false],
      [1, 0x40000, 0x41000, false],
    ]);
  });

  it('holebegin is rounded down and the length up to whole pages', () => {
    const { mapping, zaps } = setup([[0x10000, 8, 0]]);
    unmap_mapping_range(mapping, P + 1, 1, true);
    expect(zaps).toEqual([[0, 0x11000, 0x12000, true]]);
  });

  it('a hole after every VMA zaps nothing; a VMA with no mm is skipped', () => {
    const { mapping, zaps } = setup([[0x10000, 2, 0]]);
    unmap_mapping_pages(mapping, 2, 5, true);
    expect(zaps).toEqual([]);
    for (const vma of mapping.i_mmap) vma.vm_mm = null;
    unmap_mapping_pages(mapping, 0, 0, true);
    expect(zaps).toEqual([]);
  });
});

/**
 * Removing a file range from every mapping of it: unmap_mapping_range and
 * unmap_mapping_pages (mm/memory.c; called by truncation in mm/truncate.c and by
 * filesystems' hole punching). For each VMA in the mapping's i_mmap that overlaps
 * the file range, the overlapping virtual range is handed to the VMA's mm, which
 * zaps the page-table entries (zap_vma_range).
 */
import { PAGE_SIZE } from '../../lib/size.ts';
import type { AddressSpace } from './vm_area.ts';

/**
 * unmap_mapping_pages(): unmap file pages [start, start + nr) from every VMA.
 * nr = 0 (or a range that wraps) means "to the end of the file". even_cows also
 * drops private COW copies (truncate); hole punching keeps them.
 */
export function unmap_mapping_pages(mapping: AddressSpace, start: number, nr: number, even_cows: boolean): void {
  const first_index = start;
  let last_index = start + nr - 1;
  if (nr <= 0 || last_index < first_index) last_index = Number.MAX_SAFE_INTEGER;
  // unmap_mapping_range_tree(): the interval-tree walk, over a set.
  for (const vma of [...mapping.i_mmap]) {
    const vba = vma.pgoff;
    const vea = vba + vma.size / PAGE_SIZE - 1;
    if (vea < first_index || vba > last_index) continue;
    const s = Math.max(first_index, vba);
    const e = Math.min(last_index, vea) + 1;
    vma.vm_mm?.zap_vma_range(vma, (s - vba) * PAGE_SIZE + vma.start, (e - vba) * PAGE_SIZE + vma.start, even_cows);
  }
}

/**
 * unmap_mapping_range(): unmap the byte range [holebegin, holebegin + holelen) of
 * a file from every mapping; holelen 0 means to the end of the file. holebegin is
 * rounded down and the length up to whole pages, as Linux does.
 */
export function unmap_mapping_range(mapping: AddressSpace, holebegin: number, holelen: number, even_cows: boolean): void {
  const hba = Math.floor(holebegin / PAGE_SIZE);
  const hlen = Math.ceil(holelen / PAGE_SIZE);
  unmap_mapping_pages(mapping, hba, hlen, even_cows);
}

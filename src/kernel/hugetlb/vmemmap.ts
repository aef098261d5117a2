/**
 * HugeTLB Vmemmap Optimization (mm/hugetlb_vmemmap.c hugetlb_vmemmap_optimize_folio,
 * hugetlb_vmemmap_restore_folio, alloc_vmemmap_page_list, free_vmemmap_page,
 * hugetlb_vmemmap_optimizable_size; Documentation/mm/vmemmap_dedup.rst).
 *
 * A huge page's struct pages fill 8 vmemmap frames (2 MiB) or 4096 (1 GiB). HVO
 * keeps the first (HUGETLB_VMEMMAP_RESERVE_SIZE) and frees the rest, remapping
 * their virtual range read-only onto it. The frames are real: at boot the
 * memmap of each section is 2 MiB of memblock memory at a known address
 * (SparseMem.memmap_phys), so freeing boot vmemmap gives those exact frames to
 * the buddy allocator as free_reserved_page() does (MemTotal and MemFree grow).
 * Restoring allocates fresh frames on the page's node (GFP_KERNEL |
 * __GFP_NORETRY | __GFP_THISNODE, order 0 each) and can fail; the page's
 * vmemmap then lives in those frames, which a later optimization frees back as
 * ordinary pages. Where each 2 MiB of memory has its struct pages is kept per
 * relocated 2 MiB chunk only (8 frame numbers), never per 4 KiB frame.
 *
 * Differences from Linux, knowingly:
 *  - splitting the vmemmap PMD into PTEs (vmemmap_remap_split) costs Linux one
 *    kernel page-table page per 2 MiB of vmemmap the first time; not modelled,
 *    so MemFree grows by exactly 7 (4095) pages per optimized page;
 *  - boot-time gigantic pages are optimized at hugetlb_init after their boot
 *    vmemmap was allocated (Linux ≥ 6.15 never populates it: "pre-HVO"); the
 *    resulting MemTotal/MemFree are the same, memblock's reserved total is not;
 *  - hot-added sections (no boot memmap address) are not optimized.
 */
import { PAGE_SIZE } from '../../lib/size.ts';
import type { PageAllocator } from '../mm/page_alloc.ts';
import { GFP_KERNEL, __GFP_NORETRY, __GFP_THISNODE } from '../mm/gfp.ts';
import { PAGES_PER_SECTION, STRUCT_PAGE_SIZE, type SparseMem } from '../mm/sparse.ts';

/** HUGETLB_VMEMMAP_RESERVE_SIZE: the vmemmap page HVO keeps (head struct pages). */
export const HUGETLB_VMEMMAP_RESERVE_PAGES = 1;
/** Frames of struct pages per 2 MiB of memory (512 × 64 B / 4 KiB). */
const FRAMES_PER_CHUNK = (512 * STRUCT_PAGE_SIZE) / PAGE_SIZE;
const CHUNKS_PER_SECTION = PAGES_PER_SECTION / 512;

/** hugetlb_vmemmap_size(): bytes of struct pages of one huge page. */
export function hugetlb_vmemmap_size(order: number): number {
  return 2 ** order * STRUCT_PAGE_SIZE;
}

/** hugetlb_vmemmap_optimizable_size(): what HVO can free per page (0 if nothing). */
export function hugetlb_vmemmap_optimizable_size(order: number): number {
  return Math.max(0, hugetlb_vmemmap_size(order) - HUGETLB_VMEMMAP_RESERVE_PAGES * PAGE_SIZE);
}

/** HVO state of a host. */
export class HugetlbVmemmap {
  /** vmemmap_optimize_enabled (hugetlb_free_vmemmap=, vm.hugetlb_optimize_vmemmap). */
  enabled = false;
  /** 2 MiB chunk index → the 8 frames holding its struct pages, when not the boot memmap. */
  private readonly reloc = new Map<number, Float64Array>();
  /** Head pfn of each optimized page → the frame it kept. */
  private readonly kept = new Map<number, number>();
  /** Frames handed back to the page allocator, and taken from it by restores (totals). */
  freedFrames = 0;
  allocatedFrames = 0;

  constructor(
    private readonly sparse: SparseMem,
    private readonly buddy: PageAllocator,
  ) {}

  /** HPageVmemmapOptimized. */
  optimized(head: number): boolean {
    return this.kept.has(head);
  }

  /** The frame holding struct page frame `i` of chunk `c` (boot memmap or relocated), or -1. */
  private frame(c: number, i: number): number {
    const r = this.reloc.get(c);
    if (r) return r[i]!;
    const phys = this.sparse.memmap_phys(Math.floor(c / CHUNKS_PER_SECTION));
    if (phys < 0) return -1;
    return phys / PAGE_SIZE + (c % CHUNKS_PER_SECTION) * FRAMES_PER_CHUNK + i;
  }

  /**
   * hugetlb_vmemmap_optimize_folio(): free all but the first vmemmap frame of
   * the page at `head` (order `order`). No-op when disabled or not possible.
   */
  optimize(head: number, order: number): boolean {
    if (!this.enabled || this.kept.has(head) || hugetlb_vmemmap_optimizable_size(order) === 0) return false;
    const c0 = head / 512;
    const nChunks = 2 ** order / 512;
    for (let c = c0; c < c0 + nChunks; c++) if (this.frame(c, 0) < 0) return false;
    const keep = this.frame(c0, 0);
    // Boot frames (PageReserved) go back through free_reserved_page; relocated ones are ordinary pages.
    let runS = -1;
    let runE = -1;
    const flush = (): void => {
      if (runS >= 0) this.buddy.free_reserved_pages(runS, runE);
      runS = runE = -1;
    };
    for (let c = c0; c < c0 + nChunks; c++) {
      const r = this.reloc.get(c);
      for (let i = c === c0 ? 1 : 0; i < FRAMES_PER_CHUNK; i++) {
        const f = this.frame(c, i);
        if (r) {
          this.buddy.__free_pages(f, 0);
          continue;
        }
        if (f === runE) runE++;
        else {
          flush();
          runS = f;
          runE = f + 1;
        }
      }
      this.reloc.delete(c);
    }
    flush();
    const freed = nChunks * FRAMES_PER_CHUNK - 1;
    this.freedFrames += freed;
    this.sparse.vmemmap_adjust(head, 2 ** order, -freed * PAGE_SIZE, 'HVO');
    this.kept.set(head, keep);
    return true;
  }

  /**
   * hugetlb_vmemmap_restore_folio(): give the page its vmemmap back. Returns 0,
   * or -ENOMEM (-12) when the frames cannot be allocated (nothing changes).
   */
  restore(head: number, order: number, nid: number): number {
    const keep = this.kept.get(head);
    if (keep === undefined) return 0;
    const nChunks = 2 ** order / 512;
    const need = nChunks * FRAMES_PER_CHUNK - 1;
    const got = new Float64Array(need);
    for (let i = 0; i < need; i++) {
      const pfn = this.buddy.alloc_pages(GFP_KERNEL | __GFP_NORETRY | __GFP_THISNODE, 0, nid);
      if (pfn < 0) {
        for (let j = 0; j < i; j++) this.buddy.__free_pages(got[j]!, 0);
        return -12;
      }
      got[i] = pfn;
    }
    const c0 = head / 512;
    let k = 0;
    for (let c = c0; c < c0 + nChunks; c++) {
      const frames = new Float64Array(FRAMES_PER_CHUNK);
      for (let i = 0; i < FRAMES_PER_CHUNK; i++) frames[i] = c === c0 && i === 0 ? keep : got[k++]!;
      this.reloc.set(c, frames);
    }
    this.allocatedFrames += need;
    this.sparse.vmemmap_adjust(head, 2 ** order, need * PAGE_SIZE, 'HVO');
    this.kept.delete(head);
    return 0;
  }
}

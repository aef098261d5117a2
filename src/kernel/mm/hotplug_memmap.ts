/**
 * Struct pages for hot-added memory (arch/x86/mm/init_64.c arch_add_memory,
 * arch_remove_memory; mm/memory_hotplug.c __add_pages/__remove_pages;
 * mm/sparse.c section_activate/section_deactivate; mm/sparse-vmemmap.c
 * vmemmap_populate_hugepages, vmemmap_alloc_block). With memmap_on_memory off,
 * each 128 MiB section's 2 MiB of struct pages is one order-9 block from the
 * page allocator (GFP_KERNEL|__GFP_RETRY_MAYFAIL|__GFP_NOWARN, preferring the
 * new memory's node), else 512 base pages. Linux counts them in /proc/vmstat
 * nr_memmap_pages; the model in `nr_memmap_pages`. The page-table pages that
 * map the vmemmap and the direct map are not modelled.
 */
import { PAGE_SIZE } from '../../lib/size.ts';
import { __GFP_NOWARN, __GFP_RETRY_MAYFAIL, GFP_KERNEL } from './gfp.ts';
import type { PageAllocator } from './page_alloc.ts';
import { PAGES_PER_SECTION, type SparseMem } from './sparse.ts';

/** Order of the PMD-sized vmemmap block that backs one section's struct pages. */
const VMEMMAP_ORDER = 9;

/** A block of pages holding struct pages. */
export interface MemmapBlock {
  pfn: number;
  order: number;
}

/** The memmap of every hot-added section. */
export class HotplugMemmap {
  /** Pages the page allocator gave to hot-added memmaps (nr_memmap_pages). */
  nr_memmap_pages = 0;
  private readonly vmemmap = new Map<number, MemmapBlock[]>();

  constructor(
    private readonly buddy: PageAllocator,
    private readonly sparse: SparseMem,
  ) {}

  /** arch_add_memory() → __add_pages(): sparse_add_section() per section; 0, -ENOMEM or -EEXIST, undone on failure. */
  arch_add_memory(nid: number, start: number, size: number): number {
    const start_pfn = start / PAGE_SIZE;
    const end_pfn = (start + size) / PAGE_SIZE;
    for (let pfn = start_pfn; pfn < end_pfn; pfn += PAGES_PER_SECTION) {
      const err = this.sparse_add_section(nid, pfn);
      if (err) {
        if (pfn > start_pfn) this.arch_remove_memory(start, (pfn - start_pfn) * PAGE_SIZE);
        return err;
      }
    }
    return 0;
  }

  /** sparse_add_section() for one whole section: vmemmap_populate(), then the section becomes present and valid. */
  private sparse_add_section(nid: number, pfn: number): number {
    const sec = pfn / PAGES_PER_SECTION;
    if (this.sparse.valid_section_nr(sec) && this.sparse.subsection_active(sec, 0)) return -17;
    const pages = this.vmemmap_populate(nid);
    if (!pages) return -12;
    const err = this.sparse.sparse_add_section(nid, pfn, PAGES_PER_SECTION);
    if (err) {
      this.vmemmap_free(pages);
      return err;
    }
    this.vmemmap.set(sec, pages);
    // Added but offline: no zone (pfn_to_online_page() is NULL), whatever boot zone spans the hole.
    this.buddy.section_zone.set(sec, null);
    return 0;
  }

  /** vmemmap_populate_hugepages(): one PMD-sized block, falling back to base pages; null on ENOMEM. */
  private vmemmap_populate(nid: number): MemmapBlock[] | null {
    const gfp = GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN;
    const huge = this.buddy.alloc_pages(gfp, VMEMMAP_ORDER, nid);
    if (huge >= 0) {
      this.nr_memmap_pages += 1 << VMEMMAP_ORDER;
      return [{ pfn: huge, order: VMEMMAP_ORDER }];
    }
    const pages: MemmapBlock[] = [];
    for (let i = 0; i < 1 << VMEMMAP_ORDER; i++) {
      const p = this.buddy.alloc_pages(gfp, 0, nid);
      if (p < 0) {
        this.vmemmap_free(pages);
        return null;
      }
      pages.push({ pfn: p, order: 0 });
      this.nr_memmap_pages++;
    }
    return pages;
  }

  /** Every block of struct pages the page allocator holds for hot-added sections. */
  memmap_blocks(): MemmapBlock[] {
    return [...this.vmemmap.values()].flat();
  }

  private vmemmap_free(pages: readonly MemmapBlock[]): void {
    for (const p of pages) {
      this.buddy.free_pages(p.pfn, p.order);
      this.nr_memmap_pages -= 1 << p.order;
    }
  }

  /** arch_remove_memory() → __remove_pages(): the sections go, their memmap back to the page allocator. */
  arch_remove_memory(start: number, size: number): void {
    for (let pfn = start / PAGE_SIZE; pfn < (start + size) / PAGE_SIZE; pfn += PAGES_PER_SECTION) {
      const sec = pfn / PAGES_PER_SECTION;
      const pages = this.vmemmap.get(sec);
      if (!pages) continue;
      this.sparse.sparse_remove_section(pfn, PAGES_PER_SECTION);
      this.vmemmap_free(pages);
      this.vmemmap.delete(sec);
    }
  }
}

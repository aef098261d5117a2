/**
 * An IOMMU domain: the device's second-level page tables that translate IO
 * virtual addresses to physical ones (drivers/iommu/iommu.c iommu_map,
 * iommu_pgsize, iommu_unmap, iommu_iova_to_phys, iommu_get_resv_regions;
 * drivers/iommu/intel/iommu.c for the VT-d formats; include/linux/iommu-pages.h
 * for how table pages are accounted).
 *
 * Modelled on Intel VT-d second-level tables with super pages: 4-level tables,
 * page sizes 4K|2M|1G, entry bits DMA_PTE_READ (0), DMA_PTE_WRITE (1) and
 * DMA_PTE_LARGE_PAGE (7). The tables reuse the mm's PageTables with an
 * allocator that takes frames from the page allocator and counts them in
 * NR_SECONDARY_PAGETABLE (SecPageTables): since Linux 6.11 iommu_alloc_pages
 * accounts IOMMU table pages there (and in NR_IOMMU_PAGES, which the model's
 * vmstat does not have yet).
 *
 * Deviation: the aperture is [0, 2^47) (the model's tables cover the lower half
 * of a 4-level space), where 48-bit VT-d has [0, 2^48). The MSI window
 * 0xfee00000-0xfeefffff is a reserved region, as on x86.
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE, PMD_SIZE, PUD_SIZE } from '../../lib/size.ts';
import type { Kmem } from '../mm/kmem.ts';
import { PageTables, PG_LEVEL_1G, PG_LEVEL_2M, PG_LEVEL_4K, USER_VA_END, mk_entry, pte_pfn, type LeafCounts } from '../mm/pgtable.ts';

/** IOMMU_READ / IOMMU_WRITE (include/linux/iommu.h): the device's access rights. */
export const IOMMU_READ = 1 << 0;
/** The device may write. */
export const IOMMU_WRITE = 1 << 1;

/** VT-d second-level entry bits. */
export const DMA_PTE_READ = 1 << 0;
/** Writable entry. */
export const DMA_PTE_WRITE = 1 << 1;
/** Super-page leaf (PS). */
export const DMA_PTE_LARGE_PAGE = 1 << 7;

/** pgsize_bitmap of a VT-d domain with 2M and 1G super pages. */
export const IOMMU_PGSIZE_BITMAP = PAGE_SIZE + PMD_SIZE + PUD_SIZE;

/** One usable IOVA range, inclusive (struct vfio_iova). */
export interface IovaRange {
  start: number;
  end: number;
}

/** The IOVA ranges left after the aperture and the reserved regions (the MSI window on x86). */
export const IOMMU_IOVA_RANGES: readonly IovaRange[] = [
  { start: 0, end: 0xfee00000 - 1 },
  { start: 0xfef00000, end: USER_VA_END - 1 },
];

/** Page sizes (level, bytes), largest first, for iommu_pgsize. */
const PGSIZES: readonly [number, number][] = [
  [PG_LEVEL_1G, PUD_SIZE],
  [PG_LEVEL_2M, PMD_SIZE],
  [PG_LEVEL_4K, PAGE_SIZE],
];

/** A leaf found by a walk: its first IOVA, physical address and size. */
export interface IommuLeaf {
  iova: number;
  phys: number;
  size: number;
}

/** struct iommu_domain (one per container in the model: see container.ts). */
export class IommuDomain {
  private readonly pt: PageTables;

  constructor(
    kmem: Kmem,
    /** Node the table pages come from (the IOMMU's node). */
    nid: number,
  ) {
    this.pt = new PageTables({
      alloc_table: () => kmem.allocPgtable(nid, true),
      free_table: (pfn) => kmem.freePgtable(pfn, true),
    });
  }

  /**
   * iommu_map(domain, iova, paddr, size, prot): map [iova, iova + size) to
   * paddr with the largest page sizes that alignment of iova and paddr and the
   * remaining size allow (iommu_pgsize). EINVAL when anything is not 4K
   * aligned; ENOMEM when a table page cannot be had (what was mapped is undone).
   */
  iommu_map(iova: number, paddr: number, size: number, prot: number): void {
    if ((iova % PAGE_SIZE) + (paddr % PAGE_SIZE) + (size % PAGE_SIZE) !== 0 || iova + size > USER_VA_END) throw new Errno('EINVAL');
    const flags = (prot & IOMMU_READ ? DMA_PTE_READ : 0) | (prot & IOMMU_WRITE ? DMA_PTE_WRITE : 0);
    let done = 0;
    while (done < size) {
      const va = iova + done;
      const pa = paddr + done;
      const [level, pgsize] = PGSIZES.find(([, s]) => va % s === 0 && pa % s === 0 && size - done >= s)!;
      const entry = mk_entry(pa / PAGE_SIZE, flags | (level > PG_LEVEL_4K ? DMA_PTE_LARGE_PAGE : 0));
      if (!this.pt.set_leaf(va, level, entry)) {
        if (done > 0) this.iommu_unmap(iova, done);
        throw new Errno('ENOMEM');
      }
      done += pgsize;
    }
  }

  /** The leaves in [iova, iova + size), in IOVA order. */
  leaves(iova: number, size: number): IommuLeaf[] {
    const out: IommuLeaf[] = [];
    this.pt.for_each_leaf(iova, iova + size, (va, level, e) => {
      out.push({ iova: va, phys: pte_pfn(e) * PAGE_SIZE, size: level === PG_LEVEL_1G ? PUD_SIZE : level === PG_LEVEL_2M ? PMD_SIZE : PAGE_SIZE });
    });
    return out;
  }

  /** iommu_unmap: clear the leaves of [iova, iova + size) and free emptied tables; returns bytes unmapped. */
  iommu_unmap(iova: number, size: number): number {
    let unmapped = 0;
    this.pt.zap_range(iova, iova + size, (_va, level) => {
      unmapped += level === PG_LEVEL_1G ? PUD_SIZE : level === PG_LEVEL_2M ? PMD_SIZE : PAGE_SIZE;
    }, true);
    return unmapped;
  }

  /** iommu_iova_to_phys: the physical address iova translates to, 0 when unmapped. */
  iommu_iova_to_phys(iova: number): number {
    const e = this.pt.walk(iova - (iova % PAGE_SIZE));
    if (e === 0) return 0;
    const size = this.pt.lastLevel === PG_LEVEL_1G ? PUD_SIZE : this.pt.lastLevel === PG_LEVEL_2M ? PMD_SIZE : PAGE_SIZE;
    return pte_pfn(e) * PAGE_SIZE + (iova % size);
  }

  /** Leaves by level (pte = 4K, pmd = 2M, pud = 1G). */
  count_leaves(): LeafCounts {
    return this.pt.count_leaves();
  }

  /** Table pages held (all levels, the root included). */
  nr_tables(): number {
    return this.pt.nr_tables();
  }

  /** iommu_domain_free: every table page goes back (the caller unmapped everything). */
  free(): void {
    this.pt.destroy();
  }

  /** Consistency check of the tables (tests). */
  validate(): void {
    this.pt.validate();
  }
}

/**
 * Anonymous pages and their map counts: what struct page/folio's _mapcount,
 * _entire_mapcount and the NR_ANON_MAPPED / NR_ANON_THPS counters track for
 * anonymous memory (mm/rmap.c folio_add_new_anon_rmap, folio_add_anon_rmap_pte,
 * folio_remove_rmap_pte/pmd; mm/huge_memory.c for THP).
 *
 * We keep no struct page, so the state lives only where it is not implied:
 * an order-0 page mapped once needs nothing (a PTE with the anon bit points at
 * it); pages shared after fork keep their count in `shared`; each THP has one
 * small record. Memory grows with shared pages and THPs, never with all frames.
 *
 * Simplification: a THP's mapped-page accounting moves in whole folios (512
 * pages enter NR_ANON_MAPPED when it is first mapped and leave when its last
 * mapping goes), where Linux counts partially mapped folios page by page and
 * queues them for deferred split.
 */
import { PAGES_PER_PMD } from '../../lib/size.ts';
import { NR_ANON_MAPPED, NR_ANON_THPS, type VmStat } from './vmstat.ts';

/** One anonymous transparent huge page (an order-9 folio). */
interface ThpFolio {
  /** PMD mappings of the whole folio (entire mapcount). */
  pmdMaps: number;
  /** PTE mappings of its subpages, summed. */
  pteMaps: number;
  /** Subpages memory_failure isolated: never freed with the rest. */
  poisoned?: Set<number>;
}

/** Map counts of every anonymous page on the host. */
export class AnonPages {
  private readonly shared = new Map<number, number>();
  private readonly thps = new Map<number, ThpFolio>();

  constructor(
    private readonly vmstat: VmStat,
    private readonly pfnToNid: (pfn: number) => number,
    /** Frees 2^order frames when their last mapping goes. */
    private readonly free: (pfn: number, order: number) => void,
  ) {}

  /** folio_add_new_anon_rmap for an order-0 page: mapped once by its first PTE. */
  newPage(pfn: number): void {
    this.vmstat.mod(this.pfnToNid(pfn), NR_ANON_MAPPED, 1);
  }

  /** folio_add_new_anon_rmap for a THP mapped by one PMD. */
  newThp(head: number): void {
    this.thps.set(head, { pmdMaps: 1, pteMaps: 0 });
    const nid = this.pfnToNid(head);
    this.vmstat.mod(nid, NR_ANON_MAPPED, PAGES_PER_PMD);
    this.vmstat.mod(nid, NR_ANON_THPS, PAGES_PER_PMD);
  }

  /** The THP containing pfn, if pfn is part of one. */
  private thpOf(pfn: number): { head: number; folio: ThpFolio } | undefined {
    const head = pfn - (pfn % PAGES_PER_PMD);
    const folio = this.thps.get(head);
    return folio ? { head, folio } : undefined;
  }

  /** True when pfn belongs to an anonymous THP. */
  isThpPage(pfn: number): boolean {
    return this.thpOf(pfn) !== undefined;
  }

  /** How many page-table entries map this page (PTE maps plus PMD maps of its folio). */
  mapcount(pfn: number): number {
    const t = this.thpOf(pfn);
    if (t) return t.folio.pmdMaps + t.folio.pteMaps;
    return this.shared.get(pfn) ?? 1;
  }

  /** A PTE mapping was duplicated (fork's copy_present_pte). */
  dupPte(pfn: number): void {
    const t = this.thpOf(pfn);
    if (t) t.folio.pteMaps++;
    else this.shared.set(pfn, (this.shared.get(pfn) ?? 1) + 1);
  }

  /** A PMD mapping of a THP was duplicated (fork's copy_huge_pmd). */
  dupPmd(head: number): void {
    this.thps.get(head)!.pmdMaps++;
  }

  /** A PMD mapping became 512 PTE mappings (__split_huge_pmd). */
  splitPmd(head: number): void {
    const folio = this.thps.get(head)!;
    folio.pmdMaps--;
    folio.pteMaps += PAGES_PER_PMD;
    if (folio.pmdMaps === 0) this.vmstat.mod(this.pfnToNid(head), NR_ANON_THPS, -PAGES_PER_PMD);
  }

  /** A PTE mapping of pfn went away (zap or COW); frees the page or folio on its last mapping. */
  putPte(pfn: number): void {
    this.dropPte(pfn, false);
  }

  /**
   * memory_failure unmapped one entry of a poisoned page: the mapping goes like
   * putPte, but the frame is isolated instead of freed when its last mapping goes.
   */
  isolatePte(pfn: number): void {
    this.dropPte(pfn, true);
  }

  private dropPte(pfn: number, poisoned: boolean): void {
    const t = this.thpOf(pfn);
    if (t) {
      if (poisoned) (t.folio.poisoned ??= new Set()).add(pfn);
      t.folio.pteMaps--;
      this.maybeFreeThp(t.head, t.folio);
      return;
    }
    const n = this.shared.get(pfn);
    if (n !== undefined) {
      if (n <= 2) this.shared.delete(pfn);
      else this.shared.set(pfn, n - 1);
      return;
    }
    this.vmstat.mod(this.pfnToNid(pfn), NR_ANON_MAPPED, -1);
    if (!poisoned) this.free(pfn, 0);
  }

  /** A PMD mapping of a THP went away. */
  putPmd(head: number): void {
    const folio = this.thps.get(head)!;
    folio.pmdMaps--;
    if (folio.pmdMaps === 0) this.vmstat.mod(this.pfnToNid(head), NR_ANON_THPS, -PAGES_PER_PMD);
    this.maybeFreeThp(head, folio);
  }

  private maybeFreeThp(head: number, folio: ThpFolio): void {
    if (folio.pmdMaps + folio.pteMaps > 0) return;
    this.thps.delete(head);
    this.vmstat.mod(this.pfnToNid(head), NR_ANON_MAPPED, -PAGES_PER_PMD);
    if (!folio.poisoned) {
      this.free(head, 9);
      return;
    }
    // A split folio with poisoned subpages goes back page by page, without them.
    for (let i = 0; i < PAGES_PER_PMD; i++) if (!folio.poisoned.has(head + i)) this.free(head + i, 0);
  }

  /** Number of THP folios alive (for tests and reports). */
  get nrThps(): number {
    return this.thps.size;
  }
}

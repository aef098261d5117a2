/**
 * TEST DOUBLE of HugetlbPools (src/kernel/hugetlb/api.ts): a faithful minimal
 * pool for hugetlbfs's tests while the real pools (host.hugetlb) are not
 * wired. One node; huge pages are fake frames far above the host's RAM (the
 * model's Dram stores bytes for any frame), so the buddy allocator is never
 * touched. Follows mm/hugetlb.c's counting: hugetlb_acct_memory with
 * gather_surplus_pages / return_unused_surplus_pages, dequeue refusing
 * unreserved pages when free == resv, surplus pages up to
 * nr_overcommit_hugepages, free_huge_folio shrinking the pool while surplus.
 */
import { Errno } from '../../src/lib/errno.ts';
import type { Hstate, HugetlbAllocPolicy, HugetlbPools } from '../../src/kernel/hugetlb/api.ts';
import type { Host } from '../../src/kernel/host.ts';

/** One pool of the double. */
class HstateDouble implements Hstate {
  nr_huge_pages = 0;
  free_huge_pages = 0;
  resv_huge_pages = 0;
  surplus_huge_pages = 0;
  nr_overcommit_huge_pages = 0;
  readonly free: number[] = [];
  private next: number;

  constructor(
    readonly order: number,
    base: number,
  ) {
    this.next = base;
  }
  get size(): number {
    return 4096 * 2 ** this.order;
  }
  get name(): string {
    return `hugepages-${this.size / 1024}kB`;
  }
  get nr_huge_pages_node(): readonly number[] {
    return [this.nr_huge_pages];
  }
  get free_huge_pages_node(): readonly number[] {
    return [this.free_huge_pages];
  }
  get surplus_huge_pages_node(): readonly number[] {
    return [this.surplus_huge_pages];
  }
  /** A fresh page (alloc_fresh_hugetlb_folio). */
  fresh(): number {
    const pfn = this.next;
    this.next += 2 ** this.order;
    this.nr_huge_pages++;
    return pfn;
  }
}

/** TEST DOUBLE: a minimal HugetlbPools with `n2m` 2M and `n1g` 1G pages. */
export class HugetlbPoolsDouble implements HugetlbPools {
  readonly hstates: HstateDouble[];
  private readonly inUse = new Map<number, HstateDouble>();
  private readonly poisoned = new Set<number>();

  constructor(n2m: number, n1g: number) {
    const h2 = new HstateDouble(9, 2 ** 36);
    const h1 = new HstateDouble(18, 2 ** 37);
    for (let i = 0; i < n2m; i++) h2.free.push(h2.fresh());
    for (let i = 0; i < n1g; i++) h1.free.push(h1.fresh());
    h2.free_huge_pages = n2m;
    h1.free_huge_pages = n1g;
    this.hstates = [h2, h1];
  }

  default_hstate(): Hstate {
    return this.hstates[0]!;
  }
  size_to_hstate(size: number): Hstate | null {
    return this.hstates.find((h) => h.size === size) ?? null;
  }

  hugetlb_acct_memory(hs: Hstate, delta: number): void {
    const h = hs as HstateDouble;
    if (delta > 0) {
      // gather_surplus_pages
      const needed = h.resv_huge_pages + delta - h.free_huge_pages;
      if (needed > 0) {
        if (h.surplus_huge_pages + needed > h.nr_overcommit_huge_pages) throw new Errno('ENOMEM');
        for (let i = 0; i < needed; i++) {
          h.free.push(h.fresh());
          h.free_huge_pages++;
          h.surplus_huge_pages++;
        }
      }
      h.resv_huge_pages += delta;
      return;
    }
    h.resv_huge_pages += delta;
    // return_unused_surplus_pages
    let n = Math.min(-delta, h.surplus_huge_pages);
    while (n-- > 0 && h.free_huge_pages > h.resv_huge_pages) {
      h.free.pop();
      h.free_huge_pages--;
      h.surplus_huge_pages--;
      h.nr_huge_pages--;
    }
  }

  alloc_hugetlb_folio(hs: Hstate, _policy: HugetlbAllocPolicy, reserved: boolean): number {
    const h = hs as HstateDouble;
    let pfn: number | undefined;
    if (reserved || h.free_huge_pages - h.resv_huge_pages > 0) {
      pfn = h.free.shift();
      if (pfn !== undefined) h.free_huge_pages--;
    }
    if (pfn === undefined) {
      if (reserved || h.surplus_huge_pages >= h.nr_overcommit_huge_pages) return -1;
      pfn = h.fresh();
      h.surplus_huge_pages++;
    }
    if (reserved) h.resv_huge_pages--;
    this.inUse.set(pfn, h);
    return pfn;
  }

  free_huge_folio(pfn: number, restoreReserve: boolean): void {
    const h = this.inUse.get(pfn);
    if (!h) throw new Error(`double: free of a page not in use ${pfn}`);
    this.inUse.delete(pfn);
    if (restoreReserve) h.resv_huge_pages++;
    if (this.poisoned.has(pfn)) {
      h.nr_huge_pages--;
      return;
    }
    if (h.surplus_huge_pages > 0) {
      h.surplus_huge_pages--;
      h.nr_huge_pages--;
      return;
    }
    h.free.push(pfn);
    h.free_huge_pages++;
  }

  page_hstate(pfn: number): { h: Hstate; head: number; inUse: boolean } | null {
    for (const h of this.hstates) {
      const head = pfn - (pfn % 2 ** h.order);
      if (this.inUse.get(head) === h) return { h, head, inUse: true };
      if (h.free.includes(head)) return { h, head, inUse: false };
    }
    return null;
  }

  hugetlb_memory_failure(pfn: number): 'dissolved' | 'in-use' | null {
    const p = this.page_hstate(pfn);
    if (!p) return null;
    if (!p.inUse) {
      const h = p.h as HstateDouble;
      h.free.splice(h.free.indexOf(p.head), 1);
      h.free_huge_pages--;
      h.nr_huge_pages--;
      return 'dissolved';
    }
    this.poisoned.add(p.head);
    return 'in-use';
  }

  folio_hwpoisoned(head: number): boolean {
    return this.poisoned.has(head);
  }

  /** Test helper: pages in use. */
  get nrInUse(): number {
    return this.inUse.size;
  }
}

/** Attach the double as host.hugetlb when asked or when the real pools are not wired. */
export function attachPools(host: Host, n2m: number, n1g: number, force: boolean): HugetlbPools {
  const h = host as unknown as { hugetlb?: HugetlbPools };
  if (h.hugetlb && !force) return h.hugetlb;
  const pools = new HugetlbPoolsDouble(n2m, n1g);
  Object.defineProperty(host, 'hugetlb', { value: pools, configurable: true, writable: true });
  return pools;
}

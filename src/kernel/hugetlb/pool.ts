/**
 * The HugeTLB page pools (mm/hugetlb.c): fresh pages from the page allocator
 * (alloc_buddy_hugetlb_folio, alloc_gigantic_folio → alloc_contig_pages),
 * enqueue/dequeue, free_huge_folio, update_and_free_hugetlb_folio,
 * remove/add_hugetlb_folio, surplus allocation (alloc_surplus_hugetlb_folio),
 * the pool half of alloc_hugetlb_folio, dissolve_free_hugetlb_folio and the
 * pool half of memory failure. Resizing and reservations are in resize.ts.
 *
 * Per huge page the pool keeps one record keyed by its head pfn; the frames
 * themselves are out of the buddy allocator while the page is in the pool
 * (MemFree drops, MemTotal does not). Gigantic boot pages (boot.ts) join via
 * add_bootmem_page.
 */
import { Errno } from '../../lib/errno.ts';
import type { PageAllocator } from '../mm/page_alloc.ts';
import { GFP_HIGHUSER, GFP_HIGHUSER_MOVABLE, __GFP_COMP, __GFP_NOWARN, __GFP_RETRY_MAYFAIL, __GFP_THISNODE } from '../mm/gfp.ts';
import type { KernelLog } from '../printk.ts';
import type { HugetlbAllocPolicy, HugetlbPools } from './api.ts';
import { GIGANTIC_ORDER, HUGETLB_PAGE_ORDER, HstateImpl, for_each_node_mask_to } from './hstate.ts';
import { gather_surplus_pages, return_unused_surplus_pages, set_max_huge_pages } from './resize.ts';
import type { HugetlbVmemmap } from './vmemmap.ts';

/** What the pools need from the host. */
export interface HugetlbDeps {
  buddy: PageAllocator;
  vmemmap: HugetlbVmemmap;
  log: KernelLog;
  nrNodes: number;
  /** numa_mem_id(): the node the current task runs on. */
  current_nid(): number;
  /** init_nodemask_of_mempolicy(): the current task's policy nodes, or null for the default policy. */
  current_policy_nodes(): readonly number[] | null;
}

/** One huge page (the folio's hugetlb flags and where it lives). */
export interface HugePage {
  readonly h: HstateImpl;
  readonly head: number;
  readonly nid: number;
  /** HPageFreed: on its node's free list. */
  free: boolean;
  /** Raw frames with a hardware error (folio_test_hwpoison + the raw list). */
  bad: number[] | null;
  /** HPageTemporary: not accounted as surplus, freed on last put. */
  temporary: boolean;
}

/** The host's HugeTLB pools. */
export class HugetlbPoolsImpl implements HugetlbPools {
  readonly hstates: HstateImpl[];
  private defaultIdx = 0;
  /** Every huge page, by head pfn. */
  readonly pages = new Map<number, HugePage>();
  /** hugetlb_optimize_vmemmap etc. live in the vmemmap object. */
  readonly vmemmap: HugetlbVmemmap;

  constructor(readonly deps: HugetlbDeps) {
    this.hstates = [new HstateImpl(HUGETLB_PAGE_ORDER, 0, deps.nrNodes), new HstateImpl(GIGANTIC_ORDER, 1, deps.nrNodes)];
    this.hstates[1]!.demote_order = HUGETLB_PAGE_ORDER;
    this.vmemmap = deps.vmemmap;
  }

  /** node_states[N_MEMORY]: nodes with managed memory, ascending. */
  memoryNodes(): number[] {
    const out: number[] = [];
    for (let n = 0; n < this.deps.nrNodes; n++) if (this.deps.buddy.node_managed_pages(n) > 0) out.push(n);
    return out;
  }

  default_hstate(): HstateImpl {
    return this.hstates[this.defaultIdx]!;
  }

  /** Set default_hstate_idx (default_hugepagesz=). */
  set_default(h: HstateImpl): void {
    this.defaultIdx = h.index;
  }

  size_to_hstate(size: number): HstateImpl | null {
    return this.hstates.find((h) => h.size === size) ?? null;
  }

  /** htlb_alloc_mask(): gigantic pages are not movable (hugepage_movable_supported). */
  htlb_alloc_mask(h: HstateImpl): number {
    return h.gigantic ? GFP_HIGHUSER : GFP_HIGHUSER_MOVABLE;
  }

  private nid_of(pfn: number): number {
    return this.deps.buddy.zone_of(pfn)?.nid ?? 0;
  }

  /** The nodes a zonelist of `nid` visits, in fallback order, restricted to `nodemask`. */
  private nodeFallback(h: HstateImpl, nid: number, nodemask: readonly number[] | undefined): number[] {
    const out: number[] = [];
    for (const z of this.deps.buddy.zonelist(this.htlb_alloc_mask(h), Math.max(0, nid))) {
      if (nodemask && !nodemask.includes(z.nid)) continue;
      if (!out.includes(z.nid)) out.push(z.nid);
    }
    return out;
  }

  // ---- allocation from and freeing to the page allocator ----

  /**
   * only_alloc_fresh_hugetlb_folio() + account_new_hugetlb_folio(): a new page
   * (not yet on any list), its vmemmap optimized if HVO is on. -1 on failure.
   */
  alloc_fresh_hugetlb_folio(h: HstateImpl, gfp: number, nid: number, nodemask: readonly number[] | undefined): number {
    const b = this.deps.buddy;
    let pfn: number;
    if (h.gigantic) {
      // alloc_gigantic_folio → alloc_contig_pages(nr_pages, gfp, nid, nodemask).
      pfn = b.alloc_contig_pages(h.nr_pages, nid, nodemask, gfp);
    } else {
      pfn = b.alloc_pages(gfp | __GFP_COMP | __GFP_NOWARN | __GFP_RETRY_MAYFAIL, h.order, nid, nodemask);
    }
    if (pfn < 0) return -1;
    this.prep_new_hugetlb_folio(h, pfn);
    return pfn;
  }

  /** init_new_hugetlb_folio + hugetlb_vmemmap_optimize_folio + account_new_hugetlb_folio. */
  private prep_new_hugetlb_folio(h: HstateImpl, pfn: number): HugePage {
    const page: HugePage = { h, head: pfn, nid: this.nid_of(pfn), free: false, bad: null, temporary: false };
    this.pages.set(pfn, page);
    this.vmemmap.optimize(pfn, h.order);
    h.nr_huge_pages++;
    h.nr_huge_pages_node[page.nid]!++;
    return page;
  }

  /** A gigantic page taken from memblock at boot joins the pool (gather_bootmem_prealloc). */
  add_bootmem_page(h: HstateImpl, pfn: number): void {
    // The memblock pages were never managed: adjust_managed_page_count() adds them to MemTotal.
    this.deps.buddy.adjust_managed_page_count(pfn, h.nr_pages);
    const page = this.prep_new_hugetlb_folio(h, pfn);
    this.enqueue_hugetlb_folio(page);
  }

  /** enqueue_hugetlb_folio(): to the head of its node's free list. */
  enqueue_hugetlb_folio(page: HugePage): void {
    const h = page.h;
    h.freelists[page.nid]!.push(page.head);
    page.free = true;
    h.free_huge_pages++;
    h.free_huge_pages_node[page.nid]!++;
  }

  /** dequeue_hugetlb_folio_node_exact(): the first free page on nid that is not poisoned. */
  private dequeue_node_exact(h: HstateImpl, nid: number): HugePage | null {
    const list = h.freelists[nid]!;
    for (let i = list.length - 1; i >= 0; i--) {
      const page = this.pages.get(list[i]!)!;
      if (page.bad) continue;
      list.splice(i, 1);
      page.free = false;
      h.free_huge_pages--;
      h.free_huge_pages_node[nid]!--;
      return page;
    }
    return null;
  }

  /** dequeue_hugetlb_folio_nodemask(): nid's zonelist order, each node once. */
  private dequeue_nodemask(h: HstateImpl, nid: number, nodemask: readonly number[] | undefined): HugePage | null {
    for (const n of this.nodeFallback(h, nid, nodemask)) {
      const page = this.dequeue_node_exact(h, n);
      if (page) return page;
    }
    return null;
  }

  /**
   * remove_hugetlb_folio(): off the lists and out of the counters; the caller
   * frees it (update_and_free_hugetlb_folio).
   */
  remove_hugetlb_folio(page: HugePage, adjust_surplus: boolean): void {
    const h = page.h;
    const nid = page.nid;
    if (page.free) {
      const list = h.freelists[nid]!;
      const i = list.lastIndexOf(page.head);
      if (i >= 0) list.splice(i, 1);
      page.free = false;
      h.free_huge_pages--;
      h.free_huge_pages_node[nid]!--;
    }
    if (adjust_surplus) {
      h.surplus_huge_pages--;
      h.surplus_huge_pages_node[nid]!--;
    }
    h.nr_huge_pages--;
    h.nr_huge_pages_node[nid]!--;
  }

  /** add_hugetlb_folio(): a removed page goes back (its vmemmap could not be restored). */
  private add_hugetlb_folio(page: HugePage, adjust_surplus: boolean): void {
    const h = page.h;
    h.nr_huge_pages++;
    h.nr_huge_pages_node[page.nid]!++;
    if (adjust_surplus) {
      h.surplus_huge_pages++;
      h.surplus_huge_pages_node[page.nid]!++;
    }
    this.enqueue_hugetlb_folio(page);
  }

  /**
   * update_and_free_hugetlb_folio(): restore the vmemmap, then give the frames to
   * the page allocator — except raw frames with a hardware error, which are taken
   * off the buddy lists (hugetlb_clear_flag_hwpoison + page_handle_poison). If the
   * vmemmap cannot be allocated the page stays in the pool as a surplus page.
   * Returns false in that case.
   */
  update_and_free_hugetlb_folio(page: HugePage, surplusOnFailure = true): boolean {
    const h = page.h;
    if (this.vmemmap.restore(page.head, h.order, page.nid) !== 0) {
      this.add_hugetlb_folio(page, surplusOnFailure);
      return false;
    }
    this.pages.delete(page.head);
    const b = this.deps.buddy;
    if (h.gigantic) b.free_contig_range(page.head, h.nr_pages);
    else b.__free_pages(page.head, h.order);
    for (const bad of page.bad ?? []) b.take_page_off_buddy(bad);
    return true;
  }

  /**
   * free_huge_folio(): the last reference is gone. Temporary and surplus pages
   * (while the node has surplus) go back to the page allocator; others to the
   * free list. The model dissolves a poisoned page here (Linux leaves it on the
   * free list, skipped by dequeue, until memory failure dissolves it).
   */
  free_huge_folio(pfn: number, restoreReserve: boolean): void {
    const page = this.pages.get(pfn);
    if (!page || page.free) throw new Error(`free_huge_folio: 0x${pfn.toString(16)} is not an in-use huge page`);
    const h = page.h;
    if (restoreReserve) h.resv_huge_pages++;
    if (page.temporary) {
      this.remove_hugetlb_folio(page, false);
      this.update_and_free_hugetlb_folio(page);
    } else if (h.surplus_huge_pages_node[page.nid]! > 0) {
      this.remove_hugetlb_folio(page, true);
      this.update_and_free_hugetlb_folio(page);
    } else if (page.bad) {
      this.remove_hugetlb_folio(page, false);
      h.max_huge_pages--;
      if (!this.update_and_free_hugetlb_folio(page, false)) h.max_huge_pages++;
    } else {
      this.enqueue_hugetlb_folio(page);
    }
  }

  /**
   * alloc_surplus_hugetlb_folio(): a fresh page beyond the persistent pool,
   * allowed while surplus < nr_overcommit_hugepages; never gigantic. In use
   * (not on a free list). Returns the page or null.
   */
  alloc_surplus_hugetlb_folio(h: HstateImpl, gfp: number, nid: number, nodemask: readonly number[] | undefined): HugePage | null {
    if (h.gigantic) return null;
    if (h.surplus_huge_pages >= h.nr_overcommit_huge_pages) return null;
    const pfn = this.alloc_fresh_hugetlb_folio(h, gfp, nid, nodemask);
    if (pfn < 0) return null;
    const page = this.pages.get(pfn)!;
    h.surplus_huge_pages++;
    h.surplus_huge_pages_node[page.nid]!++;
    return page;
  }

  /** alloc_pool_huge_folio(): a fresh persistent page, nodes interleaved, __GFP_THISNODE each. */
  alloc_pool_huge_folio(h: HstateImpl, nodes: readonly number[]): HugePage | null {
    const gfp = this.htlb_alloc_mask(h) | __GFP_THISNODE;
    for (const nid of for_each_node_mask_to(h, 'alloc', nodes)) {
      const pfn = this.alloc_fresh_hugetlb_folio(h, gfp, nid, nodes);
      if (pfn >= 0) return this.pages.get(pfn)!;
    }
    return null;
  }

  /**
   * remove_pool_hugetlb_folio(): take a free page off the next node to free
   * (only nodes with surplus when acct_surplus), or null.
   */
  remove_pool_hugetlb_folio(h: HstateImpl, nodes: readonly number[], acct_surplus: boolean): HugePage | null {
    for (const nid of for_each_node_mask_to(h, 'free', nodes)) {
      const list = h.freelists[nid]!;
      if ((!acct_surplus || h.surplus_huge_pages_node[nid]! > 0) && list.length > 0) {
        const page = this.pages.get(list[list.length - 1]!)!;
        this.remove_hugetlb_folio(page, acct_surplus);
        return page;
      }
    }
    return null;
  }

  // ---- the contract ----

  hugetlb_acct_memory(h: HstateImpl, delta: number): void {
    if (!delta) return;
    if (delta > 0) {
      if (gather_surplus_pages(this, h, delta) < 0) throw new Errno('ENOMEM', 'hugetlb_acct_memory: cannot gather surplus pages');
      // allowed_mems_nr(): free pages on the nodes cpuset and the mbind policy allow.
      const allowed = this.deps.current_policy_nodes();
      let nr = 0;
      for (let n = 0; n < this.deps.nrNodes; n++) if (!allowed || allowed.includes(n)) nr += h.free_huge_pages_node[n]!;
      if (delta > nr) {
        return_unused_surplus_pages(this, h, delta);
        throw new Errno('ENOMEM', 'hugetlb_acct_memory: not enough free pages on allowed nodes');
      }
      return;
    }
    return_unused_surplus_pages(this, h, -delta);
  }

  alloc_hugetlb_folio(h: HstateImpl, policy: HugetlbAllocPolicy, reserved: boolean): number {
    let page: HugePage | null = null;
    // dequeue_hugetlb_folio_vma(): without a reservation only unreserved free pages may go.
    if (reserved || h.available > 0) page = this.dequeue_nodemask(h, policy.nid, policy.nodemask);
    if (!page) {
      // alloc_buddy_hugetlb_folio_with_mpol(): a surplus page, preferred nodes first.
      const gfp = this.htlb_alloc_mask(h);
      page = this.alloc_surplus_hugetlb_folio(h, gfp, policy.nid, policy.nodemask);
      if (!page) return -1;
    }
    if (reserved) h.resv_huge_pages--;
    return page.head;
  }

  page_hstate(pfn: number): { h: HstateImpl; head: number; inUse: boolean } | null {
    for (const h of this.hstates) {
      const head = pfn - (pfn % h.nr_pages);
      const page = this.pages.get(head);
      if (page && page.h === h) return { h, head, inUse: !page.free };
    }
    return null;
  }

  folio_hwpoisoned(head: number): boolean {
    return this.pages.get(head)?.bad != null;
  }

  hugetlb_memory_failure(pfn: number): 'dissolved' | 'in-use' | null {
    const where = this.page_hstate(pfn);
    if (!where) return null;
    const page = this.pages.get(where.head)!;
    page.bad ??= [];
    if (!page.bad.includes(pfn)) page.bad.push(pfn);
    if (!page.free) return 'in-use';
    return this.dissolve_free_hugetlb_folio(page) === 0 ? 'dissolved' : 'in-use';
  }

  /**
   * dissolve_free_hugetlb_folio(): a free page leaves the pool for the page
   * allocator (max_huge_pages -1). -EBUSY (-16) when it would eat a reserved
   * page; -ENOMEM (-12) when its vmemmap cannot be restored (it stays).
   */
  dissolve_free_hugetlb_folio(page: HugePage): number {
    const h = page.h;
    if (!page.free) return -16;
    if (h.available <= 0) return -16;
    this.remove_hugetlb_folio(page, false);
    h.max_huge_pages--;
    if (!this.update_and_free_hugetlb_folio(page, false)) {
      h.max_huge_pages++;
      return -12;
    }
    return 0;
  }

  /**
   * demote_pool_huge_page() + demote_free_hugetlb_folio(): split one free,
   * unpoisoned page of h into free pages of `target`. False when none or when
   * its vmemmap cannot be restored.
   */
  demote_pool_huge_page(h: HstateImpl, target: HstateImpl, nodes: readonly number[]): boolean {
    for (const nid of for_each_node_mask_to(h, 'free', nodes)) {
      const list = h.freelists[nid]!;
      for (let i = list.length - 1; i >= 0; i--) {
        const page = this.pages.get(list[i]!)!;
        if (page.bad) continue;
        this.remove_hugetlb_folio(page, false);
        if (this.vmemmap.restore(page.head, h.order, page.nid) !== 0) {
          this.add_hugetlb_folio(page, false);
          return false;
        }
        this.pages.delete(page.head);
        for (let p = page.head; p < page.head + h.nr_pages; p += target.nr_pages) {
          this.enqueue_hugetlb_folio(this.prep_new_hugetlb_folio(target, p));
        }
        h.max_huge_pages--;
        target.max_huge_pages += h.nr_pages / target.nr_pages;
        return true;
      }
    }
    return false;
  }

  /** set_max_huge_pages() for one hstate (sysfs/sysctl); nid = -1 for the global count. */
  set_max_huge_pages(h: HstateImpl, count: number, nid: number, nodes: readonly number[]): void {
    set_max_huge_pages(this, h, count, nid, nodes);
  }
}

/**
 * Resizing the pools and the global reservation count (mm/hugetlb.c
 * set_max_huge_pages, adjust_pool_surplus, gather_surplus_pages,
 * return_unused_surplus_pages, update_and_free_pages_bulk).
 *
 * The model is single-threaded, so the retry loops Linux needs after dropping
 * hugetlb_lock run at most once; the order of steps and the counters are Linux's.
 */
import { for_each_node_mask_to, type HstateImpl } from './hstate.ts';
import type { HugePage, HugetlbPoolsImpl } from './pool.ts';

/**
 * adjust_pool_surplus(): move one page into (+1) or out of (-1) surplus state,
 * round-robin over the allowed nodes. Returns whether it could.
 */
function adjust_pool_surplus(h: HstateImpl, nodes: readonly number[], delta: 1 | -1): boolean {
  let found = -1;
  if (delta < 0) {
    for (const n of for_each_node_mask_to(h, 'alloc', nodes)) {
      if (h.surplus_huge_pages_node[n]! > 0) {
        found = n;
        break;
      }
    }
  } else {
    for (const n of for_each_node_mask_to(h, 'free', nodes)) {
      if (h.surplus_huge_pages_node[n]! < h.nr_huge_pages_node[n]!) {
        found = n;
        break;
      }
    }
  }
  if (found < 0) return false;
  h.surplus_huge_pages += delta;
  h.surplus_huge_pages_node[found]! += delta;
  return true;
}

/**
 * update_and_free_pages_bulk(): free removed pages; a page whose vmemmap cannot
 * be restored goes back to the pool as a surplus page.
 */
function update_and_free_pages_bulk(pool: HugetlbPoolsImpl, list: HugePage[]): void {
  for (const page of list) pool.update_and_free_hugetlb_folio(page, true);
}

/**
 * set_max_huge_pages(): make the persistent pool `count` pages (nid ≥ 0: count
 * is that node's share). Grows by first converting surplus pages, then
 * allocating fresh ones on the allowed nodes in turn until the allocator fails;
 * shrinks by freeing free pages down to what is in use or reserved, and turns
 * the rest of the excess into surplus pages.
 */
export function set_max_huge_pages(pool: HugetlbPoolsImpl, h: HstateImpl, count: number, nid: number, nodes: readonly number[]): void {
  if (nid >= 0) {
    // The node's persistent pages are replaced by count; the other nodes keep theirs.
    count += h.persistent - (h.nr_huge_pages_node[nid]! - h.surplus_huge_pages_node[nid]!);
  }
  while (h.surplus_huge_pages > 0 && count > h.persistent) {
    if (!adjust_pool_surplus(h, nodes, -1)) break;
  }
  let out = false;
  while (count > h.persistent) {
    const page = pool.alloc_pool_huge_folio(h, nodes);
    if (!page) {
      out = true;
      break;
    }
    pool.enqueue_hugetlb_folio(page);
  }
  if (!out) {
    let min_count = h.resv_huge_pages + h.nr_huge_pages - h.free_huge_pages;
    min_count = Math.max(count, min_count);
    const list: HugePage[] = [];
    while (min_count < h.persistent) {
      const page = pool.remove_pool_hugetlb_folio(h, nodes, false);
      if (!page) break;
      list.push(page);
    }
    update_and_free_pages_bulk(pool, list);
    while (count < h.persistent) {
      if (!adjust_pool_surplus(h, nodes, 1)) break;
    }
  }
  h.max_huge_pages = h.persistent;
}

/**
 * gather_surplus_pages(): grow the pool so free pages cover resv + delta,
 * allocating surplus pages (current node first, then each node) within
 * nr_overcommit_hugepages. 0, or -ENOMEM (-12) with nothing changed.
 */
export function gather_surplus_pages(pool: HugetlbPoolsImpl, h: HstateImpl, delta: number): number {
  let needed = h.resv_huge_pages + delta - h.free_huge_pages;
  if (needed <= 0) {
    h.resv_huge_pages += delta;
    return 0;
  }
  const gfp = pool.htlb_alloc_mask(h);
  const here = pool.deps.current_nid();
  const allowed = pool.deps.current_policy_nodes() ?? pool.memoryNodes();
  const list: HugePage[] = [];
  let alloc_ok = true;
  for (;;) {
    for (let i = 0; i < needed; i++) {
      let page: HugePage | null = null;
      if (allowed.includes(here)) page = pool.alloc_surplus_hugetlb_folio(h, gfp, here, undefined);
      if (!page) {
        for (const n of allowed) {
          if (n === here) continue;
          page = pool.alloc_surplus_hugetlb_folio(h, gfp, n, undefined);
          if (page) break;
        }
      }
      if (!page) {
        alloc_ok = false;
        break;
      }
      list.push(page);
    }
    needed = h.resv_huge_pages + delta - (h.free_huge_pages + list.length);
    if (needed <= 0 || !alloc_ok) break;
  }
  let ret = -12;
  let extra = list;
  if (needed <= 0) {
    needed += list.length;
    h.resv_huge_pages += delta;
    ret = 0;
    for (const page of list.slice(0, needed)) pool.enqueue_hugetlb_folio(page);
    extra = list.slice(needed);
  }
  // Unneeded surplus pages go back to the page allocator (free_huge_folio).
  for (const page of extra) pool.free_huge_folio(page.head, false);
  return ret;
}

/**
 * return_unused_surplus_pages(): drop `unused` reservations and free up to as
 * many surplus pages as are free, spread over the nodes.
 */
export function return_unused_surplus_pages(pool: HugetlbPoolsImpl, h: HstateImpl, unused: number): void {
  h.resv_huge_pages -= unused;
  let nr = Math.min(unused, h.surplus_huge_pages);
  const nodes = pool.memoryNodes();
  const list: HugePage[] = [];
  while (nr-- > 0) {
    const page = pool.remove_pool_hugetlb_folio(h, nodes, true);
    if (!page) break;
    list.push(page);
  }
  update_and_free_pages_bulk(pool, list);
}

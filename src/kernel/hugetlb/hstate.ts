/**
 * struct hstate: one huge page size's pool — counters, per-node free lists and
 * the round-robin node cursors (mm/hugetlb.c hugetlb_add_hstate, enqueue/
 * dequeue_hugetlb_folio_node_exact, hstate_next_node_to_alloc/free,
 * include/linux/hugetlb.h), plus the /proc/meminfo report
 * (hugetlb_report_meminfo, hugetlb_report_node_meminfo) and string_get_size().
 *
 * A free list is a stack of head pfns per node: Linux list_move()s a freed folio
 * to the head of its node's list and dequeues from the head, so the most
 * recently freed page is reused first. Per-page state lives in the pool's Map
 * keyed by head pfn; nothing here is per 4 KiB frame.
 */
import { PAGE_SHIFT, PAGE_SIZE } from '../../lib/size.ts';
import type { Hstate } from './api.ts';

/** HUGETLB_PAGE_ORDER on x86-64 (PMD). */
export const HUGETLB_PAGE_ORDER = 9;
/** PUD_SHIFT - PAGE_SHIFT: the 1 GiB (gigantic) order. */
export const GIGANTIC_ORDER = 18;
/** MAX_PAGE_ORDER: larger hstates are gigantic (allocated with alloc_contig_pages or memblock). */
const MAX_PAGE_ORDER = 10;

/** One pool (struct hstate). Counters are mutated only by the pool code. */
export class HstateImpl implements Hstate {
  readonly size: number;
  readonly name: string;
  nr_huge_pages = 0;
  free_huge_pages = 0;
  resv_huge_pages = 0;
  surplus_huge_pages = 0;
  nr_overcommit_huge_pages = 0;
  /** max_huge_pages: the persistent pool size last asked for (what /proc/sys/vm/nr_hugepages shows). */
  max_huge_pages = 0;
  /** Boot requests per node (hugepages=N:M). */
  readonly max_huge_pages_node: number[];
  readonly nr_huge_pages_node: number[];
  readonly free_huge_pages_node: number[];
  readonly surplus_huge_pages_node: number[];
  /** hugepage_freelists[nid]: head pfns, the list head at the end. */
  readonly freelists: number[][];
  next_nid_to_alloc = 0;
  next_nid_to_free = 0;
  /** demote_order: 0 = no demotion target. */
  demote_order = 0;

  constructor(
    readonly order: number,
    readonly index: number,
    nrNodes: number,
  ) {
    this.size = PAGE_SIZE * 2 ** order;
    this.name = `hugepages-${this.size / 1024}kB`;
    const zeros = (): number[] => new Array<number>(nrNodes).fill(0);
    this.max_huge_pages_node = zeros();
    this.nr_huge_pages_node = zeros();
    this.free_huge_pages_node = zeros();
    this.surplus_huge_pages_node = zeros();
    this.freelists = Array.from({ length: nrNodes }, () => []);
  }

  /** pages_per_huge_page(). */
  get nr_pages(): number {
    return 2 ** this.order;
  }

  /** huge_page_shift(). */
  get shift(): number {
    return this.order + PAGE_SHIFT;
  }

  /** hstate_is_gigantic(). */
  get gigantic(): boolean {
    return this.order > MAX_PAGE_ORDER;
  }

  /** persistent_huge_pages(). */
  get persistent(): number {
    return this.nr_huge_pages - this.surplus_huge_pages;
  }

  /** available_huge_pages(): free pages nobody has reserved. */
  get available(): number {
    return this.free_huge_pages - this.resv_huge_pages;
  }
}

/** next_node_allowed(): the node after nid in the mask, wrapping. */
function next_node_allowed(nid: number, mask: readonly number[]): number {
  for (const n of mask) if (n > nid) return n;
  return mask[0]!;
}

/** get_valid_node_allowed(): nid if it is in the mask, else the next allowed node. */
function get_valid_node_allowed(nid: number, mask: readonly number[]): number {
  return mask.includes(nid) ? nid : next_node_allowed(nid, mask);
}

/**
 * The nodes for_each_node_mask_to_alloc / _to_free visit, in order, advancing
 * the hstate's cursor once per node visited (hstate_next_node_to_alloc/free).
 * `mask` is sorted ascending.
 */
export function* for_each_node_mask_to(h: HstateImpl, which: 'alloc' | 'free', mask: readonly number[]): Generator<number> {
  for (let n = mask.length; n > 0; n--) {
    const cur = which === 'alloc' ? h.next_nid_to_alloc : h.next_nid_to_free;
    const nid = get_valid_node_allowed(cur, mask);
    const next = next_node_allowed(nid, mask);
    if (which === 'alloc') h.next_nid_to_alloc = next;
    else h.next_nid_to_free = next;
    yield nid;
  }
}

/**
 * string_get_size(size, 1, STRING_UNITS_2): "2.00 MiB", "1.00 GiB" — three
 * significant digits, as lib/string_helpers.c prints a power-of-two size.
 */
export function string_get_size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  let v = bytes;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${bytes} B`;
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${units[i]}`;
}

/** hugetlb_report_meminfo(): the default hstate's counts and Hugetlb (all sizes, bytes). */
export function hugetlb_meminfo(hstates: readonly HstateImpl[], def: HstateImpl): {
  total: number;
  free: number;
  rsvd: number;
  surp: number;
  pageSize: number;
  totalBytes: number;
} {
  let totalBytes = 0;
  for (const h of hstates) totalBytes += h.size * h.nr_huge_pages;
  return {
    total: def.nr_huge_pages,
    free: def.free_huge_pages,
    rsvd: def.resv_huge_pages,
    surp: def.surplus_huge_pages,
    pageSize: def.size,
    totalBytes,
  };
}

/** hugetlb_report_node_meminfo(): the default hstate's counts on one node. */
export function hugetlb_node_meminfo(def: HstateImpl, nid: number): { total: number; free: number; surp: number } {
  return { total: def.nr_huge_pages_node[nid] ?? 0, free: def.free_huge_pages_node[nid] ?? 0, surp: def.surplus_huge_pages_node[nid] ?? 0 };
}

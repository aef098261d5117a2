/**
 * The contract between the HugeTLB page pools (mm/hugetlb.c: hstates, the
 * free lists, surplus and overcommit, the global reservation count, HVO) and
 * their users — hugetlbfs, MAP_HUGETLB and memfd (fs/hugetlbfs/inode.c and the
 * fault/reservation half of mm/hugetlb.c), memory failure and /proc.
 *
 * The pool side (src/kernel/hugetlb/) implements `HugetlbPools`; the
 * filesystem side (src/kernel/fs/hugetlbfs/) only uses this interface.
 */

/** One huge page size's pool (struct hstate). Counters are read-only to users. */
export interface Hstate {
  /** huge_page_order: 9 (2 MiB) or 18 (1 GiB) on x86-64. */
  readonly order: number;
  /** huge_page_size in bytes. */
  readonly size: number;
  /** "hugepages-2048kB" (the sysfs directory name). */
  readonly name: string;
  readonly nr_huge_pages: number;
  readonly free_huge_pages: number;
  readonly resv_huge_pages: number;
  readonly surplus_huge_pages: number;
  readonly nr_overcommit_huge_pages: number;
  readonly nr_huge_pages_node: readonly number[];
  readonly free_huge_pages_node: readonly number[];
  readonly surplus_huge_pages_node: readonly number[];
}

/** Where to take a page from (what huge_node()/policy_nodemask() give alloc_hugetlb_folio). */
export interface HugetlbAllocPolicy {
  /** Preferred node. */
  nid: number;
  /** Allowed nodes (MPOL_BIND/PREFERRED_MANY); undefined = all nodes with memory. */
  nodemask?: readonly number[];
  /** MPOL_INTERLEAVE: the caller already picked `nid` by interleave; no fallback change. */
}

/** The HugeTLB pools of a host. */
export interface HugetlbPools {
  /** Every configured size, smallest first (2M, then 1G). */
  readonly hstates: readonly Hstate[];
  /** default_hstate (default_hugepagesz=, else 2M). */
  default_hstate(): Hstate;
  /** size_to_hstate: the pool for a page size in bytes, or null. */
  size_to_hstate(size: number): Hstate | null;

  /**
   * hugetlb_acct_memory(h, delta): change the global reservation count by `delta`
   * pages. Growing gathers surplus pages (gather_surplus_pages) when free pages
   * cannot cover it and throws Errno ENOMEM when that fails, leaving counters
   * untouched; shrinking returns unused surplus (return_unused_surplus_pages).
   */
  hugetlb_acct_memory(h: Hstate, delta: number): void;

  /**
   * Take a page for a fault or fallocate (the pool half of alloc_hugetlb_folio):
   * `reserved` = the caller consumes one of its reservations (resv_huge_pages -1).
   * Dequeues a free page by policy; without a reservation and with no free
   * unreserved page, allocates a surplus page if overcommit allows.
   * Returns the head pfn, or -1 (the caller turns that into VM_FAULT_OOM / ENOSPC).
   * The page's bytes are not cleared here (the caller does folio_zero_user).
   */
  alloc_hugetlb_folio(h: Hstate, policy: HugetlbAllocPolicy, reserved: boolean): number;

  /**
   * free_huge_folio: the last reference to an in-use page is gone. `restoreReserve`
   * (HPageRestoreReserve) puts the reservation back (resv_huge_pages +1). Surplus
   * pages go back to the page allocator; poisoned pages are dissolved.
   */
  free_huge_folio(pfn: number, restoreReserve: boolean): void;

  /** The hstate and head pfn of the huge page containing pfn (in use or free), or null. */
  page_hstate(pfn: number): { h: Hstate; head: number; inUse: boolean } | null;

  /**
   * Memory failure on a frame of a huge page (the pool half of
   * hugetlb memory_failure: get_huge_page_for_hwpoison / dissolve_free_hugetlb_folio):
   * a free page is dissolved and only the bad 4K frame is lost ('dissolved');
   * an in-use page is marked poisoned ('in-use': the caller unmaps it and signals).
   * Returns null when pfn is not in a huge page.
   */
  hugetlb_memory_failure(pfn: number): 'dissolved' | 'in-use' | null;

  /** Whether the huge page with this head has a poisoned frame (never map it again). */
  folio_hwpoisoned(head: number): boolean;
}

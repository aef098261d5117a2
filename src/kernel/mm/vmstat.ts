/**
 * Memory counters: the node stat items and VM events behind /proc/meminfo,
 * /proc/vmstat and /sys/devices/system/node/nodeN/meminfo
 * (include/linux/mmzone.h enum node_stat_item, include/linux/vm_event_item.h,
 * mm/vmstat.c). One typed array per node; readers sum across nodes.
 */

/** Node stat items (pages unless noted). */
export const NR_ANON_MAPPED = 0;
export const NR_FILE_PAGES = 1;
export const NR_FILE_MAPPED = 2;
export const NR_SHMEM = 3;
export const NR_ANON_THPS = 4;
export const NR_SHMEM_THPS = 5;
export const NR_FILE_THPS = 6;
export const NR_PAGETABLE = 7;
export const NR_SECONDARY_PAGETABLE = 8;
export const NR_KERNEL_MISC_RECLAIMABLE = 9;
export const NR_SLAB_UNRECLAIMABLE_B = 10;
export const NR_UNEVICTABLE = 11;
export const NR_MLOCK = 12;
export const NR_KERNEL_STACK_KB = 13;
/** Pages backing vmalloc areas (global in Linux, nr_vmalloc_pages; kept per node here). */
export const NR_VMALLOC = 14;
export const NR_NODE_STAT_ITEMS = 15;

/** /proc/vmstat names of the node stat items, in the order above. */
export const NODE_STAT_NAMES = [
  'nr_anon_pages',
  'nr_file_pages',
  'nr_mapped',
  'nr_shmem',
  'nr_anon_transparent_hugepages',
  'nr_shmem_hugepages',
  'nr_file_hugepages',
  'nr_page_table_pages',
  'nr_sec_page_table_pages',
  'nr_kernel_misc_reclaimable',
  'nr_slab_unreclaimable',
  'nr_unevictable',
  'nr_mlock',
  'nr_kernel_stack',
  'nr_vmalloc',
] as const;

/** VM events (enum vm_event_item), counted globally. */
export const PGALLOC = 0;
export const PGFREE = 1;
export const PGFAULT = 2;
export const PGMAJFAULT = 3;
export const THP_FAULT_ALLOC = 4;
export const THP_FAULT_FALLBACK = 5;
export const THP_SPLIT_PMD = 6;
export const THP_SPLIT_PUD = 7;
export const THP_ZERO_PAGE_ALLOC = 8;
export const PGREUSE = 9;
export const THP_DEFERRED_SPLIT_PAGE = 10;
export const NR_VM_EVENT_ITEMS = 11;

/** /proc/vmstat names of the events, in the order above. */
export const VM_EVENT_NAMES = [
  'pgalloc_normal',
  'pgfree',
  'pgfault',
  'pgmajfault',
  'thp_fault_alloc',
  'thp_fault_fallback',
  'thp_split_pmd',
  'thp_split_pud',
  'thp_zero_page_alloc',
  'pgreuse',
  'thp_deferred_split_page',
] as const;

/** The host's memory counters. */
export class VmStat {
  private readonly node: Float64Array[];
  private readonly events = new Float64Array(NR_VM_EVENT_ITEMS);

  constructor(readonly nrNodes: number) {
    this.node = Array.from({ length: nrNodes }, () => new Float64Array(NR_NODE_STAT_ITEMS));
  }

  /** mod_node_page_state(): add `delta` to item on node `nid`. */
  mod(nid: number, item: number, delta: number): void {
    this.node[nid]![item]! += delta;
  }

  /** node_page_state(): the item's value on one node. */
  nodeValue(nid: number, item: number): number {
    return this.node[nid]![item]!;
  }

  /** global_node_page_state(): the item summed over nodes. */
  global(item: number): number {
    let s = 0;
    for (const n of this.node) s += n[item]!;
    return s;
  }

  /** count_vm_events(). */
  count(event: number, n = 1): void {
    this.events[event]! += n;
  }

  /** The event's count. */
  event(event: number): number {
    return this.events[event]!;
  }
}

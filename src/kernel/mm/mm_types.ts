/**
 * struct mm_struct: one address space — its VMAs, its page tables and its
 * counters (include/linux/mm_types.h, kernel/fork.c mm_alloc).
 */
import type { Kmem } from './kmem.ts';
import { zap_page_range_single } from './memory.ts';
import { PageTables } from './pgtable.ts';
import { VmaTree } from './vma_tree.ts';
import type { MemPolicy, VmArea } from './vm_area.ts';

/** RSS counter indices (MM_FILEPAGES, MM_ANONPAGES, MM_SHMEMPAGES). */
export const MM_FILEPAGES = 0;
export const MM_ANONPAGES = 1;
export const MM_SHMEMPAGES = 2;

/**
 * A secondary MMU that mirrors this address space (include/linux/mmu_notifier.h,
 * reduced to the one callback KVM needs): told before entries of [start, end)
 * are removed or changed, so it can drop its own translations of them.
 */
export interface MmuNotifier {
  invalidate_range_start(start: number, end: number): void;
}

/** Page-table levels for per-level fault counts (index = level: 1 PTE, 2 PMD, 3 PUD). */
export const FAULT_LEVELS = 4;

/** One address space. */
export class MmStruct {
  readonly pgtables: PageTables;
  readonly vmas = new VmaTree();
  /** rss_stat: pages mapped, by kind. */
  readonly rss = new Float64Array(3);
  /** Faults resolved, by the level of the entry they left mapped (index 1..3). */
  readonly faultsByLevel = new Float64Array(FAULT_LEVELS);
  /** Minor and major faults (task min_flt/maj_flt, summed over the mm's tasks). */
  minflt = 0;
  majflt = 0;
  /** The task memory policy (set_mempolicy); VMA policies override it. */
  policy: MemPolicy | null = null;
  /** Set once exit_mmap has run. */
  dead = false;
  /** Registered secondary MMUs (mm->notifier_subscriptions): KVM registers one per VM. */
  readonly mmu_notifiers = new Set<MmuNotifier>();

  /** The allocation choice of the default policy (kept so the fault path allocates no object). */
  readonly localChoice: { readonly nid: number; readonly nodemask: undefined };

  constructor(
    readonly kmem: Kmem,
    /** The node the owning task runs on: default-policy allocations go here first. */
    readonly homeNid: number,
  ) {
    this.localChoice = { nid: homeNid, nodemask: undefined };
    this.pgtables = new PageTables({
      alloc_table: () => kmem.allocPgtable(this.homeNid),
      free_table: (pfn) => kmem.freePgtable(pfn),
    });
  }

  /** Used by unmap_mapping_range (mm/truncate.ts) to drop a file range's entries. */
  zap_vma_range(vma: VmArea, start: number, end: number, even_cows: boolean): void {
    zap_page_range_single(this, vma, start, end, even_cows);
  }

  /**
   * mmu_notifier_invalidate_range_start: every path that removes a leaf or changes
   * the frame or permission behind [start, end) calls this first.
   */
  mmu_notifier_invalidate_range_start(start: number, end: number): void {
    if (this.mmu_notifiers.size === 0) return;
    for (const n of [...this.mmu_notifiers]) n.invalidate_range_start(start, end);
  }

  /** Page-table pages held by this mm (VmPTE in /proc/PID/status, in pages). */
  get nrPgtables(): number {
    return this.pgtables.nr_tables();
  }
}

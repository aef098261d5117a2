/**
 * Handling a poisoned frame (mm/memory-failure.c memory_failure, me_* actions,
 * hwpoison_user_mappings, unpoison_memory; mm/hwpoison-inject.c).
 *
 * What is modelled: frames with no struct page are offered to dmem first (as
 * the DMEMFS series hooked it); a free buddy page is taken off the free lists
 * for good; an anonymous page (4K, or a THP after it is split) is unmapped from
 * every address space — each entry becomes a hwpoison entry, so the next access
 * raises SIGBUS with BUS_MCEERR_AR — and the frame is isolated, never reused.
 * Kernel, page-table and page-cache pages are reported and left alone
 * ("Ignored"), which is where Linux's handling is most involved. Hugetlb
 * (try_memory_failure_hugetlb, host_hugetlbfs.ts) and device-dax
 * (memory_failure_dev_pagemap, host_dax.ts) plug in as owner hooks.
 */
import { PAGE_SHIFT, PAGE_SIZE, alignDown } from '../../lib/size.ts';
import type { KernelLog } from '../printk.ts';
import { split_huge_pmd } from './huge_memory.ts';
import type { MmStruct } from './mm_types.ts';
import { MM_ANONPAGES } from './mm_types.ts';
import { _PAGE_ANON } from './page_prot.ts';
import { LEVEL_SIZE, PMD_LEVEL, PTE_LEVEL, _PAGE_PRESENT, _PAGE_SPECIAL, mk_entry, pte_flags, pte_pfn } from './pgtable.ts';
import type { PageAllocator } from './page_alloc.ts';
import type { VmArea } from './vm_area.ts';

/** A non-present entry standing for a SWP_HWPOISON swap entry: its pfn field holds the bad frame. */
export const _PAGE_SWP_HWPOISON = 0x400;

/** Make the hwpoison entry for a frame. */
export function make_hwpoison_entry(pfn: number): number {
  return mk_entry(pfn, _PAGE_SWP_HWPOISON);
}

/** True for an entry that is a hwpoison marker (non-present, hwpoison bit). */
export function is_hwpoison_entry(entry: number): boolean {
  const f = pte_flags(entry);
  return (f & _PAGE_PRESENT) === 0 && (f & _PAGE_SWP_HWPOISON) !== 0;
}

/** One mapping of a bad page (struct to_kill): whose, at which address, and the mapping's size (si_addr_lsb). */
export interface ToKill {
  mm: MmStruct;
  addr: number;
  lsb: number;
}

/** memory_failure's flags. */
export const MF_ACTION_REQUIRED = 0x1;

/** The address spaces memory_failure may have to search (the rmap walk). */
export interface MmOwner {
  readonly pid: number;
  readonly comm: string;
  readonly mm: MmStruct;
}

/** Who else may own a frame: dmem answers for frames in its regions. */
export type FrameOwnerHook = (pfn: number, flags: number) => boolean;

/** The host's memory-failure state: which frames are poisoned. */
export class MemoryFailure {
  /** Poisoned frames and how each was handled (num_poisoned_pages is their count). */
  private readonly poisoned = new Map<number, 'buddy' | 'mapped' | 'owner' | 'unknown'>();
  /** Frames dmem or another owner handles before the generic path runs. */
  ownerHooks: FrameOwnerHook[] = [];
  /** Owners' answer to "is this frame yours?" (dmem's is_dmem_pfn), for frames without struct pages. */
  ownerClaims: ((pfn: number) => boolean)[] = [];
  /** kill_procs (kernel/mf_kill.ts): tell the mappers that asked for early kill. */
  kill: ((tokill: ToKill[], pfn: number, force_early: boolean) => void) | null = null;

  /** Does an owner hook claim this frame (so injection may proceed without a struct page)? */
  claimed(pfn: number): boolean {
    return this.ownerClaims.some((c) => c(pfn));
  }

  constructor(
    private readonly buddy: PageAllocator,
    private readonly pfnValid: (pfn: number) => boolean,
    private readonly owners: () => Iterable<MmOwner>,
    private readonly log: KernelLog,
  ) {}

  /** num_poisoned_pages, for HardwareCorrupted in /proc/meminfo. */
  get num_poisoned_pages(): number {
    return this.poisoned.size;
  }

  /** Is this frame poisoned? */
  is_poisoned(pfn: number): boolean {
    return this.poisoned.has(pfn);
  }

  private action(pfn: number, what: string, result: 'Ignored' | 'Failed' | 'Delayed' | 'Recovered'): void {
    const line = `Memory failure: 0x${pfn.toString(16)}: recovery action for ${what}: ${result}`;
    if (result === 'Recovered') this.log.info(line);
    else this.log.err(line);
  }

  /**
   * memory_failure(pfn, flags): 0 when handled, -EHWPOISON (-133) when already
   * poisoned, -ENXIO (-6) for a frame the kernel does not manage, -EBUSY (-16)
   * when the page could not be isolated.
   */
  memory_failure(pfn: number, flags = 0): number {
    if (this.poisoned.has(pfn)) {
      this.log.err(`Memory failure: 0x${pfn.toString(16)}: already hardware poisoned`);
      return -133;
    }
    for (const hook of this.ownerHooks) {
      if (hook(pfn, flags)) {
        this.poisoned.set(pfn, 'owner');
        return 0;
      }
    }
    if (!this.pfnValid(pfn)) {
      this.log.err(`Memory failure: 0x${pfn.toString(16)}: memory outside kernel control`);
      return -6;
    }
    if (this.buddy.is_free_buddy_page(pfn) && this.buddy.take_page_off_buddy(pfn)) {
      this.poisoned.set(pfn, 'buddy');
      this.action(pfn, 'free buddy page', 'Recovered');
      return 0;
    }
    const maps = this.find_anon_mappings(pfn);
    if (maps.length === 0) {
      this.poisoned.set(pfn, 'unknown');
      this.action(pfn, 'unknown page', 'Ignored');
      return -16;
    }
    this.poisoned.set(pfn, 'mapped');
    const tokill = this.hwpoison_user_mappings(pfn, maps);
    this.kill?.(tokill, pfn, (flags & MF_ACTION_REQUIRED) !== 0);
    this.action(pfn, 'dirty LRU page', 'Recovered');
    return 0;
  }

  /** The anonymous mappings of pfn in every address space (an rmap walk by brute force). */
  private find_anon_mappings(pfn: number): { mm: MmStruct; vma: VmArea; va: number; level: number }[] {
    const out: { mm: MmStruct; vma: VmArea; va: number; level: number }[] = [];
    for (const o of this.owners()) {
      const mm = o.mm;
      if (mm.dead) continue;
      for (const vma of mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)) {
        mm.pgtables.for_each_leaf(vma.start, vma.end, (va, level, entry) => {
          const f = pte_flags(entry);
          if (!(f & _PAGE_PRESENT) || !(f & _PAGE_ANON) || f & _PAGE_SPECIAL) return;
          const first = pte_pfn(entry);
          if (pfn >= first && pfn < first + LEVEL_SIZE[level]! / PAGE_SIZE) out.push({ mm, vma, va, level });
        });
      }
    }
    return out;
  }

  /**
   * hwpoison_user_mappings: split huge mappings (try_to_split_thp_page), then
   * replace every entry of the bad 4K frame with a hwpoison entry. The frame
   * loses its mappings but is never freed: it stays isolated.
   */
  private hwpoison_user_mappings(pfn: number, maps: { mm: MmStruct; vma: VmArea; va: number; level: number }[]): ToKill[] {
    for (const m of maps) {
      if (m.level === PMD_LEVEL) split_huge_pmd(m.mm, m.vma, m.va);
    }
    // collect_procs: each mapping of the (now 4K) page, for kill_procs.
    const tokill: ToKill[] = [];
    for (const m of maps) {
      const first = m.level === PMD_LEVEL ? m.va : alignDown(m.va, PAGE_SIZE);
      const va = m.level === PTE_LEVEL ? first : first + (pfn - pte_pfn(m.mm.pgtables.walk(first))) * PAGE_SIZE;
      const e = m.mm.pgtables.walk(va);
      if (e === 0 || pte_pfn(e) !== pfn) continue;
      tokill.push({ mm: m.mm, addr: va, lsb: PAGE_SHIFT });
      // try_to_unmap_one runs under an mmu_notifier range: KVM drops its mapping of the frame.
      m.mm.mmu_notifier_invalidate_range_start(va, va + PAGE_SIZE);
      m.mm.pgtables.update_leaf(va, PTE_LEVEL, make_hwpoison_entry(pfn));
      m.mm.kmem.anon.isolatePte(pfn);
      m.mm.rss[MM_ANONPAGES]!--;
    }
    return tokill;
  }

  /**
   * unpoison_memory (debugfs unpoison-pfn): a frame taken off the buddy lists goes
   * back to them; one that was mapped still has hwpoison entries pointing at it,
   * or belongs to another owner, and stays poisoned (-EBUSY).
   */
  unpoison_memory(pfn: number): number {
    const how = this.poisoned.get(pfn);
    if (how === undefined) {
      this.log.info(`Unpoison: Page was already unpoisoned 0x${pfn.toString(16)}`);
      return 0;
    }
    if (how !== 'buddy') return -16;
    this.poisoned.delete(pfn);
    this.buddy.__free_pages(pfn, 0);
    this.log.info(`Unpoison: Software-unpoisoned free page 0x${pfn.toString(16)}`);
    return 0;
  }
}

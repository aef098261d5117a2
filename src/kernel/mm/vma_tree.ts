/**
 * VMA mechanics of one mm on top of the sorted VMA set (vma_store.ts): mm/vma.c
 * (__split_vma, split_vma, vma_merge_new_range, vma_merge_existing_range,
 * vma_expand, vma_modify), mm/mmap.c (__get_unmapped_area),
 * arch/x86/kernel/sys_x86_64.c (arch_get_unmapped_area, arch_get_unmapped_area_topdown),
 * arch/x86/mm/mmap.c (mmap_base) and mm/huge_memory.c (__thp_get_unmapped_area).
 *
 * The layout is deterministic: no ASLR (as with `setarch -R` / norandmaps), so
 * mmap_base and mmap_legacy_base are fixed values, documented below.
 */

import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE } from '../../lib/size.ts';
import { MAP_32BIT, MAP_FIXED } from '../../uapi/mman.ts';
import { TASK_SIZE_MAX } from './pgtable_types.ts';
import { type MappedFile, type MemPolicy, VM_SPECIAL, type VmArea, type VmOperations } from './vm_area.ts';
import { can_merge_remove_vma, can_vma_merge_after, can_vma_merge_before, is_mergeable_anon_vma, type VmaMergeProps, vm_area_dup, vma_props_equal } from './vma_merge.ts';
import { VmaStore, vm_start_gap } from './vma_store.ts';

export * from './vma_merge.ts';
export { STACK_GUARD_GAP, VmaStore, vm_start_gap } from './vma_store.ts';

/** sysctl vm.max_map_count default (DEFAULT_MAX_MAP_COUNT). */
export const DEFAULT_MAX_MAP_COUNT = 65530;
/** vm.mmap_min_addr default on x86 (CONFIG_DEFAULT_MMAP_MIN_ADDR). */
export const DEFAULT_MMAP_MIN_ADDR = 65536;
/**
 * mm->mmap_base without ASLR (arch/x86/mm/mmap.c mmap_base with rnd = 0): the stack
 * gap is clamped to its 128 MiB minimum, so TASK_SIZE_MAX - 128 MiB. That is where
 * `setarch -R` puts the first mmap on a real x86-64 host.
 */
export const MMAP_BASE = TASK_SIZE_MAX - 128 * 1024 * 1024;
/** mm->mmap_legacy_base without ASLR: TASK_UNMAPPED_BASE = PAGE_ALIGN(TASK_SIZE / 3). */
export const TASK_UNMAPPED_BASE = Math.ceil(TASK_SIZE_MAX / 3 / PAGE_SIZE) * PAGE_SIZE;

/** What vma_modify changes on a range (mprotect: flags; mbind: policy; prctl: name). */
export interface VmaChanges {
  flags?: number;
  policy?: MemPolicy | null;
  name?: string | null;
}

/** Construction options (the sysctls and layout of this mm). */
export interface VmaTreeOptions {
  max_map_count?: number;
  mmap_min_addr?: number;
  mmap_base?: number;
  task_size?: number;
}

/** One mm's VMAs (mm->mm_mt) with mm/vma.c's split and merge mechanics and the mmap layout. */
export class VmaTree extends VmaStore {
  /** sysctl_max_map_count: split_vma fails with ENOMEM at this many VMAs. */
  max_map_count: number;
  /** mm->mmap_base: where top-down allocation starts. */
  mmap_base: number;
  /** mm->mmap_legacy_base: where the bottom-up fallback starts. */
  mmap_legacy_base = TASK_UNMAPPED_BASE;
  /** MMF_TOPDOWN: top-down layout (the default); false gives the legacy bottom-up layout. */
  topdown = true;

  /** An empty address space. */
  constructor(opts: VmaTreeOptions = {}) {
    super(opts.mmap_min_addr ?? DEFAULT_MMAP_MIN_ADDR, opts.task_size ?? TASK_SIZE_MAX);
    this.max_map_count = opts.max_map_count ?? DEFAULT_MAX_MAP_COUNT;
    this.mmap_base = opts.mmap_base ?? MMAP_BASE;
  }

  /** split_vma: refuse at max_map_count (ENOMEM), then __split_vma. Returns the new VMA. */
  split_vma(vma: VmArea, addr: number, new_below: boolean): VmArea {
    if (this.map_count >= this.max_map_count) throw new Errno('ENOMEM', 'max_map_count');
    return this.__split_vma(vma, addr, new_below);
  }

  /**
   * __split_vma: cut `vma` at addr. ->may_split may refuse (throws Errno). The new
   * VMA is the part below addr when new_below, else the part above; `vma` keeps the
   * rest. The new VMA gets ->open, like vm_area_dup + vm_ops->open in Linux.
   */
  __split_vma(vma: VmArea, addr: number, new_below: boolean): VmArea {
    if (!(vma.start < addr && addr < vma.end) || addr % PAGE_SIZE) throw new Error(`split_vma: ${addr.toString(16)} not inside the VMA`);
    vma.vm_ops?.may_split?.(vma, addr);
    const nv = vm_area_dup(vma);
    nv.file?.get(); // get_file: each VMA holds its own reference
    if (new_below) {
      nv.end = addr;
    } else {
      nv.start = addr;
      nv.pgoff += (addr - vma.start) / PAGE_SIZE;
    }
    nv.vm_ops?.open?.(nv);
    if (new_below) this.set_range(vma, addr, vma.end, vma.pgoff + (addr - vma.start) / PAGE_SIZE);
    else this.set_range(vma, vma.start, addr, vma.pgoff);
    this.insert(nv);
    return nv;
  }

  /**
   * vma_merge_new_range: a new mapping [start, end) with these properties is about
   * to be added; extend prev and/or next over it instead when they are mergeable.
   * prev/next default to the neighbours of the (free) range. Returns the VMA that
   * now covers the range, or null when the caller must insert a new VMA.
   */
  vma_merge_new_range(prev: VmArea | null | undefined, next: VmArea | null | undefined, start: number, end: number, flags: number, file: MappedFile | null, pgoff: number, policy: MemPolicy | null, vm_ops: VmOperations | null, name?: string | null): VmArea | null;
  /** The same with prev and next looked up: (start, end, flags, file, pgoff, policy, vm_ops, name?). */
  vma_merge_new_range(start: number, end: number, flags: number, file: MappedFile | null, pgoff: number, policy: MemPolicy | null, vm_ops: VmOperations | null, name?: string | null): VmArea | null;
  vma_merge_new_range(...args: unknown[]): VmArea | null {
    if (typeof args[0] === 'number') args = [undefined, undefined, ...args];
    const [prevArg, nextArg, start, end, flags, file, pgoff, policy, vm_ops, name] = args as [
      VmArea | null | undefined, VmArea | null | undefined, number, number, number, MappedFile | null, number, MemPolicy | null, VmOperations | null, string | null | undefined,
    ];
    return this.merge_new(prevArg, nextArg, start, end, { flags, file, pgoff, policy, vm_ops, anon_vma: null, name: name ?? null });
  }

  private merge_new(prev: VmArea | null | undefined, next: VmArea | null | undefined, start: number, end: number, p: VmaMergeProps): VmArea | null {
    const flags = p.flags;
    if (this.find_vma_intersection(start, end)) throw new Error('vma_merge_new_range: range not free');
    if (prev === undefined || next === undefined) {
      const r = this.find_vma_prev(start);
      if (prev === undefined) prev = r.prev;
      if (next === undefined) next = r.vma;
    }
    if (flags & VM_SPECIAL || (!prev && !next)) return null;
    const left = !!prev && prev.end === start && can_vma_merge_after(p, prev);
    let right = !!next && next.start === end && can_vma_merge_before(p, start, end, next) && (!left || is_mergeable_anon_vma(prev!.anon_vma, next.anon_vma));
    if (left && right && !can_merge_remove_vma(next!)) right = false;
    if (left) {
      if (right) {
        if (!prev!.anon_vma) prev!.anon_vma = next!.anon_vma;
        const newEnd = next!.end;
        this.remove_merged(next!);
        this.set_range(prev!, prev!.start, newEnd, prev!.pgoff);
      } else {
        this.set_range(prev!, prev!.start, end, prev!.pgoff);
      }
      return prev!;
    }
    if (right) {
      this.set_range(next!, start, next!.end, p.pgoff);
      return next!;
    }
    return null;
  }

  /**
   * vma_modify: change [start, end) of `vma` (mprotect_fixup / mbind_range /
   * madvise_update_vma). Merge with a neighbour when the changed range touches it and
   * becomes mergeable (vma_merge_existing_range); otherwise split at start and end and
   * apply the change to the middle. Returns the VMA now covering [start, end).
   * Nothing happens when the change is a no-op, as the callers short-circuit.
   */
  vma_modify(vma: VmArea, start: number, end: number, changes: VmaChanges): VmArea {
    if (!(vma.start <= start && start < end && end <= vma.end) || start % PAGE_SIZE || end % PAGE_SIZE) {
      throw new Error('vma_modify: range not inside the VMA');
    }
    const p: VmaMergeProps = {
      flags: changes.flags ?? vma.flags,
      file: vma.file,
      pgoff: vma.pgoff + (start - vma.start) / PAGE_SIZE,
      policy: changes.policy !== undefined ? changes.policy : vma.policy,
      vm_ops: vma.vm_ops,
      anon_vma: vma.anon_vma,
      name: changes.name !== undefined ? changes.name : vma.name,
    };
    if (vma_props_equal(p, vma)) return vma;
    const merged = this.vma_merge_existing_range(vma, start, end, p);
    if (merged) return merged;
    if (vma.start < start) this.split_vma(vma, start, true);
    if (vma.end > end) this.split_vma(vma, end, false);
    vma.flags = p.flags;
    vma.policy = p.policy;
    vma.name = p.name;
    return vma;
  }

  /**
   * Apply vma_modify to every VMA overlapping [start, end), as the mprotect / mbind /
   * madvise loops do: `changes` computes each VMA's change from its current state.
   * Iterates by address, so VMAs merged away along the way are never revisited.
   * Holes are skipped (callers that must fail on holes check first). Returns how
   * many VMAs were visited.
   */
  modify_range(start: number, end: number, changes: (vma: VmArea) => VmaChanges): number {
    let addr = start;
    let n = 0;
    while (addr < end) {
      const vma = this.find_vma(addr);
      if (!vma || vma.start >= end) break;
      const s = Math.max(vma.start, addr);
      const e = Math.min(vma.end, end);
      this.vma_modify(vma, s, e, changes(vma));
      n++;
      addr = e;
    }
    return n;
  }

  /** vma_modify for flags only (vma_modify_flags). */
  vma_modify_flags(vma: VmArea, start: number, end: number, flags: number): VmArea {
    return this.vma_modify(vma, start, end, { flags });
  }

  /** vma_modify for the policy only (vma_modify_policy). */
  vma_modify_policy(vma: VmArea, start: number, end: number, policy: MemPolicy | null): VmArea {
    return this.vma_modify(vma, start, end, { policy });
  }

  /** A VMA swallowed by a merge goes without ->close (can_merge_remove_vma), dropping its file reference (vma_complete). */
  private remove_merged(vma: VmArea): void {
    this.remove(vma);
    vma.file?.fput();
  }

  private vma_merge_existing_range(vma: VmArea, start: number, end: number, p: VmaMergeProps): VmArea | null {
    const left_side = start === vma.start;
    const right_side = end === vma.end;
    if (p.flags & VM_SPECIAL || (!left_side && !right_side)) return null;
    const prev = left_side ? this.prev(vma) : null;
    const next = right_side ? this.next(vma) : null;
    const merge_left = !!prev && prev.end === start && can_vma_merge_after(p, prev);
    let merge_right = !!next && next.start === end && can_vma_merge_before(p, start, end, next) && (!merge_left || is_mergeable_anon_vma(prev!.anon_vma, next.anon_vma));
    if (!merge_left && !merge_right) return null;
    const delete_vma = left_side && right_side;
    if (delete_vma && !can_merge_remove_vma(vma)) return null;
    if (merge_left && merge_right && !can_merge_remove_vma(next!)) merge_right = false;
    if (merge_left && merge_right) {
      //         |<----->|
      // |-------*********-------|   prev extends over vma and next, both deleted
      if (!prev!.anon_vma) prev!.anon_vma = next!.anon_vma ?? vma.anon_vma;
      const newEnd = next!.end;
      this.remove_merged(vma);
      this.remove_merged(next!);
      this.set_range(prev!, prev!.start, newEnd, prev!.pgoff);
      return prev!;
    }
    if (merge_left) {
      //         |<----->| OR |<--------->|
      // |-------*************             prev extends, vma shrinks or goes
      if (!prev!.anon_vma) prev!.anon_vma = vma.anon_vma;
      if (delete_vma) this.remove_merged(vma);
      else this.set_range(vma, end, vma.end, vma.pgoff + (end - vma.start) / PAGE_SIZE);
      this.set_range(prev!, prev!.start, end, prev!.pgoff);
      return prev!;
    }
    //     |<----->| OR |<--------->|
    // *************-------|           vma shrinks or goes, next extends down
    if (!next!.anon_vma) next!.anon_vma = vma.anon_vma;
    const pglen = (next!.start - start) / PAGE_SIZE;
    if (delete_vma) this.remove_merged(vma);
    else this.set_range(vma, vma.start, start, vma.pgoff);
    this.set_range(next!, start, next!.end, next!.pgoff - pglen);
    return next!;
  }

  /**
   * get_unmapped_area for a mapping of len bytes (__get_unmapped_area). MAP_FIXED
   * returns the hint after the range checks. `align` > PAGE_SIZE asks for an address
   * congruent to pgoff * PAGE_SIZE modulo align (THP: 2 MiB, dmemfs/device-dax: the
   * page size) via the padded search of __thp_get_unmapped_area, falling back to an
   * unaligned area when the padded one does not fit. Throws ENOMEM when nothing fits.
   */
  get_unmapped_area(len: number, hint = 0, flags = 0, align = PAGE_SIZE, pgoff = 0): number {
    if (!(len > 0)) throw new Errno('EINVAL', 'get_unmapped_area: len');
    len = Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
    if (len > this.task_size) throw new Errno('ENOMEM');
    let addr = -1;
    if (flags & MAP_FIXED) addr = hint;
    else if (align > PAGE_SIZE) addr = this.get_unmapped_area_aligned(len, hint, flags, align, pgoff * PAGE_SIZE);
    if (addr < 0) addr = this.arch_get_unmapped_area(len, hint, flags);
    if (addr > this.task_size - len) throw new Errno('ENOMEM');
    if (addr % PAGE_SIZE) throw new Errno('EINVAL');
    return addr;
  }

  /** __thp_get_unmapped_area / mm_get_unmapped_area_aligned; -1 means "fall back to unaligned". */
  private get_unmapped_area_aligned(len: number, hint: number, flags: number, align: number, off: number): number {
    const off_align = Math.ceil(off / align) * align;
    if (off + len <= off_align || off + len - off_align < align) return -1;
    let ret: number;
    try {
      ret = this.arch_get_unmapped_area(len + align, hint, flags);
    } catch (e) {
      if (e instanceof Errno) return -1; // the padding may be what failed; retry unpadded
      throw e;
    }
    if (ret === hint) return hint;
    const off_sub = (((off - ret) % align) + align) % align;
    if (this.topdown && off_sub === 0) return ret + align;
    return ret + off_sub;
  }

  /** arch_get_unmapped_area(_topdown): the hint if free, else top-down below mmap_base, else bottom-up. */
  private arch_get_unmapped_area(len: number, hint: number, flags: number): number {
    if (hint) {
      hint -= hint % PAGE_SIZE;
      if (hint < this.mmap_min_addr) hint = Math.ceil(this.mmap_min_addr / PAGE_SIZE) * PAGE_SIZE; // round_hint_to_min
      if (this.task_size - len >= hint) {
        const v = this.find_vma(hint);
        if (!v || hint + len <= vm_start_gap(v)) return hint;
      }
    }
    let addr = -1;
    if (this.topdown && !(flags & MAP_32BIT)) addr = this.unmapped_area_topdown(len, PAGE_SIZE, this.mmap_base, 0, 0);
    if (addr < 0) {
      // The bottom-up search (and the top-down fallback) starts at mmap_legacy_base;
      // MAP_32BIT is confined to [1 GiB, 2 GiB) as x86's find_start_end does.
      if (flags & MAP_32BIT) addr = this.unmapped_area(len, 0x40000000, 0x80000000, 0, 0);
      else addr = this.unmapped_area(len, this.mmap_legacy_base, this.task_size, 0, 0);
    }
    if (addr < 0) throw new Errno('ENOMEM', 'get_unmapped_area');
    return addr;
  }

}

/**
 * Guest memory slots (virt/kvm/kvm_main.c: check_memory_region_flags,
 * __kvm_set_memory_region, kvm_check_memslot_overlap, kvm_alloc_dirty_bitmap,
 * id_to_memslot, __gfn_to_memslot; arch/x86/kvm/x86.c
 * kvm_arch_prepare_memory_region, kvm_alloc_memslot_metadata).
 *
 * One KvmMemslots per address space (x86 has two: normal and SMM). Slots are
 * kept sorted by base_gfn for the fault path's lookup (Linux's gfn_tree); every
 * change makes a new sorted array, as Linux swaps in a new memslot set.
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE } from '../../lib/size.ts';
import { KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY } from '../../uapi/kvm.ts';
import type { KernelAllocator } from '../mm/kalloc.ts';
import { TASK_SIZE_MAX } from '../mm/pgtable.ts';

/** SHRT_MAX: slot ids are u16 and the top ids are KVM's own. */
export const KVM_MEM_SLOTS_NUM = 32767;
/** x86 KVM_INTERNAL_MEM_SLOTS: TSS, identity map, APIC access page. */
export const KVM_INTERNAL_MEM_SLOTS = 3;
/** Slots userspace may use per address space (KVM_CAP_NR_MEMSLOTS). */
export const KVM_USER_MEM_SLOTS = KVM_MEM_SLOTS_NUM - KVM_INTERNAL_MEM_SLOTS;
/** x86 with SMM: address space 0 (normal) and 1 (SMM). */
export const KVM_MAX_NR_ADDRESS_SPACES = 2;
/** Pages per slot at most (KVM_MEM_MAX_NR_PAGES = (1UL << 31) - 1). */
export const KVM_MEM_MAX_NR_PAGES = 2 ** 31 - 1;
/** The host's physical address width (boot_cpu_data.x86_phys_bits of a Xeon); bounds guest physical addresses. */
export const KVM_HOST_MAXPHYADDR = 46;
/** kvm_mmu_max_gfn(). */
export const KVM_MMU_MAX_GFN = 2 ** (KVM_HOST_MAXPHYADDR - 12) - 1;

/** enum kvm_mr_change. */
export type KvmMrChange = 'create' | 'delete' | 'move' | 'flags_only';

/** struct kvm_memory_slot. */
export class KvmMemorySlot {
  /** The dirty bitmap, one bit per page (null without KVM_MEM_LOG_DIRTY_PAGES); its kvzalloc handle. */
  dirty_bitmap: Uint8Array | null = null;
  dirtyHandle = -1;
  /** kvzalloc handles of lpage_info for 2M and 1G (the disallow rules are computed, see lpage_disallowed). */
  lpageHandles: number[] = [];

  constructor(
    readonly as_id: number,
    readonly id: number,
    public base_gfn: number,
    readonly npages: number,
    readonly userspace_addr: number,
    public flags: number,
  ) {}

  /** __gfn_to_hva_memslot(). */
  gfn_to_hva(gfn: number): number {
    return this.userspace_addr + (gfn - this.base_gfn) * PAGE_SIZE;
  }

  /** kvm_dirty_bitmap_bytes(): whole longs. */
  get dirty_bitmap_bytes(): number {
    return Math.ceil(this.npages / 64) * 8;
  }
}

/** KVM_PAGES_PER_HPAGE(level): 1, 512, 262144. */
export function pages_per_hpage(level: number): number {
  return 512 ** (level - 1);
}

/**
 * lpage_info_slot(gfn, slot, level)->disallow_lpage as kvm_alloc_memslot_metadata
 * sets it: the first and last huge unit when base_gfn or base_gfn + npages is not
 * aligned to the level, and every unit when the gfn and hva are not congruent
 * modulo the huge page size ((base_gfn ^ ugfn) & (pages - 1)).
 */
export function lpage_disallowed(slot: KvmMemorySlot, gfn: number, level: number): boolean {
  const n = pages_per_hpage(level);
  const ugfn = slot.userspace_addr / PAGE_SIZE;
  if (slot.base_gfn % n !== ugfn % n) return true;
  const unit = Math.floor(gfn / n);
  if (unit === Math.floor(slot.base_gfn / n) && slot.base_gfn % n !== 0) return true;
  const end = slot.base_gfn + slot.npages;
  if (unit === Math.floor((end - 1) / n) && end % n !== 0) return true;
  return false;
}

/** One address space's slots (struct kvm_memslots). */
export class KvmMemslots {
  /** By id. */
  readonly byId = new Map<number, KvmMemorySlot>();
  /** Sorted by base_gfn (the gfn tree). */
  private sorted: KvmMemorySlot[] = [];
  private last: KvmMemorySlot | null = null;

  /** Recompute the sorted view after a change (install_new_memslots). */
  rebuild(): void {
    this.sorted = [...this.byId.values()].sort((a, b) => a.base_gfn - b.base_gfn);
    this.last = null;
  }

  /** __gfn_to_memslot(): the slot holding gfn, or null (MMIO). */
  gfn_to_memslot(gfn: number): KvmMemorySlot | null {
    const l = this.last;
    if (l && gfn >= l.base_gfn && gfn < l.base_gfn + l.npages) return l;
    let lo = 0;
    let hi = this.sorted.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.sorted[mid]!;
      if (gfn < s.base_gfn) hi = mid - 1;
      else if (gfn >= s.base_gfn + s.npages) lo = mid + 1;
      else return (this.last = s);
    }
    return null;
  }

  /** kvm_check_memslot_overlap(): another slot intersecting [start, end)? */
  overlaps(id: number, start: number, end: number): boolean {
    for (const s of this.sorted) {
      if (s.base_gfn >= end) break;
      if (s.id !== id && s.base_gfn + s.npages > start) return true;
    }
    return false;
  }

  /** Every slot, in gfn order. */
  all(): readonly KvmMemorySlot[] {
    return this.sorted;
  }
}

/** What __kvm_set_memory_region decided, for the caller to apply to the MMU. */
export interface MemslotChange {
  change: KvmMrChange;
  old: KvmMemorySlot | null;
  slot: KvmMemorySlot;
}

/** A u64 field as a number: negative values wrap to the top of the range. */
function u64(x: number): number {
  return x < 0 ? x + 2 ** 64 : x;
}

/**
 * check_memory_region_flags() + __kvm_set_memory_region()'s checks, in Linux's
 * order, and the new slot state. Returns null for "nothing to change". The
 * caller (kvm_set_memslot) zaps the MMU for delete and move before applying.
 */
export function __kvm_set_memory_region(
  spaces: readonly KvmMemslots[],
  mem: { slot: number; flags: number; guest_phys_addr: number; memory_size: number; userspace_addr: number },
): MemslotChange | null {
  // check_memory_region_flags(): x86 has read-only memory; no guest_memfd here.
  if (mem.flags & ~(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY)) throw new Errno('EINVAL');
  const slotWord = mem.slot >>> 0;
  const as_id = Math.floor(slotWord / 65536);
  const id = slotWord % 65536;
  const size = u64(mem.memory_size);
  const gpa = u64(mem.guest_phys_addr);
  const ua = u64(mem.userspace_addr);
  // General sanity checks.
  if (size % PAGE_SIZE !== 0) throw new Errno('EINVAL');
  if (gpa % PAGE_SIZE !== 0) throw new Errno('EINVAL');
  // "We can read the guest memory with __xxx_user() later on": aligned and access_ok().
  if (ua % PAGE_SIZE !== 0 || ua + size > TASK_SIZE_MAX) throw new Errno('EINVAL');
  if (as_id >= KVM_MAX_NR_ADDRESS_SPACES || id >= KVM_MEM_SLOTS_NUM) throw new Errno('EINVAL');
  if (gpa + size >= 2 ** 64) throw new Errno('EINVAL');
  if (size / PAGE_SIZE > KVM_MEM_MAX_NR_PAGES) throw new Errno('EINVAL');

  const slots = spaces[as_id]!;
  const old = slots.byId.get(id) ?? null;
  if (size === 0) {
    if (!old) throw new Errno('EINVAL');
    return { change: 'delete', old, slot: old };
  }
  const base_gfn = gpa / PAGE_SIZE;
  const npages = size / PAGE_SIZE;
  let change: KvmMrChange;
  if (!old) {
    change = 'create';
  } else {
    // Only the gpa (a move) or the flags other than READONLY may change.
    if (ua !== old.userspace_addr || npages !== old.npages || (mem.flags ^ old.flags) & KVM_MEM_READONLY) throw new Errno('EINVAL');
    if (base_gfn !== old.base_gfn) change = 'move';
    else if (mem.flags !== old.flags) change = 'flags_only';
    else return null;
  }
  if ((change === 'create' || change === 'move') && slots.overlaps(id, base_gfn, base_gfn + npages)) throw new Errno('EEXIST');
  // kvm_arch_prepare_memory_region(): the slot must fit the guest physical address width.
  if ((change === 'create' || change === 'move') && base_gfn + npages - 1 > KVM_MMU_MAX_GFN) throw new Errno('EINVAL');
  return { change, old, slot: new KvmMemorySlot(as_id, id, base_gfn, npages, ua, mem.flags) };
}

/** kvm_alloc_dirty_bitmap(): 2× the bitmap (Linux keeps a second buffer for GET_DIRTY_LOG); ENOMEM. */
export function kvm_alloc_dirty_bitmap(kalloc: KernelAllocator, slot: KvmMemorySlot, nid: number): void {
  const h = kalloc.kvzalloc(2 * slot.dirty_bitmap_bytes, nid);
  if (h < 0) throw new Errno('ENOMEM');
  slot.dirtyHandle = h;
  slot.dirty_bitmap = new Uint8Array(slot.dirty_bitmap_bytes);
}

/** kvm_destroy_dirty_bitmap(). */
export function kvm_destroy_dirty_bitmap(kalloc: KernelAllocator, slot: KvmMemorySlot): void {
  if (slot.dirtyHandle >= 0) kalloc.kvfree(slot.dirtyHandle);
  slot.dirtyHandle = -1;
  slot.dirty_bitmap = null;
}

/** kvm_alloc_memslot_metadata(): lpage_info for 2M and 1G (4 bytes per huge unit); ENOMEM. */
export function kvm_alloc_memslot_metadata(kalloc: KernelAllocator, slot: KvmMemorySlot, nid: number): void {
  for (const level of [2, 3]) {
    const n = pages_per_hpage(level);
    const lpages = Math.floor((slot.base_gfn + slot.npages - 1) / n) - Math.floor(slot.base_gfn / n) + 1;
    const h = kalloc.kvzalloc(lpages * 4, nid);
    if (h < 0) {
      kvm_free_memslot_metadata(kalloc, slot);
      throw new Errno('ENOMEM');
    }
    slot.lpageHandles.push(h);
  }
}

/** kvm_arch_free_memslot(). */
export function kvm_free_memslot_metadata(kalloc: KernelAllocator, slot: KvmMemorySlot): void {
  for (const h of slot.lpageHandles) kalloc.kvfree(h);
  slot.lpageHandles = [];
}

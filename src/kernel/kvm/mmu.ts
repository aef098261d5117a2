/**
 * The two-dimensional MMU: guest physical → host virtual → host physical, and
 * the second-stage (EPT) table that caches the result (arch/x86/kvm/mmu/mmu.c:
 * kvm_mmu_page_fault, fast_page_fault, kvm_mmu_faultin_pfn,
 * kvm_handle_error_pfn, kvm_send_hwpoison_signal, host_pfn_mapping_level,
 * __kvm_mmu_max_mapping_level, kvm_mmu_hugepage_adjust,
 * kvm_mmu_slot_remove_write_access, kvm_arch_mmu_enable_log_dirty_pt_masked;
 * arch/x86/kvm/mmu/tdp_mmu.c: kvm_tdp_mmu_map, tdp_mmu_zap_leafs;
 * virt/kvm/kvm_main.c: hva_to_pfn, hva_to_pfn_remapped, mark_page_dirty_in_slot,
 * kvm_mmu_notifier_invalidate_range_start).
 *
 * The EPT is a PageTables keyed by gpa. Entries use the EPT's own low bits,
 * which line up with the x86 ones PageTables knows: bit 0 read, bit 1 write,
 * bit 2 execute, bit 7 a 2M/1G leaf. Bit 11 stands for KVM's
 * EPT_SPTE_MMU_WRITABLE (bit 58 on real hardware, which does not fit a double
 * next to a pfn): the host allows writes, so a write-protected SPTE (dirty
 * logging) may be made writable again by the fast path.
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SHIFT, PAGE_SIZE, alignDown, alignUp } from '../../lib/size.ts';
import { KVM_MEM_READONLY } from '../../uapi/kvm.ts';
import { BUS_MCEERR_AR, SIGBUS, Signal } from '../../uapi/signal.ts';
import { fixup_user_fault_code, follow_page, follow_pfnmap_start, get_user_page } from '../mm/gup.ts';
import { is_hwpoison_entry } from '../mm/memory_failure.ts';
import { LEVEL_SIZE, _PAGE_PRESENT, mk_entry, pte_flags, pte_pfn } from '../mm/pgtable.ts';
import { VM_IO, VM_PFNMAP } from '../mm/vm_area.ts';
import type { MmStruct } from '../mm/mm_types.ts';
import { PF_EMULATE, PF_FAST, PF_FIXED, PF_SPURIOUS, PF_TAKEN, VM_MMU_SHADOW_ZAPPED, VM_REMOTE_TLB_FLUSH, type Kvm, type KvmVcpu } from './kvm_host.ts';
import { KVM_HOST_MAXPHYADDR, lpage_disallowed, pages_per_hpage, type KvmMemorySlot } from './memslot.ts';

/** EPT permission bits (VMX_EPT_READABLE_MASK, _WRITABLE_, _EXECUTABLE_). */
export const EPT_R = 0x1;
export const EPT_W = 0x2;
export const EPT_X = 0x4;
/** EPT_SPTE_MMU_WRITABLE, kept in bit 11 (see header). */
export const SPTE_MMU_WRITABLE = 0x800;

/** Page-fault results (enum ... RET_PF_*). */
export const RET_PF_RETRY = 1;
export const RET_PF_EMULATE = 2;
export const RET_PF_FIXED = 4;
export const RET_PF_SPURIOUS = 5;

/** The largest level KVM maps with on this host (1G pages supported). */
const MAX_HUGE_PAGE_LEVEL = 3;
/** Highest gpa + 1 the EPT can hold (the guest's MAXPHYADDR follows the host's). */
const GPA_LIMIT = 2 ** KVM_HOST_MAXPHYADDR;

/** hva_to_pfn's answer: a frame and whether it may be mapped writable, or one of KVM_PFN_ERR_*. */
type PfnResult = { pfn: number; writable: boolean } | 'fault' | 'hwpoison' | 'ro_fault';

/** The error GUP reported (it throws Errno). */
function gupErrno(e: unknown): string {
  if (e instanceof Errno) return e.code;
  throw e;
}

/**
 * hva_to_pfn_remapped(): VM_IO|VM_PFNMAP memory has no struct page, so GUP
 * refuses it; read the pfn straight out of the host page table, faulting it in
 * with fixup_user_fault first if needed. No reference is taken: the MMU
 * notifier is what keeps the EPT honest.
 */
function hva_to_pfn_remapped(mm: MmStruct, hva: number, write: boolean): PfnResult {
  // Return codes, as Linux has them: a 4K pfn map meets -ENOENT once per page.
  let t = follow_pfnmap_start(mm, hva);
  if (typeof t === 'string') {
    try {
      // Any error, -EHWPOISON included, becomes KVM_PFN_ERR_FAULT in hva_to_pfn.
      if (fixup_user_fault_code(mm, hva, write) !== null) return 'fault';
    } catch (e) {
      gupErrno(e);
      return 'fault';
    }
    t = follow_pfnmap_start(mm, hva);
    if (typeof t === 'string') return 'fault';
  }
  if (write && !t.writable) return 'ro_fault';
  return { pfn: t.pfn, writable: t.writable };
}

/**
 * hva_to_pfn(): get_user_pages for memory with struct pages (the reference Linux
 * takes is dropped again once the SPTE is installed: nothing is pinned), the
 * remapped path for VM_IO|VM_PFNMAP VMAs, KVM_PFN_ERR_HWPOISON for a poisoned page.
 */
export function hva_to_pfn(mm: MmStruct, hva: number, write: boolean): PfnResult {
  if (mm.dead) return 'fault';
  // A hwpoison entry left by memory_failure: GUP's fault on it is -EHWPOISON.
  // (Checked here because follow_page does not look at the present bit.)
  const host = mm.pgtables.walk(hva);
  if (host !== 0 && is_hwpoison_entry(host)) {
    const vma = mm.vmas.find_vma(hva);
    return vma && !(vma.flags & (VM_IO | VM_PFNMAP)) ? 'hwpoison' : 'fault';
  }
  let pfn: number | string;
  try {
    pfn = get_user_page(mm, hva, write);
  } catch (e) {
    pfn = gupErrno(e);
  }
  if (typeof pfn === 'number') {
    // hva_to_pfn_slow: a read may still be mapped writable if the host PTE already is.
    const t = follow_page(mm, hva);
    return { pfn, writable: write || (t !== null && t.writable) };
  }
  if (pfn === 'EHWPOISON') return 'hwpoison';
  const vma = mm.vmas.find_vma(hva);
  if (!vma || vma.start > hva) return 'fault';
  if (vma.flags & (VM_IO | VM_PFNMAP)) return hva_to_pfn_remapped(mm, hva, write);
  return 'fault';
}

/** host_pfn_mapping_level(): the level of the host's leaf for hva (PUD → 1G, PMD → 2M, else 4K). */
export function host_pfn_mapping_level(mm: MmStruct, hva: number): number {
  const e = mm.pgtables.walk(hva);
  if (e === 0 || !(pte_flags(e) & _PAGE_PRESENT) || is_hwpoison_entry(e)) return 1;
  return mm.pgtables.lastLevel;
}

/** __kvm_mmu_max_mapping_level(): the slot's largest allowed level at gfn, capped by the host mapping. */
export function kvm_mmu_max_mapping_level(mm: MmStruct, slot: KvmMemorySlot, gfn: number, max_level = MAX_HUGE_PAGE_LEVEL): number {
  for (; max_level > 1; max_level--) if (!lpage_disallowed(slot, gfn, max_level)) break;
  if (max_level === 1) return 1;
  return Math.min(host_pfn_mapping_level(mm, slot.gfn_to_hva(gfn)), max_level);
}

/** mark_page_dirty_in_slot(). */
function mark_page_dirty_in_slot(slot: KvmMemorySlot, gfn: number): void {
  const bm = slot.dirty_bitmap;
  if (!bm) return;
  const rel = gfn - slot.base_gfn;
  bm[rel >>> 3]! |= 1 << (rel & 7);
}

/**
 * Zap every leaf overlapping [gpaStart, gpaEnd) (tdp_mmu_zap_leafs): a huge
 * SPTE straddling an edge goes whole. With freeTables (a whole-slot or
 * whole-VM zap) emptied table pages go back too. Returns the leaves removed.
 */
export function kvm_zap_gpa_range(kvm: Kvm, gpaStart: number, gpaEnd: number, freeTables: boolean): number {
  const pt = kvm.ept;
  let s = Math.max(0, gpaStart);
  let e = Math.min(GPA_LIMIT, gpaEnd);
  if (s >= e) return 0;
  if (pt.walk(s) !== 0) s = alignDown(s, LEVEL_SIZE[pt.lastLevel]!);
  if (pt.walk(e - 1) !== 0) e = alignUp(e, LEVEL_SIZE[pt.lastLevel]!);
  let zapped = 0;
  pt.zap_range(s, e, () => zapped++, freeTables);
  if (zapped > 0) {
    kvm.stat[VM_MMU_SHADOW_ZAPPED]! += zapped;
    kvm.stat[VM_REMOTE_TLB_FLUSH]!++;
  }
  return zapped;
}

/** Zap a slot's whole gfn range. */
export function kvm_zap_slot(kvm: Kvm, slot: KvmMemorySlot, freeTables: boolean): void {
  if (slot.as_id !== 0) return;
  kvm_zap_gpa_range(kvm, slot.base_gfn * PAGE_SIZE, (slot.base_gfn + slot.npages) * PAGE_SIZE, freeTables);
}

/**
 * kvm_mmu_notifier_invalidate_range_start(): the host is about to unmap or
 * change [start, end) of the VMM's address space; drop every SPTE whose hva lies
 * in it, through each slot that maps part of the range.
 */
export function kvm_mmu_notifier_invalidate_range_start(kvm: Kvm, start: number, end: number): void {
  for (const slot of kvm.memslots[0]!.all()) {
    const hs = slot.userspace_addr;
    const he = hs + slot.npages * PAGE_SIZE;
    if (he <= start || hs >= end) continue;
    const gs = slot.base_gfn + Math.floor((Math.max(start, hs) - hs) / PAGE_SIZE);
    const ge = slot.base_gfn + Math.ceil((Math.min(end, he) - hs) / PAGE_SIZE);
    kvm_zap_gpa_range(kvm, gs * PAGE_SIZE, ge * PAGE_SIZE, false);
  }
}

/**
 * kvm_mmu_slot_remove_write_access(): dirty logging was switched on; every SPTE
 * of the slot loses write access, so the next write faults and is logged.
 */
export function kvm_mmu_slot_remove_write_access(kvm: Kvm, slot: KvmMemorySlot): void {
  if (slot.as_id !== 0) return;
  const s = slot.base_gfn * PAGE_SIZE;
  kvm.ept.change_protection(s, s + slot.npages * PAGE_SIZE, (e) => (pte_flags(e) & EPT_W ? e - EPT_W : e));
}

/**
 * KVM_GET_DIRTY_LOG without manual protect: hand over and clear the bitmap, and
 * write-protect the 4K SPTEs of every page that was dirty
 * (kvm_arch_mmu_enable_log_dirty_pt_masked), so a write after this call is seen.
 */
export function kvm_get_dirty_log_protect(kvm: Kvm, slot: KvmMemorySlot): Uint8Array {
  const bm = slot.dirty_bitmap!;
  const out = bm.slice();
  bm.fill(0);
  let flush = false;
  for (let i = 0; i < out.length; i++) {
    if (out[i] === 0) continue;
    flush = true;
    if (slot.as_id !== 0) continue;
    for (let b = 0; b < 8; b++) {
      if (!(out[i]! & (1 << b))) continue;
      const gpa = (slot.base_gfn + i * 8 + b) * PAGE_SIZE;
      const e = kvm.ept.walk(gpa);
      if (e !== 0 && pte_flags(e) & EPT_W) kvm.ept.update_leaf(alignDown(gpa, LEVEL_SIZE[kvm.ept.lastLevel]!), kvm.ept.lastLevel, e - EPT_W);
    }
  }
  if (flush) kvm.stat[VM_REMOTE_TLB_FLUSH]!++;
  return out;
}

/**
 * kvm_tdp_mmu_map(): install the SPTE for gfn at `level`. A bigger SPTE in the
 * way is zapped (the fault wants a smaller page, e.g. for dirty logging); a
 * table where a huge SPTE goes is freed with its leaves (huge page recovery).
 */
function kvm_tdp_mmu_map(kvm: Kvm, gfn: number, pfn: number, level: number, writable: boolean): void {
  const pt = kvm.ept;
  const size = LEVEL_SIZE[level]!;
  const gpa = alignDown(gfn * PAGE_SIZE, size);
  const n = pages_per_hpage(level);
  const spte = mk_entry(pfn - (gfn % n), EPT_R | EPT_X | (writable ? EPT_W | SPTE_MMU_WRITABLE : 0));
  const old = pt.walk(gpa);
  const oldLevel = pt.lastLevel;
  if (old !== 0 && oldLevel === level) {
    pt.update_leaf(gpa, level, spte);
    return;
  }
  if (old !== 0 && oldLevel > level) kvm_zap_gpa_range(kvm, gpa, gpa + size, false);
  else if (level > 1 && !pt.is_none(gpa, level)) kvm_zap_gpa_range(kvm, gpa, gpa + size, true);
  if (!pt.set_leaf(gpa, level, spte)) throw new Errno('ENOMEM');
}

/**
 * kvm_mmu_page_fault() for an EPT violation at gpa: the fast path for a
 * write-protected SPTE, then slot lookup, pfn resolution and mapping. Returns
 * RET_PF_*; RET_PF_EMULATE means the access goes to userspace as MMIO.
 * Throws EFAULT when the hva cannot be resolved, the SIGBUS for poison, ENOMEM
 * when no EPT table page can be had.
 */
export function kvm_mmu_page_fault(vcpu: KvmVcpu, gpa: number, write: boolean): number {
  vcpu.stat[PF_TAKEN]!++;
  const r = kvm_tdp_page_fault(vcpu, gpa, write);
  if (r === RET_PF_FIXED) vcpu.stat[PF_FIXED]!++;
  else if (r === RET_PF_EMULATE) vcpu.stat[PF_EMULATE]!++;
  else if (r === RET_PF_SPURIOUS) vcpu.stat[PF_SPURIOUS]!++;
  return r;
}

function kvm_tdp_page_fault(vcpu: KvmVcpu, gpa: number, write: boolean): number {
  const kvm = vcpu.kvm;
  if (gpa >= GPA_LIMIT) return RET_PF_EMULATE;
  const gfn = Math.floor(gpa / PAGE_SIZE);
  const slot = kvm.memslots[0]!.gfn_to_memslot(gfn);
  // fast_page_fault(): a present SPTE the host lets us write, write-protected for dirty logging.
  const e = kvm.ept.walk(gpa);
  if (e !== 0) {
    const f = pte_flags(e);
    if (!write || f & EPT_W) return RET_PF_SPURIOUS;
    if (f & SPTE_MMU_WRITABLE && kvm.ept.lastLevel === 1 && slot) {
      kvm.ept.update_leaf(alignDown(gpa, PAGE_SIZE), 1, e + EPT_W);
      mark_page_dirty_in_slot(slot, gfn);
      vcpu.stat[PF_FAST]!++;
      return RET_PF_FIXED;
    }
  }
  // kvm_handle_noslot_fault(): no memory here, the access is emulated as MMIO.
  if (!slot) return RET_PF_EMULATE;
  // __gfn_to_pfn_memslot(): a write to a read-only slot is KVM_PFN_ERR_RO_FAULT → emulate.
  if (write && slot.flags & KVM_MEM_READONLY) return RET_PF_EMULATE;
  const hva = slot.gfn_to_hva(gfn);
  const res = hva_to_pfn(kvm.mm, hva, write);
  // kvm_handle_error_pfn().
  if (res === 'ro_fault') return RET_PF_EMULATE;
  if (res === 'hwpoison') {
    // kvm_send_hwpoison_signal(): x86 reports PAGE_SHIFT whatever the host mapping's size.
    throw new Signal(SIGBUS, BUS_MCEERR_AR, hva, PAGE_SHIFT);
  }
  if (res === 'fault') throw new Errno('EFAULT');
  // kvm_mmu_hugepage_adjust(): dirty logging maps everything at 4K.
  const level = slot.dirty_bitmap ? 1 : kvm_mmu_max_mapping_level(kvm.mm, slot, gfn);
  const writable = res.writable && !(slot.flags & KVM_MEM_READONLY);
  kvm_tdp_mmu_map(kvm, gfn, res.pfn, level, writable);
  // make_spte(): a writable SPTE in a logged slot is dirty from the start.
  if (writable) mark_page_dirty_in_slot(slot, gfn);
  return RET_PF_FIXED;
}

/** The host frame behind gpa through the EPT, or -1 when the access would fault. */
export function ept_translate(kvm: Kvm, gpa: number, write: boolean): number {
  if (gpa >= GPA_LIMIT) return -1;
  const e = kvm.ept.walk(gpa);
  if (e === 0 || (write && !(pte_flags(e) & EPT_W))) return -1;
  return pte_pfn(e) + Math.floor((gpa % LEVEL_SIZE[kvm.ept.lastLevel]!) / PAGE_SIZE);
}

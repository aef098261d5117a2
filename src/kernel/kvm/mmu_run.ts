/**
 * A run of 4K EPT violations over consecutive guest pages inside one EPT PTE
 * table and one host PTE table: what a guest touching its memory in order takes
 * page after page (arch/x86/kvm/mmu/mmu.c kvm_mmu_page_fault → kvm_tdp_page_fault
 * → hva_to_pfn → kvm_tdp_mmu_map at PG_LEVEL_4K), done with both tables in hand
 * instead of a slot lookup and four walks from the root per page.
 *
 * Every counter, allocation and entry is the one the page-by-page path
 * (guest.ts guest_access + mmu.ts kvm_mmu_page_fault) gives, in the same order;
 * test/kvm/mmu_run.test.ts runs the same guests both ways and compares. The run
 * stops before any page that needs something else (a present SPTE, a host entry
 * that is not a plain present or none one, dirty logging, ...), which the caller
 * then takes through the general path. KVM itself has no such batch: this is the
 * model's shortcut.
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SHIFT, PAGE_SIZE } from '../../lib/size.ts';
import { KVM_MEM_READONLY } from '../../uapi/kvm.ts';
import { BUS_MCEERR_AR, SIGBUS, Signal } from '../../uapi/signal.ts';
import { fault_runs, handle_pte_none_fault, prealloc_anon_run, pte_index } from '../mm/fault_run.ts';
import { is_hwpoison_entry } from '../mm/memory_failure.ts';
import { PGFAULT } from '../mm/vmstat.ts';
import { _PAGE_PRESENT, _PAGE_RW, mk_entry, pte_flags, pte_pfn } from '../mm/pgtable.ts';
import { FAULT_FLAG_REMOTE, FAULT_FLAG_WRITE, VM_FAULT_ERROR, VM_FAULT_HWPOISON, VM_FAULT_HWPOISON_LARGE, VM_IO, VM_PFNMAP, VM_READ, VM_SHARED, VM_WRITE } from '../mm/vm_area.ts';
import { EXITS, PF_FIXED, PF_TAKEN, type KvmVcpu } from './kvm_host.ts';
import { EPT_R, EPT_W, EPT_X, SPTE_MMU_WRITABLE } from './mmu.ts';

/** Pages per PTE table. */
const PTRS = 512;

/** Host pages taken for a run before its faults. */
const prealloc = new Float64Array(PTRS);

/** A present host entry this run cannot use as it is (not present, poisoned, or read-only for a write). */
function unusable(he: number, write: boolean): boolean {
  const f = pte_flags(he);
  return !(f & _PAGE_PRESENT) || is_hwpoison_entry(he) || (write && !(f & _PAGE_RW));
}

/** Where a run that ended in a failed fault leaves the failure (to be thrown after its pages are used). */
export interface FaultRunResult {
  error: unknown;
}

/**
 * Take the EPT violations of up to n guest pages from gpa (page aligned), in
 * order, each page's first access; pfns[i] gets page i's host frame. Returns how
 * many pages were resolved. When page k's fault fails (the host fault returned an
 * error), its exits are counted, the Signal or Errno kvm_mmu_page_fault would
 * throw goes to res.error, and k is returned.
 */
export function kvm_tdp_fault_run(vcpu: KvmVcpu, gpa: number, n: number, write: boolean, pfns: Float64Array, res: FaultRunResult): number {
  if (!fault_runs.enabled) return 0;
  const kvm = vcpu.kvm;
  const gfn = Math.floor(gpa / PAGE_SIZE);
  n = Math.min(n, PTRS - (gfn % PTRS), pfns.length);
  const slot = kvm.memslots[0]!.gfn_to_memslot(gfn);
  if (!slot || slot.dirty_bitmap || (write && slot.flags & KVM_MEM_READONLY)) return 0;
  n = Math.min(n, slot.base_gfn + slot.npages - gfn);
  const mm = kvm.mm;
  if (mm.dead) return 0;
  const hva = slot.gfn_to_hva(gfn);
  const hi0 = pte_index(hva);
  n = Math.min(n, PTRS - hi0);
  const vma = mm.vmas.find_vma(hva);
  if (!vma || vma.start > hva || vma.vm_ops?.hugetlb_fault) return 0;
  n = Math.min(n, (vma.end - hva) / PAGE_SIZE);
  // check_vma_flags (GUP) and fixup_user_fault's access check: a refusal is the general path's business.
  if (!(vma.flags & (write ? VM_WRITE : VM_READ))) return 0;
  const pfnmap = (vma.flags & (VM_IO | VM_PFNMAP)) !== 0;
  // A write to a private pfn mapping would COW; leave it to the general path.
  if (pfnmap && write && !(vma.flags & VM_SHARED)) return 0;
  const eptPt = kvm.ept.pte_page(gpa);
  const hostPt = mm.pgtables.pte_page(hva);
  if (eptPt === null || hostPt === null || n <= 0) return 0;
  const ei0 = gfn % PTRS;
  const readonly = (slot.flags & KVM_MEM_READONLY) !== 0;
  const flags = FAULT_FLAG_REMOTE | (write ? FAULT_FLAG_WRITE : 0);
  const stat = vcpu.stat;
  const hostE = hostPt.entries;
  // Anonymous writes: the host pages the run's faults will allocate, taken at once, in the same order.
  let got = 0;
  let used = 0;
  if (write && vma.isAnonymous()) {
    let need = 0;
    for (let i = 0; i < n && eptPt.entries[ei0 + i] === 0; i++) {
      const he = hostE[hi0 + i]!;
      if (he === 0) need++;
      else if (unusable(he, write)) break;
    }
    got = prealloc_anon_run(mm, vma, hva, need, prealloc, 0);
  } else if (pfnmap && vma.vm_ops?.fault_run) {
    // A driver that can resolve a stretch of its 4K faults at once (dmemfs): the host
    // faults of the run's none entries first, in order, counted as handle_pte_none_fault would.
    for (let s = 0; s < n && eptPt.entries[ei0 + s] === 0; ) {
      const he = hostE[hi0 + s]!;
      if (he !== 0) {
        if (unusable(he, write)) break;
        s++;
        continue;
      }
      let e = s + 1;
      while (e < n && eptPt.entries[ei0 + e] === 0 && hostE[hi0 + e] === 0) e++;
      const k = vma.vm_ops.fault_run(vma, hostPt, hi0 + s, hva + s * PAGE_SIZE, e - s);
      mm.kmem.vmstat.count(PGFAULT, k);
      mm.minflt += k;
      mm.faultsByLevel[1]! += k;
      fault_runs.driverRunPages += k;
      if (k < e - s) break;
      s = e;
    }
  }
  for (let i = 0; i < n; i++) {
    if (eptPt.entries[ei0 + i] !== 0) return i;
    const j = hi0 + i;
    let he = hostE[j]!;
    // Present and enough for this access, or the general path decides (COW, poison, ...).
    if (he !== 0 && unusable(he, write)) return i;
    // guest_access: the EPT violation exits; kvm_mmu_page_fault counts it.
    stat[EXITS]!++;
    stat[PF_TAKEN]!++;
    if (he === 0) {
      // hva_to_pfn: get_user_pages → faultin_page, or hva_to_pfn_remapped → fixup_user_fault.
      const va = hva + i * PAGE_SIZE;
      const ret = handle_pte_none_fault(mm, vma, hostPt, j, va, flags, used < got ? prealloc[used++]! : -1);
      if (ret & VM_FAULT_ERROR) {
        // vm_fault_to_errno → hva_to_pfn → kvm_handle_error_pfn.
        fault_runs.kvmRunPages += i;
        res.error = !pfnmap && ret & (VM_FAULT_HWPOISON | VM_FAULT_HWPOISON_LARGE) ? new Signal(SIGBUS, BUS_MCEERR_AR, va, PAGE_SHIFT) : new Errno('EFAULT');
        return i;
      }
      he = hostE[j]!;
      if (he === 0 || (write && !(pte_flags(he) & _PAGE_RW))) throw new Error(`BUG: fault run at hva 0x${va.toString(16)} left no usable entry`);
    }
    // hva_to_pfn_slow: a read may still map writable if the host entry is; the remapped path uses the entry's own bit.
    const hostWritable = (pte_flags(he) & _PAGE_RW) !== 0;
    const writable = (pfnmap ? hostWritable : write || hostWritable) && !readonly;
    const pfn = pte_pfn(he);
    // kvm_mmu_max_mapping_level: the host maps this page with a PTE, so PG_LEVEL_4K.
    kvm.ept.set_pte(eptPt, ei0 + i, mk_entry(pfn, EPT_R | EPT_X | (writable ? EPT_W | SPTE_MMU_WRITABLE : 0)));
    stat[PF_FIXED]!++;
    pfns[i] = pfn;
  }
  fault_runs.kvmRunPages += n;
  return n;
}

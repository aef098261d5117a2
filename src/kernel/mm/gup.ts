/**
 * Reaching user memory from the kernel (mm/gup.c __get_user_pages,
 * populate_vma_page_range, fixup_user_fault, pin_user_pages_remote,
 * unpin_user_page; mm/memory.c follow_pfnmap_start; mm/util.c
 * __account_locked_vm). KVM and VFIO build on these: memory with struct pages
 * is pinned through get_user_pages; VM_IO|VM_PFNMAP memory is resolved with
 * fixup_user_fault and follow_pfnmap, without any reference.
 */
import { Errno, type ErrnoName } from '../../lib/errno.ts';
import { PAGE_SIZE, PMD_SIZE, PUD_SIZE, alignDown } from '../../lib/size.ts';
import { fault_runs, handle_pte_none_fault, prealloc_anon_run, pte_index } from './fault_run.ts';
import { handle_mm_fault } from './memory.ts';
import type { MmStruct } from './mm_types.ts';
import { PMD_LEVEL, PUD_LEVEL, _PAGE_RW, _PAGE_SPECIAL, pte_flags, pte_pfn } from './pgtable.ts';
import {
  FAULT_FLAG_REMOTE,
  FAULT_FLAG_WRITE,
  VM_FAULT_ERROR,
  VM_FAULT_HWPOISON,
  VM_FAULT_HWPOISON_LARGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_EXEC,
  VM_IO,
  VM_PFNMAP,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  type VmArea,
} from './vm_area.ts';

/** Size of the leaf at a level. */
export function level_size(level: number): number {
  return level === PUD_LEVEL ? PUD_SIZE : level === PMD_LEVEL ? PMD_SIZE : PAGE_SIZE;
}

/** What a page-table walk found for one address: the 4K frame and the leaf it came from. */
export interface Translation {
  pfn: number;
  level: number;
  writable: boolean;
  special: boolean;
}

/** follow_page_mask without taking a reference: the frame mapped at addr, or null. */
export function follow_page(mm: MmStruct, addr: number): Translation | null {
  const e = mm.pgtables.walk(addr);
  if (e === 0) return null;
  const level = mm.pgtables.lastLevel;
  const f = pte_flags(e);
  const sub = Math.floor((addr % level_size(level)) / PAGE_SIZE);
  return { pfn: pte_pfn(e) + sub, level, writable: (f & _PAGE_RW) !== 0, special: (f & _PAGE_SPECIAL) !== 0 };
}

/** vm_fault_t → errno as __get_user_pages reports it (vm_fault_to_errno). */
function vm_fault_to_errno(ret: number): ErrnoName {
  if (ret & VM_FAULT_OOM) return 'ENOMEM';
  if (ret & (VM_FAULT_HWPOISON | VM_FAULT_HWPOISON_LARGE)) return 'EHWPOISON';
  if (ret & VM_FAULT_SIGBUS) return 'EFAULT';
  return 'EFAULT';
}

/**
 * check_vma_flags for GUP: no IO/PFNMAP VMAs (they have no pages), and the access
 * must be allowed. As in Linux the refusal is a return code (-EFAULT), not an
 * exception: callers such as hva_to_pfn meet it for every pfn-mapped page.
 */
function check_vma_flags(vma: VmArea, write: boolean): ErrnoName | null {
  if (vma.flags & (VM_IO | VM_PFNMAP)) return 'EFAULT';
  if (write ? !(vma.flags & VM_WRITE) : !(vma.flags & VM_READ)) return 'EFAULT';
  return null;
}

/** Fault the page at addr in for the kernel (faultin_page); the errno GUP reports, or null. */
function faultin_page(mm: MmStruct, vma: VmArea, addr: number, write: boolean): ErrnoName | null {
  const ret = handle_mm_fault(mm, vma, addr, FAULT_FLAG_REMOTE | (write ? FAULT_FLAG_WRITE : 0));
  return ret & VM_FAULT_ERROR ? vm_fault_to_errno(ret) : null;
}

/**
 * get_user_pages for the one page at addr without throwing: its frame, faulted
 * in as needed, or the errno get_user_pages would report (EFAULT for no VMA,
 * VM_IO/VM_PFNMAP or a forbidden access; the fault's errno otherwise).
 */
export function get_user_page(mm: MmStruct, addr: number, write: boolean): number | ErrnoName {
  addr = alignDown(addr, PAGE_SIZE);
  const vma = mm.vmas.find_vma(addr);
  if (!vma || vma.start > addr) return 'EFAULT';
  const bad = check_vma_flags(vma, write);
  if (bad !== null) return bad;
  let t = follow_page(mm, addr);
  if (!t || (write && !t.writable) || (t.special && t.pfn === mm.kmem.zeroPfn && write)) {
    const err = faultin_page(mm, vma, addr, write);
    if (err !== null) return err;
    t = follow_page(mm, addr)!;
  }
  return t.pfn;
}

/**
 * get_user_pages: the frames behind nrPages pages from start, faulting them in
 * (and breaking copy-on-write for writes). Throws EFAULT for unmapped ranges and
 * VM_IO/VM_PFNMAP VMAs, ENOMEM when a fault runs out of memory.
 */
export function get_user_pages(mm: MmStruct, start: number, nrPages: number, write: boolean): number[] {
  const pfns: number[] = [];
  for (let i = 0; i < nrPages; i++) {
    const r = get_user_page(mm, alignDown(start, PAGE_SIZE) + i * PAGE_SIZE, write);
    if (typeof r !== 'number') throw new Errno(r);
    pfns.push(r);
  }
  return pfns;
}

/**
 * fixup_user_fault as Linux has it: resolve a fault at addr on behalf of the
 * kernel (used for VM_PFNMAP memory, which GUP refuses). Returns null, EFAULT if
 * there is no VMA or the access is not allowed, or the fault's errno.
 */
export function fixup_user_fault_code(mm: MmStruct, addr: number, write: boolean): ErrnoName | null {
  const vma = mm.vmas.find_vma(addr);
  if (!vma || vma.start > addr) return 'EFAULT';
  if (write ? !(vma.flags & VM_WRITE) : !(vma.flags & VM_READ)) return 'EFAULT';
  return faultin_page(mm, vma, addr, write);
}

/** fixup_user_fault_code, throwing its errno. */
export function fixup_user_fault(mm: MmStruct, addr: number, write: boolean): void {
  const err = fixup_user_fault_code(mm, addr, write);
  if (err !== null) throw new Errno(err);
}

/**
 * follow_pfnmap_start: the pfn mapped at addr in a VM_IO|VM_PFNMAP VMA, with
 * the leaf's size and writability; or, as Linux's return code, EINVAL when the
 * VMA is not a pfn mapping and ENOENT when nothing is mapped there yet.
 */
export function follow_pfnmap_start(mm: MmStruct, addr: number): Translation | ErrnoName {
  const vma = mm.vmas.find_vma(addr);
  if (!vma || vma.start > addr || !(vma.flags & (VM_IO | VM_PFNMAP))) return 'EINVAL';
  return follow_page(mm, addr) ?? 'ENOENT';
}

/** follow_pfnmap_start, throwing its errno. */
export function follow_pfnmap(mm: MmStruct, addr: number): Translation {
  const t = follow_pfnmap_start(mm, addr);
  if (typeof t === 'string') throw new Errno(t);
  return t;
}

/** Pages populate_range took for one PTE table's faults. */
const preallocPfns = new Float64Array(512);

/**
 * populate_vma_page_range for [start, end): fault everything in. `write` true/false
 * is MADV_POPULATE_WRITE/READ; 'mmap' is MAP_POPULATE, which writes (breaking
 * COW up front) only in private writable VMAs.
 */
export function populate_range(mm: MmStruct, start: number, end: number, write: boolean | 'mmap'): void {
  let addr = start;
  while (addr < end) {
    const vma = mm.vmas.find_vma(addr);
    if (!vma || vma.start >= end) return;
    if (addr < vma.start) addr = vma.start;
    const stop = Math.min(end, vma.end);
    const stop0 = Math.min(end, vma.end);
    if (vma.flags & (VM_IO | VM_PFNMAP)) {
      // __mm_populate skips VM_IO|VM_PFNMAP VMAs (their driver decides what is
      // mapped); MADV_POPULATE_* on one fails: check_vma_flags gives EFAULT → EINVAL.
      if (write !== 'mmap') throw new Errno('EINVAL');
      addr = stop0;
      continue;
    }
    if (write === 'mmap') {
      // __mm_populate: GUP refuses PROT_NONE (check_vma_flags → EFAULT); mm_populate
      // ignores the error and goes on with the next VMA. (The model used to fault
      // zero pages into PROT_NONE mappings, which then became readable.)
      if (!(vma.flags & (VM_READ | VM_WRITE | VM_EXEC))) {
        addr = stop0;
        continue;
      }
    } else if (!(vma.flags & (write ? VM_WRITE : VM_READ))) {
      // faultin_page_range: check_vma_flags fails → madvise_populate returns EINVAL.
      throw new Errno('EINVAL');
    }
    const w = write === 'mmap' ? (vma.flags & (VM_WRITE | VM_SHARED)) === VM_WRITE : write && (vma.flags & VM_WRITE) !== 0;
    while (addr < stop) {
      // Inside an existing PTE table: the same faults with the table in hand (fault_run.ts).
      const pt = !fault_runs.enabled || vma.vm_ops?.hugetlb_fault ? null : mm.pgtables.pte_page(addr);
      if (pt !== null) {
        const tableEnd = Math.min(stop, alignDown(addr, PMD_SIZE) + PMD_SIZE);
        // Write faults on none entries before the first page needing more: their pages at once (alloc_pages_bulk).
        let need = 0;
        for (let a = addr; w && a < tableEnd; a += PAGE_SIZE) {
          const e = pt.entries[pte_index(a)]!;
          if (e === 0) need++;
          else if (!(pte_flags(e) & _PAGE_RW)) break;
        }
        const got = need > 0 ? prealloc_anon_run(mm, vma, addr, need, preallocPfns, 0) : 0;
        let used = 0;
        for (; addr < tableEnd; addr += PAGE_SIZE) {
          const i = pte_index(addr);
          const e = pt.entries[i]!;
          let ret: number;
          if (e === 0) ret = handle_pte_none_fault(mm, vma, pt, i, addr, w ? FAULT_FLAG_WRITE : 0, used < got ? preallocPfns[used++]! : -1);
          else if (w && !(pte_flags(e) & _PAGE_RW)) ret = handle_mm_fault(mm, vma, addr, FAULT_FLAG_WRITE);
          else continue;
          if (ret & VM_FAULT_ERROR) throw new Errno(vm_fault_to_errno(ret));
        }
        continue;
      }
      const t = follow_page(mm, addr);
      if (!t || (w && !t.writable)) {
        const ret = handle_mm_fault(mm, vma, addr, w ? FAULT_FLAG_WRITE : 0);
        if (ret & VM_FAULT_ERROR) throw new Errno(vm_fault_to_errno(ret));
      }
      const level = follow_page(mm, addr)?.level ?? 1;
      addr = alignDown(addr, level_size(level)) + level_size(level);
    }
    addr = stop;
  }
}

/**
 * pin_user_pages_remote(mm, start, nrPages, FOLL_LONGTERM | (write ? FOLL_WRITE : 0)):
 * fault in and long-term pin up to nrPages pages from start, returning their
 * frames. As __get_user_pages does, it stops at the first page it cannot pin and
 * returns what it pinned; only a failure on the first page throws (EFAULT for
 * no VMA, VM_IO/VM_PFNMAP or a forbidden access; ENOMEM, EHWPOISON from the fault).
 * The 4K zero page is returned but not pinned (try_grab_folio skips it since
 * Linux 6.5; unpin_user_page skips it too).
 *
 * FOLL_LONGTERM refuses nothing more here: Linux refuses fs-dax VMAs and writable
 * shared mappings of filesystems that track dirty pages (neither exists in the
 * model; tmpfs and anonymous memory are allowed), and migrates pages out of
 * ZONE_MOVABLE/CMA before pinning (check_and_migrate_movable_pages) — the model
 * has no movable zone or CMA, so every page is pinned where it is.
 */
export function pin_user_pages(mm: MmStruct, start: number, nrPages: number, write: boolean): number[] {
  const pfns: number[] = [];
  const err = pin_user_pages_code(mm, start, nrPages, write, pfns);
  if (err !== null) throw new Errno(err);
  return pfns;
}

/**
 * pin_user_pages with Linux's return convention: the pinned frames are appended
 * to pfns; the errno of a failure on the first page is returned (nothing pinned)
 * instead of thrown, so VFIO's fallback to follow_pfnmap for VM_PFNMAP memory
 * costs no exception per page.
 */
export function pin_user_pages_code(mm: MmStruct, start: number, nrPages: number, write: boolean, pfns: number[]): ErrnoName | null {
  const k = mm.kmem;
  const base = alignDown(start, PAGE_SIZE);
  for (let i = 0; i < nrPages; i++) {
    let pfn: number | ErrnoName;
    try {
      pfn = get_user_page(mm, base + i * PAGE_SIZE, write);
    } catch (e) {
      if (i > 0 && e instanceof Errno) break;
      throw e;
    }
    if (typeof pfn !== 'number') {
      if (i > 0) break;
      return pfn;
    }
    if (pfn !== k.zeroPfn && !k.pin(pfn)) {
      // try_grab_folio: the pin count would overflow → -ENOMEM.
      if (i > 0) break;
      return 'ENOMEM';
    }
    pfns.push(pfn);
  }
  return null;
}

/** unpin_user_page: drop a long-term pin; a frame whose last mapping already went is freed now. */
export function unpin_user_page(kmem: MmStruct['kmem'], pfn: number): void {
  if (pfn === kmem.zeroPfn) return;
  kmem.unpin(pfn);
}

/** unpin_user_pages: unpin_user_page for each frame. */
export function unpin_user_pages(kmem: MmStruct['kmem'], pfns: readonly number[]): void {
  for (const pfn of pfns) unpin_user_page(kmem, pfn);
}

/** MLOCK_LIMIT: the default RLIMIT_MEMLOCK, 8 MiB since Linux 5.16. */
export const MLOCK_LIMIT = 8 * 1024 * 1024;

/**
 * The locked-memory state of an mm: mm->locked_vm (pages, VmLck in
 * /proc/PID/status), and the owning task's RLIMIT_MEMLOCK and CAP_IPC_LOCK.
 * The model's tasks are single-threaded and run as root, so the limit lives
 * with the mm and CAP_IPC_LOCK defaults to true (root may exceed the limit).
 */
export interface MmLockState {
  locked_vm: number;
  /** RLIMIT_MEMLOCK in bytes (Infinity for RLIM_INFINITY). */
  rlimit_memlock: number;
  /** capable(CAP_IPC_LOCK). */
  cap_ipc_lock: boolean;
}

// Kept beside the mm rather than in it so mm_types.ts stays untouched; dies with the mm.
const lockStates = new WeakMap<MmStruct, MmLockState>();

/** The mm's locked-memory state (created with the defaults on first use). */
export function mm_lock_state(mm: MmStruct): MmLockState {
  let st = lockStates.get(mm);
  if (!st) lockStates.set(mm, (st = { locked_vm: 0, rlimit_memlock: MLOCK_LIMIT, cap_ipc_lock: true }));
  return st;
}

/**
 * __account_locked_vm (mm/util.c): charge (inc) or uncharge pages to
 * mm->locked_vm. Charging past RLIMIT_MEMLOCK throws ENOMEM unless bypass_rlim
 * (the caller's CAP_IPC_LOCK); nothing changes then.
 */
export function __account_locked_vm(mm: MmStruct, pages: number, inc: boolean, bypass_rlim: boolean): void {
  const st = mm_lock_state(mm);
  if (inc) {
    if (!bypass_rlim && st.locked_vm + pages > Math.floor(st.rlimit_memlock / PAGE_SIZE)) throw new Errno('ENOMEM');
    st.locked_vm += pages;
  } else {
    if (pages > st.locked_vm) throw new Error(`__account_locked_vm: uncharging ${pages} of ${st.locked_vm} pages (WARN_ON_ONCE)`);
    st.locked_vm -= pages;
  }
}

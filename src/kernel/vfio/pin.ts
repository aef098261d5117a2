/**
 * How VFIO type1 gets the frames behind a user range (drivers/vfio/vfio_iommu_type1.c:
 * is_invalid_reserved_pfn, put_pfn, follow_fault_pfn, vaddr_get_pfns,
 * vfio_pin_pages_remote, vfio_unpin_pages_remote, vfio_lock_acct, vfio_batch),
 * plus the dmem hook of the dmemfs v2 series ("vfio: support dmem pages"):
 * memory without struct pages that belongs to the dmem pool is held by the
 * pool's per-dpage reference count instead of a pin.
 *
 * Memory with struct pages is long-term pinned (pin_user_pages_remote with
 * FOLL_LONGTERM) and charged to the owner's locked_vm. VM_PFNMAP memory is
 * faulted in and followed (fixup_user_fault + follow_pfnmap) and accepted only
 * when the pfn has no struct page or is reserved: not pinned, not charged.
 */
import { Errno, type ErrnoName } from '../../lib/errno.ts';
import { PAGE_SIZE } from '../../lib/size.ts';
import type { DmemPool } from '../dmem/api.ts';
import { __account_locked_vm, fixup_user_fault_code, follow_pfnmap_start, level_size, mm_lock_state, pin_user_pages_code, unpin_user_page } from '../mm/gup.ts';
import type { Kmem } from '../mm/kmem.ts';
import type { MmStruct } from '../mm/mm_types.ts';
import { VM_PFNMAP } from '../mm/vm_area.ts';
import { IOMMU_WRITE } from './iommu.ts';

/** What type1 needs of the rest of the kernel. */
export interface VfioDeps {
  kmem: Kmem;
  /** The dmem pool (per-dpage references for DMA-mapped dmem). */
  dmem: DmemPool;
  /** pfn_valid: has this frame a struct page? */
  pfn_valid(pfn: number): boolean;
  /** current->mm of the task making the ioctl. */
  current_mm(): MmStruct | null;
  /** pr_warn. */
  warn(msg: string): void;
}

/** struct vfio_dma: one user mapping, [iova, iova + size) → [vaddr, vaddr + size). */
export interface VfioDma {
  iova: number;
  vaddr: number;
  size: number;
  prot: number;
  iommu_mapped: boolean;
  /** capable(CAP_IPC_LOCK) of the mapping task. */
  lock_cap: boolean;
  /** The mm pages were pinned from and locked_vm is charged to. */
  mm: MmStruct;
  /** Pages charged to mm->locked_vm for this mapping. */
  locked_vm: number;
  /** Invalidated by VFIO_DMA_UNMAP_FLAG_VADDR, waiting for VFIO_DMA_MAP_FLAG_VADDR. */
  vaddr_invalid: boolean;
  /** dmem references held: [phys of first dpage, number of dpages] pairs. */
  dmemRefs: number[];
}

/** struct vfio_batch: pages pinned ahead (capacity PAGE_SIZE / sizeof(struct page *) = 512). */
export interface VfioBatch {
  pages: number[];
  offset: number;
  size: number;
}

/** VFIO_BATCH_MAX_CAPACITY. */
export const VFIO_BATCH_MAX_CAPACITY = PAGE_SIZE / 8;

/** A fresh, empty batch (vfio_batch_init). */
export function vfio_batch_init(): VfioBatch {
  return { pages: [], offset: 0, size: 0 };
}

/**
 * is_invalid_reserved_pfn: no struct page (dmem, MMIO), or PageReserved. The
 * only reserved frame user space can map in the model is the zero page.
 */
export function is_invalid_reserved_pfn(deps: VfioDeps, pfn: number): boolean {
  return !deps.pfn_valid(pfn) || pfn === deps.kmem.zeroPfn;
}

/** put_pfn: unpin a frame with a struct page; 1 if it counted against locked_vm. */
export function put_pfn(deps: VfioDeps, pfn: number): number {
  if (is_invalid_reserved_pfn(deps, pfn)) return 0;
  unpin_user_page(deps.kmem, pfn);
  return 1;
}

/** vfio_batch_unpin: give back pages pinned ahead and not used. */
export function vfio_batch_unpin(deps: VfioDeps, batch: VfioBatch): void {
  while (batch.size) {
    put_pfn(deps, batch.pages[batch.offset]!);
    batch.offset++;
    batch.size--;
  }
}

/**
 * vfio_lock_acct: charge (npage > 0) or uncharge the mapping's mm. Throws
 * ENOMEM past RLIMIT_MEMLOCK without CAP_IPC_LOCK. `async` (unmap paths) is a
 * no-op once the mm is gone (mmget_not_zero fails: -ESRCH, ignored by callers).
 */
export function vfio_lock_acct(dma: VfioDma, npage: number, async: boolean): void {
  if (!npage) return;
  if (async && dma.mm.dead) return;
  __account_locked_vm(dma.mm, Math.abs(npage), npage > 0, dma.lock_cap);
  dma.locked_vm += npage;
}

/**
 * follow_fault_pfn: the pfn at vaddr of a VM_PFNMAP VMA, faulting it in
 * first if nothing is mapped; with the size of the host leaf holding it.
 * EFAULT for a write mapping of a read-only pfn.
 */
function follow_fault_pfn(mm: MmStruct, vaddr: number, write_fault: boolean): { pfn: number; leafPages: number } {
  // Return codes as in Linux: a 4K pfn map meets -ENOENT for every page not yet faulted.
  let t = follow_pfnmap_start(mm, vaddr);
  if (typeof t === 'string') {
    const err = fixup_user_fault_code(mm, vaddr, write_fault);
    if (err !== null) throw new Errno(err);
    t = follow_pfnmap_start(mm, vaddr);
    if (typeof t === 'string') throw new Errno(t);
  }
  if (write_fault && !t.writable) throw new Errno('EFAULT');
  return { pfn: t.pfn, leafPages: level_size(t.level) / PAGE_SIZE };
}

/**
 * vaddr_get_pfns: pin up to npages from vaddr into the batch; if that fails
 * and the VMA is VM_PFNMAP, follow the pfn instead and return how many
 * contiguous pfns the host leaf holds (batch left empty). Throws the error.
 */
function vaddr_get_pfns(deps: VfioDeps, mm: MmStruct, vaddr: number, npages: number, prot: number, batch: VfioBatch): { ret: number; pfn: number } {
  const n = Math.min(npages, VFIO_BATCH_MAX_CAPACITY);
  // pin_user_pages' error as a code: VM_PFNMAP memory gets -EFAULT for every run.
  const pages: number[] = [];
  let err: Errno | ErrnoName | null;
  try {
    err = pin_user_pages_code(mm, vaddr, n, (prot & IOMMU_WRITE) !== 0, pages);
  } catch (e) {
    if (!(e instanceof Errno)) throw e;
    err = e;
  }
  if (err === null) {
    batch.pages = pages;
    batch.offset = 0;
    batch.size = pages.length;
    return { ret: pages.length, pfn: pages[0]! };
  }
  // vma_lookup(mm, vaddr)
  const vma = mm.vmas.find_vma(vaddr);
  if (vma && vma.start <= vaddr && vma.flags & VM_PFNMAP) {
    const { pfn, leafPages } = follow_fault_pfn(mm, vaddr, (prot & IOMMU_WRITE) !== 0);
    if (!is_invalid_reserved_pfn(deps, pfn)) throw new Errno('EFAULT');
    const epfn = pfn - (pfn % leafPages) + leafPages;
    return { ret: Math.min(npages, epfn - pfn), pfn };
  }
  throw typeof err === 'string' ? new Errno(err) : err;
}

/**
 * vfio_pin_pages_remote: pin (or follow) the physically contiguous run of up
 * to npage pages from vaddr, all with struct pages or all without, charging
 * the pinned ones to locked_vm. Returns the run's first pfn and length; pages
 * pinned ahead past a discontinuity stay in the batch for the next call.
 * On error everything of this run is unpinned and the error thrown (ENOMEM
 * with a "RLIMIT_MEMLOCK exceeded" warning past the limit).
 */
export function vfio_pin_pages_remote(
  deps: VfioDeps,
  dma: VfioDma,
  vaddr: number,
  npage: number,
  limit: number,
  batch: VfioBatch,
): { pfn_base: number; pinned: number } {
  const mm = deps.current_mm();
  // This code path is only user initiated.
  if (!mm) throw new Errno('ENODEV');
  let pfn_base = -1;
  let pfn = -1;
  let rsvd = false;
  let pinned = 0;
  let lock_acct = 0;
  if (batch.size) {
    // Leftover pages in batch from an earlier call.
    pfn_base = pfn = batch.pages[batch.offset]!;
    rsvd = is_invalid_reserved_pfn(deps, pfn_base);
  }
  try {
    out: while (npage) {
      if (!batch.size) {
        // Empty batch, so refill it.
        const r = vaddr_get_pfns(deps, mm, vaddr, npage, dma.prot, batch);
        pfn = r.pfn;
        if (pfn_base < 0) {
          pfn_base = pfn;
          rsvd = is_invalid_reserved_pfn(deps, pfn_base);
        }
        // Handle pfnmap.
        if (!batch.size) {
          if (pfn !== pfn_base + pinned || !rsvd) break out;
          pinned += r.ret;
          npage -= r.ret;
          vaddr += PAGE_SIZE * r.ret;
          continue;
        }
      }
      for (;;) {
        if (pfn !== pfn_base + pinned || rsvd !== is_invalid_reserved_pfn(deps, pfn)) break out;
        // Reserved pages aren't counted against the user (no externally pinned pages here).
        if (!rsvd) {
          if (!dma.lock_cap && mm_lock_state(mm).locked_vm + lock_acct + 1 > limit) {
            deps.warn(`vfio_pin_pages_remote: RLIMIT_MEMLOCK (${limit * PAGE_SIZE}) exceeded`);
            throw new Errno('ENOMEM');
          }
          lock_acct++;
        }
        pinned++;
        npage--;
        vaddr += PAGE_SIZE;
        batch.offset++;
        batch.size--;
        if (!batch.size) break;
        pfn = batch.pages[batch.offset]!;
      }
    }
    vfio_lock_acct(dma, lock_acct, false);
  } catch (e) {
    if (pinned && !rsvd) for (let p = pfn_base; pinned; p++, pinned--) put_pfn(deps, p);
    vfio_batch_unpin(deps, batch);
    throw e;
  }
  return { pfn_base, pinned };
}

/** vfio_unpin_pages_remote: unpin npage frames from pfn; returns how many counted against locked_vm. */
export function vfio_unpin_pages_remote(deps: VfioDeps, dma: VfioDma, pfn: number, npage: number, do_accounting: boolean): number {
  let unlocked = 0;
  // A leaf is all page-backed or all pageless (runs are uniform), so test once.
  if (!is_invalid_reserved_pfn(deps, pfn)) for (let i = 0; i < npage; i++) unlocked += put_pfn(deps, pfn + i);
  if (do_accounting) vfio_lock_acct(dma, -unlocked, true);
  return unlocked;
}

/**
 * The dmem v2 hook: take one reference on every dpage the pageless run
 * [pfn, pfn + npage) touches, so truncate or hole punch of the dmemfs file
 * cannot free them while the device may DMA to them. One reference per dpage
 * per run (the series took one per 4K pfn); the effect is the same and
 * dma.dmemRefs records what to drop.
 */
export function dmem_get_run(deps: VfioDeps, dma: VfioDma, pfn: number, npage: number): void {
  const pool = deps.dmem;
  if (!pool.dpage_shift || !pool.is_dmem_pfn(pfn)) return;
  const ds = 2 ** pool.dpage_shift;
  const first = Math.floor((pfn * PAGE_SIZE) / ds) * ds;
  const end = (pfn + npage) * PAGE_SIZE;
  let nr = 0;
  for (let phys = first; phys < end; phys += ds, nr++) pool.dmem_get_page(phys);
  dma.dmemRefs.push(first, nr);
}

/** Drop dmem references recorded from index `from` of dma.dmemRefs on (put_dmem_pfn). */
export function dmem_put_runs(deps: VfioDeps, dma: VfioDma, from = 0): void {
  const refs = dma.dmemRefs;
  const ds = 2 ** deps.dmem.dpage_shift;
  for (let i = from; i < refs.length; i += 2) {
    for (let k = 0; k < refs[i + 1]!; k++) deps.dmem.dmem_put_page(refs[i]! + k * ds);
  }
  refs.length = from;
}

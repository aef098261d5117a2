/**
 * The VFIO type1 IOMMU backend (drivers/vfio/vfio_iommu_type1.c:
 * vfio_iommu_type1_open/release, vfio_iommu_type1_ioctl,
 * vfio_iommu_type1_check_extension, vfio_iommu_type1_map_dma, vfio_dma_do_map,
 * vfio_pin_map_dma, vfio_iommu_type1_unmap_dma, vfio_dma_do_unmap,
 * vfio_remove_dma, vfio_unmap_unpin, vfio_find_dma, vfio_iommu_iova_dma_valid).
 *
 * A container's mappings are kept sorted by IOVA (the rb-tree dma_list).
 * Checks run in vfio_dma_do_map's and vfio_dma_do_unmap's order with their
 * errnos. Pinning is in pin.ts, the IOMMU page tables in iommu.ts.
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE } from '../../lib/size.ts';
import {
  VFIO_CHECK_EXTENSION, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_VADDR, VFIO_DMA_MAP_FLAG_WRITE, VFIO_DMA_MAP_MINSZ,
  VFIO_DMA_UNMAP_FLAG_ALL, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, VFIO_DMA_UNMAP_FLAG_VADDR, VFIO_DMA_UNMAP_MINSZ,
  VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL, VFIO_UPDATE_VADDR,
  type VfioIommuType1DmaMap, type VfioIommuType1DmaUnmap,
} from '../../uapi/vfio.ts';
import { mm_lock_state } from '../mm/gup.ts';
import { IOMMU_IOVA_RANGES, IOMMU_PGSIZE_BITMAP, IOMMU_READ, IOMMU_WRITE, IommuDomain } from './iommu.ts';
import {
  dmem_get_run, dmem_put_runs, vfio_batch_init, vfio_batch_unpin, vfio_lock_acct, vfio_pin_pages_remote, vfio_unpin_pages_remote,
  type VfioDeps, type VfioDma,
} from './pin.ts';

/** dma_entry_limit module parameter default: U16_MAX mappings per container. */
export const DMA_ENTRY_LIMIT = 65535;
/** 2^64: u64 fields of the uapi structs must stay below it. */
const U64_LIMIT = 2 ** 64;

/** Counters of one container, for reports and tests. */
export interface VfioIommuStats {
  /** struct vfio_dma entries. */
  nr_dmas: number;
  /** Bytes of IOVA space mapped. */
  mapped_bytes: number;
  /** IOMMU leaves by size. */
  leaves_4k: number;
  leaves_2m: number;
  leaves_1g: number;
  /** IOMMU table pages (counted in SecPageTables). */
  iommu_tables: number;
  /** Pages charged to locked_vm by this container. */
  locked_pages: number;
  /** dmem per-dpage references held. */
  dmem_refs: number;
}

/** copy_from_user of a struct argument: a missing or non-object arg is a bad pointer. */
function copy_arg<T extends object>(arg: unknown): T {
  if (typeof arg !== 'object' || arg === null) throw new Errno('EFAULT');
  return arg as T;
}

/** A u64 field: an exact non-negative integer below 2^64 (else the struct could not hold it). */
function u64(v: number): number {
  if (!Number.isInteger(v) || v < 0 || v >= U64_LIMIT) throw new Errno('EINVAL');
  return v;
}

/** struct vfio_iommu: one container's type1 state. */
export class VfioIommu {
  /** Mappings sorted by iova (dma_list). */
  private readonly dmas: VfioDma[] = [];
  dma_avail = DMA_ENTRY_LIMIT;
  vaddr_invalid_count = 0;
  /** Dirty page tracking (VFIO_IOMMU_DIRTY_PAGES) is not modelled: always off. */
  readonly dirty_page_tracking = false;

  /** The v2 interface: unmaps may not bisect a mapping. */
  readonly v2: boolean;
  /** The IOMMU domain of the model's implicit group (container.ts). */
  readonly domain: IommuDomain;

  /**
   * vfio_iommu_type1_open: TYPE1 or TYPE1v2, anything else EINVAL; then the
   * group attach (vfio_iommu_type1_attach_group) allocates the domain.
   */
  constructor(
    private readonly deps: VfioDeps,
    arg: number,
    attach_group: () => IommuDomain,
  ) {
    if (arg !== VFIO_TYPE1_IOMMU && arg !== VFIO_TYPE1v2_IOMMU) throw new Errno('EINVAL');
    this.v2 = arg === VFIO_TYPE1v2_IOMMU;
    this.domain = attach_group();
  }

  /** vfio_iommu_type1_ioctl: the container passes every request it does not handle itself. */
  ioctl(cmd: number, arg: unknown): number {
    switch (cmd) {
      case VFIO_CHECK_EXTENSION:
        return vfio_iommu_type1_check_extension(this, arg as number);
      case VFIO_IOMMU_MAP_DMA:
        return this.map_dma(arg);
      case VFIO_IOMMU_UNMAP_DMA:
        return this.unmap_dma(arg);
      default:
        throw new Errno('ENOTTY');
    }
  }

  /** vfio_find_dma: the first mapping overlapping [start, start + size), or null. */
  vfio_find_dma(start: number, size: number): VfioDma | null {
    const i = this.first_ending_after(start);
    const d = this.dmas[i];
    return d && !(start + size <= d.iova) ? d : null;
  }

  /** Index of the first mapping whose end lies above start. */
  private first_ending_after(start: number): number {
    let lo = 0;
    let hi = this.dmas.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1; // array indices
      const d = this.dmas[mid]!;
      if (d.iova + d.size <= start) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** vfio_iommu_iova_dma_valid: [start, end] (inclusive) inside one usable IOVA range. */
  private iova_dma_valid(start: number, end: number): boolean {
    return IOMMU_IOVA_RANGES.some((r) => start >= r.start && end <= r.end);
  }

  /** vfio_iommu_type1_map_dma: argsz and flags, then vfio_dma_do_map. */
  private map_dma(arg: unknown): number {
    const map = copy_arg<VfioIommuType1DmaMap>(arg);
    const mask = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR;
    if (!(map.argsz >= VFIO_DMA_MAP_MINSZ) || (map.flags & ~mask) !== 0) throw new Errno('EINVAL');
    this.vfio_dma_do_map(map);
    return 0;
  }

  /** vfio_dma_do_map: validate, then pin and map [iova, iova + size) → [vaddr, vaddr + size). */
  vfio_dma_do_map(map: VfioIommuType1DmaMap): void {
    const set_vaddr = (map.flags & VFIO_DMA_MAP_FLAG_VADDR) !== 0;
    const [iova, vaddr, size] = [u64(map.iova), u64(map.vaddr), u64(map.size)];
    // READ/WRITE from the device's perspective.
    let prot = 0;
    if (map.flags & VFIO_DMA_MAP_FLAG_WRITE) prot |= IOMMU_WRITE;
    if (map.flags & VFIO_DMA_MAP_FLAG_READ) prot |= IOMMU_READ;
    if ((prot && set_vaddr) || (!prot && !set_vaddr)) throw new Errno('EINVAL');
    // The smallest page size of the domain: 4K.
    const pgsize = IOMMU_PGSIZE_BITMAP & -IOMMU_PGSIZE_BITMAP;
    if (!size || size % pgsize || iova % pgsize || vaddr % pgsize) throw new Errno('EINVAL');
    // Don't allow IOVA or virtual address wrap.
    if (iova + size - 1 >= U64_LIMIT || vaddr + size - 1 >= U64_LIMIT) throw new Errno('EINVAL');
    const found = this.vfio_find_dma(iova, size);
    if (set_vaddr) {
      if (!found) throw new Errno('ENOENT');
      if (!found.vaddr_invalid || found.iova !== iova || found.size !== size) throw new Errno('EINVAL');
      this.vfio_change_dma_owner(found);
      found.vaddr = vaddr;
      found.vaddr_invalid = false;
      this.vaddr_invalid_count--;
      return;
    }
    if (found) throw new Errno('EEXIST');
    if (!this.dma_avail) throw new Errno('ENOSPC');
    if (!this.iova_dma_valid(iova, iova + size - 1)) throw new Errno('EINVAL');
    const mm = this.deps.current_mm();
    if (!mm) throw new Errno('ENODEV');
    this.dma_avail--;
    const dma: VfioDma = {
      iova, vaddr, size: 0, prot, iommu_mapped: false, lock_cap: mm_lock_state(mm).cap_ipc_lock, mm, locked_vm: 0, vaddr_invalid: false, dmemRefs: [],
    };
    // Insert zero-sized and grow as we map chunks of it.
    this.dmas.splice(this.first_ending_after(iova), 0, dma);
    this.vfio_pin_map_dma(dma, size);
  }

  /** vfio_change_dma_owner: a new vaddr from another process moves the locked_vm charge to it. */
  private vfio_change_dma_owner(dma: VfioDma): void {
    const mm = this.deps.current_mm();
    if (!mm || mm === dma.mm) return;
    const npage = dma.locked_vm;
    const lock_cap = mm_lock_state(mm).cap_ipc_lock;
    const moved: VfioDma = { ...dma, mm, lock_cap, locked_vm: 0 };
    vfio_lock_acct(moved, npage, true);
    vfio_lock_acct(dma, -npage, true);
    dma.mm = mm;
    dma.lock_cap = lock_cap;
    dma.locked_vm = npage;
  }

  /** vfio_pin_map_dma: pin contiguous runs and map each into the IOMMU; on error undo the whole mapping. */
  private vfio_pin_map_dma(dma: VfioDma, map_size: number): void {
    const deps = this.deps;
    const batch = vfio_batch_init();
    const mm = deps.current_mm()!;
    const limit = Math.floor(mm_lock_state(mm).rlimit_memlock / PAGE_SIZE);
    let size = map_size;
    let err: unknown = null;
    while (size) {
      let run;
      try {
        run = vfio_pin_pages_remote(deps, dma, dma.vaddr + dma.size, size / PAGE_SIZE, limit, batch);
      } catch (e) {
        err = e;
        break;
      }
      const refsBefore = dma.dmemRefs.length;
      if (run.pinned && this.is_pageless(run.pfn_base)) dmem_get_run(deps, dma, run.pfn_base, run.pinned);
      try {
        this.domain.iommu_map(dma.iova + dma.size, run.pfn_base * PAGE_SIZE, run.pinned * PAGE_SIZE, dma.prot);
      } catch (e) {
        vfio_unpin_pages_remote(deps, dma, run.pfn_base, run.pinned, true);
        dmem_put_runs(deps, dma, refsBefore);
        vfio_batch_unpin(deps, batch);
        err = e;
        break;
      }
      size -= run.pinned * PAGE_SIZE;
      dma.size += run.pinned * PAGE_SIZE;
    }
    dma.iommu_mapped = true;
    if (err !== null) {
      this.vfio_remove_dma(dma);
      throw err;
    }
  }

  private is_pageless(pfn: number): boolean {
    return !this.deps.pfn_valid(pfn);
  }

  /**
   * vfio_unmap_unpin: clear the mapping's IOMMU entries leaf by leaf, unpin
   * their frames, uncharge locked_vm and drop dmem references.
   */
  private vfio_unmap_unpin(dma: VfioDma): void {
    if (!dma.size) return;
    let unlocked = 0;
    for (const leaf of this.domain.leaves(dma.iova, dma.size)) {
      this.domain.iommu_unmap(leaf.iova, leaf.size);
      unlocked += vfio_unpin_pages_remote(this.deps, dma, leaf.phys / PAGE_SIZE, leaf.size / PAGE_SIZE, false);
    }
    dmem_put_runs(this.deps, dma);
    dma.iommu_mapped = false;
    vfio_lock_acct(dma, -unlocked, true);
  }

  /** vfio_remove_dma: unmap, unpin and forget one mapping. */
  private vfio_remove_dma(dma: VfioDma): void {
    this.vfio_unmap_unpin(dma);
    this.dmas.splice(this.dmas.indexOf(dma), 1);
    this.dma_avail++;
  }

  /** vfio_iommu_type1_unmap_dma: argsz and flags, then vfio_dma_do_unmap; the size unmapped is written back. */
  private unmap_dma(arg: unknown): number {
    const unmap = copy_arg<VfioIommuType1DmaUnmap>(arg);
    const mask = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_VADDR | VFIO_DMA_UNMAP_FLAG_ALL;
    if (!(unmap.argsz >= VFIO_DMA_UNMAP_MINSZ) || (unmap.flags & ~mask) !== 0) throw new Errno('EINVAL');
    if (unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP && unmap.flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)) {
      throw new Errno('EINVAL');
    }
    // copy_to_user happens only on success.
    unmap.size = this.vfio_dma_do_unmap(unmap);
    return 0;
  }

  /**
   * vfio_dma_do_unmap: remove every mapping inside [iova, iova + size) and
   * return the bytes removed. v2 refuses (EINVAL) a range that bisects a
   * mapping; v1 silently unmaps nothing from a request starting inside one.
   * VFIO_DMA_UNMAP_FLAG_ALL needs iova = size = 0; FLAG_VADDR only marks the
   * mappings' vaddr invalid (they stay mapped and pinned).
   */
  vfio_dma_do_unmap(unmap: VfioIommuType1DmaUnmap): number {
    const unmap_all = (unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
    const invalidate_vaddr = (unmap.flags & VFIO_DMA_UNMAP_FLAG_VADDR) !== 0;
    const pgsize = IOMMU_PGSIZE_BITMAP & -IOMMU_PGSIZE_BITMAP;
    const iova = u64(unmap.iova);
    let size = u64(unmap.size);
    if (iova % pgsize) throw new Errno('EINVAL');
    if (unmap_all) {
      if (iova || size) throw new Errno('EINVAL');
      size = U64_LIMIT;
    } else if (!size || size % pgsize || iova + size - 1 >= U64_LIMIT) {
      throw new Errno('EINVAL');
    }
    // When dirty tracking is enabled, allow only min supported pgsize (it never is).
    if (unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP && !this.dirty_page_tracking) throw new Errno('EINVAL');
    if (this.v2 && !unmap_all) {
      let dma = this.vfio_find_dma(iova, 1);
      if (dma && dma.iova !== iova) throw new Errno('EINVAL');
      dma = this.vfio_find_dma(iova + size - 1, 0);
      if (dma && dma.iova + dma.size !== iova + size) throw new Errno('EINVAL');
    }
    let unmapped = 0;
    const first = this.first_ending_after(iova);
    let n = first;
    while (n < this.dmas.length) {
      const dma = this.dmas[n]!;
      if (dma.iova >= iova + size) break;
      if (!this.v2 && iova > dma.iova) break;
      if (invalidate_vaddr) {
        if (dma.vaddr_invalid) {
          // Undo the invalidations of this call.
          for (let k = first; k < n; k++) this.dmas[k]!.vaddr_invalid = false;
          this.vaddr_invalid_count -= n - first;
          throw new Errno('EINVAL');
        }
        dma.vaddr_invalid = true;
        this.vaddr_invalid_count++;
        unmapped += dma.size;
        n++;
        continue;
      }
      unmapped += dma.size;
      this.vfio_remove_dma(dma);
    }
    return unmapped;
  }

  /** vfio_iommu_type1_release: unmap and unpin everything, free the domain. */
  release(): void {
    while (this.dmas.length) this.vfio_remove_dma(this.dmas[0]!);
    this.domain.free();
  }

  /** The mappings, in IOVA order (read-only view for tests and reports). */
  get dma_list(): readonly VfioDma[] {
    return this.dmas;
  }

  /** Counters of this container. */
  stats(): VfioIommuStats {
    const l = this.domain.count_leaves();
    let mapped = 0;
    let locked = 0;
    let refs = 0;
    for (const d of this.dmas) {
      mapped += d.size;
      locked += d.locked_vm;
      for (let i = 1; i < d.dmemRefs.length; i += 2) refs += d.dmemRefs[i]!;
    }
    return {
      nr_dmas: this.dmas.length, mapped_bytes: mapped, leaves_4k: l.pte, leaves_2m: l.pmd, leaves_1g: l.pud,
      iommu_tables: this.domain.nr_tables(), locked_pages: locked, dmem_refs: refs,
    };
  }
}

/** vfio_iommu_type1_check_extension: what type1 offers; `iommu` is null before VFIO_SET_IOMMU. */
export function vfio_iommu_type1_check_extension(iommu: VfioIommu | null, arg: number): number {
  switch (arg) {
    case VFIO_TYPE1_IOMMU:
    case VFIO_TYPE1v2_IOMMU:
    case VFIO_UNMAP_ALL:
      return 1;
    case VFIO_UPDATE_VADDR:
      // Off when mdevs (emulated IOMMU groups) are present; the model has none.
      return iommu ? 1 : 0;
    default:
      // VFIO_DMA_CC_IOMMU depends on the attached devices' domains; the model has no devices.
      return 0;
  }
}

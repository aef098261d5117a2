/**
 * The dmem pool (the original series' mm/dmem.c, v2 with per-dpage reference
 * counts, and its 5.4 backport in OpenCloudOS): pool → node → region, a
 * first-fit dpage allocator over the regions dmem= reserved at boot, NUMA
 * fallback lists and memory-policy placement, the error bitmap that memory
 * failure marks, and the counters debugfs shows.
 *
 * A pure allocator over frame ranges: it never touches frame contents, page
 * tables or struct pages (there are none for this memory).
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SHIFT, PAGE_SIZE, hex } from '../../lib/size.ts';
import type { MmStruct } from '../mm/mm_types.ts';
import type { VmArea } from '../mm/vm_area.ts';
import type { KernelLog } from '../printk.ts';
import type { DmemPool, DpageRun, KernelAlloc } from './api.ts';
import { SparseBitmap, bitmap_bytes, test_bit, set_bit } from './bitmap.ts';
import { DmemNode, dmem_build_nodelists, get_mempolicy_nlist_and_nmask, type NodeTopology } from './node.ts';
import { DmemRegion } from './region.ts';

/** DMEM_REGION_PAGES: the static region table is two pages. */
export const DMEM_REGION_PAGES = 2;
/**
 * sizeof(struct dmem_region) on x86-64 in v2: four phys_addr_t (32), static_bitmap
 * (8), bitmap (8), next_free_pos (8), list_head (16), static_error_bitmap (8),
 * error_bitmap (8), memmap (8) = 96 bytes (v1, without memmap, was 88 → 93 regions).
 */
export const SIZEOF_DMEM_REGION = 96;
/** INIT_REGION_NUM: (DMEM_REGION_PAGES << PAGE_SHIFT) / sizeof(struct dmem_region) = 85. */
export const INIT_REGION_NUM = Math.floor((DMEM_REGION_PAGES * PAGE_SIZE) / SIZEOF_DMEM_REGION);
/** sizeof(struct dmempage): one atomic_t reference count per dpage. */
export const SIZEOF_DMEMPAGE = 4;
/** Bitmaps up to one unsigned long live inside struct dmem_region (static_bitmap) and cost nothing extra. */
const STATIC_BITMAP_BYTES = 8;

/** What dmem_late_init needs to check that reserved memory has no struct page. */
export interface StructPageCheck {
  /** First pfn in [startPfn, endPfn) with a struct page (pfn_valid), or -1 — SparseMem has it. */
  first_pfn_with_struct_page(startPfn: number, endPfn: number): number;
}

/** Outcome of dmem_memory_failure for a frame. */
export type DmemPoisonResult = 'free-retired' | 'in-use' | 'not-dmem';

/** %#llx: 0x-prefixed hex, but plain "0" for zero, as printf prints it. */
export function fmt_llx(n: number): string {
  return n === 0 ? '0' : hex(n);
}

/** struct dmem_pool and the functions of mm/dmem.c over it. */
export class DmemPoolImpl implements DmemPool {
  region_num = 0;
  registered_pages = 0;
  unaligned_pages = 0;
  dpage_shift = 0;
  /** Users (dmemfs mounts) holding the allocator. */
  user_count = 0;
  readonly nodes: DmemNode[];
  private pool_total = 0;
  private pool_free = 0;
  /** Regions sorted by address, for find_dmem_region. */
  private sorted: DmemRegion[] = [];
  private kalloc: KernelAlloc | null = null;
  /** Bytes currently charged to KernelAlloc (error bitmaps, allocation bitmaps, memmaps). */
  kernel_bytes = 0;
  /** dmem_late_init failed: the pool holds no regions and debugfs stays absent. */
  late_init_failed = false;

  constructor(
    nrNodes: number,
    private readonly log: KernelLog,
  ) {
    this.nodes = Array.from({ length: nrNodes }, (_, nid) => new DmemNode(nid));
  }

  /** Bytes reserved by dmem=. */
  get registeredBytes(): number {
    return this.registered_pages * PAGE_SIZE;
  }

  /** dmem_init(): announce the size of the static region table. */
  dmem_init(): void {
    this.log.info(`dmem: pre-defined region: ${INIT_REGION_NUM}`);
  }

  /** dmem_region_register(): add [start, end) on node as a region; -ENOMEM (-12) when the table is full. */
  dmem_region_register(node: number, start: number, end: number): number {
    this.log.info(`dmem: register region [${fmt_llx(start)} - ${fmt_llx(end)}] on node ${node}.`);
    if (this.region_num >= INIT_REGION_NUM) {
      this.log.err('dmem: region is not sufficient.');
      return -12;
    }
    this.region_num++;
    const r = new DmemRegion(node, start, end);
    this.nodes[node]!.regions.push(r);
    this.sorted.push(r);
    this.sorted.sort((a, b) => a.reserved_start_addr - b.reserved_start_addr);
    this.registered_pages += Math.floor(end / PAGE_SIZE) - Math.floor(start / PAGE_SIZE);
    return 0;
  }

  /** Every region, by address. */
  regions(): readonly DmemRegion[] {
    return this.sorted;
  }

  private charge(bytes: number, nid: number): number {
    if (bytes <= STATIC_BITMAP_BYTES) return -1;
    const h = this.kalloc!.kvzalloc(bytes, nid);
    if (h < 0) throw new Errno('ENOMEM', `dmem: cannot allocate ${bytes} bytes on node ${nid}`);
    this.kernel_bytes += bytes;
    return h;
  }

  private uncharge(handle: number, bytes: number): void {
    if (handle < 0) return;
    this.kalloc!.kvfree(handle);
    this.kernel_bytes -= bytes;
  }

  /**
   * dmem_late_init() (late_initcall): fallback lists, each region's error
   * bitmap, and the check that no reserved pfn has a struct page. On failure
   * the pool forgets every region (the memory stays lost to the kernel) and
   * returns -errno.
   */
  dmem_late_init(ctx: { sparse: StructPageCheck; kalloc: KernelAlloc; topo: NodeTopology }): number {
    this.kalloc = ctx.kalloc;
    dmem_build_nodelists(ctx.topo, this.nodes);
    for (const dnode of this.nodes) {
      for (const r of dnode.regions) {
        // dmem_region_init(): 1 bit per 4 KiB frame.
        try {
          r.errorHandle = this.charge(bitmap_bytes(r.nr_pages), r.nid);
        } catch {
          this.dmem_uinit();
          this.late_init_failed = true;
          return -12;
        }
        r.error_bitmap = new SparseBitmap(r.nr_pages);
        // dmem_check_region(): dmem memory must not be backed by struct page.
        const bad = ctx.sparse.first_pfn_with_struct_page(r.start_pfn, r.start_pfn + r.nr_pages);
        if (bad >= 0) {
          this.log.err(`dmem: check pfn ${fmt_llx(bad)} failed, its memory was not properly reserved`);
          this.dmem_uinit();
          this.late_init_failed = true;
          return -22;
        }
      }
    }
    return 0;
  }

  /** dmem_uinit(): stop using the reserved memory after a failed late init (it is not given back). */
  private dmem_uinit(): void {
    for (const dnode of this.nodes) {
      dnode.nodelist = [];
      for (const r of dnode.regions) {
        this.uncharge(r.errorHandle, bitmap_bytes(r.nr_pages));
        r.errorHandle = -1;
        r.error_bitmap = null;
      }
      dnode.regions.length = 0;
    }
    this.sorted = [];
    this.region_num = 0;
    this.registered_pages = 0;
  }

  /**
   * dmem_alloc_init(): a user of the allocator with dpages of 1 << dpage_shift.
   * The first user fixes the size and allocates the bitmaps and memmaps.
   */
  dmem_alloc_init(dpage_shift: number): void {
    if (!Number.isInteger(dpage_shift) || dpage_shift < PAGE_SHIFT || dpage_shift > 40) throw new Errno('EINVAL');
    if (this.dpage_shift) {
      // Double init on the same page size is okay.
      if (this.dpage_shift !== dpage_shift) throw new Errno('EBUSY', `dmem: dpage size fixed at 2^${this.dpage_shift}`);
      this.user_count++;
      return;
    }
    // Our contract (api.ts): no reserved memory is ENOMEM; the original returned 0 and every fault then failed.
    if (this.region_num === 0) throw new Errno('ENOMEM', 'dmem: no memory reserved (dmem=)');
    this.dpage_shift = dpage_shift;
    try {
      for (const dnode of this.nodes) {
        let nodeDpages = 0;
        for (const r of dnode.regions) nodeDpages += this.dmem_alloc_region_init(r, dpage_shift);
        dnode.total_dpages = dnode.free_dpages = nodeDpages;
        this.pool_total += nodeDpages;
      }
    } catch (e) {
      this.__dmem_alloc_uinit();
      throw e;
    }
    this.pool_free = this.pool_total;
    if (this.unaligned_pages) this.log.warn(`dmem: ${this.unaligned_pages} pages are wasted due to alignment`);
    this.user_count++;
  }

  /** dmem_alloc_region_init(): geometry, bitmap and memmap of one region; returns its usable dpages. */
  private dmem_alloc_region_init(r: DmemRegion, dpage_shift: number): number {
    this.unaligned_pages += r.set_geometry(dpage_shift);
    const dpages = r.dpages;
    if (dpages === 0) return 0;
    r.bitmapHandle = this.charge(bitmap_bytes(dpages), r.nid);
    // v2: dmem_memmap_alloc() vzalloc()s one struct dmempage per dpage.
    r.memmapHandle = this.charge(dpages * SIZEOF_DMEMPAGE, r.nid);
    r.attach(r.new_bitmap());
    const usable = dpages - r.mark_mce_dpages();
    r.total = r.free = usable;
    return usable;
  }

  /** __dmem_alloc_uinit(): free every bitmap and memmap; the dpage size is open again. */
  private __dmem_alloc_uinit(): void {
    this.unaligned_pages = 0;
    for (const dnode of this.nodes) {
      for (const r of dnode.regions) {
        this.uncharge(r.bitmapHandle, bitmap_bytes(r.dpages));
        this.uncharge(r.memmapHandle, r.dpages * SIZEOF_DMEMPAGE);
        r.bitmapHandle = r.memmapHandle = -1;
        r.detach();
      }
      dnode.total_dpages = dnode.free_dpages = 0;
    }
    this.dpage_shift = 0;
    this.pool_total = this.pool_free = 0;
  }

  /**
   * dmem_alloc_uinit(): a user leaves; the last one tears the allocator down.
   * The original did that even with dpages still allocated (WARN_ON, then freed
   * the bitmaps under their owners). We keep the allocator and its size while
   * any dpage is in use, so those owners can still free them; the next user
   * with the same size joins it, another size gets EBUSY.
   */
  dmem_alloc_uinit(): void {
    if (this.user_count === 0) throw new Error('dmem: dmem_alloc_uinit without dmem_alloc_init');
    if (--this.user_count > 0) return;
    const inUse = this.sorted.reduce((n, r) => n + (r.bitmap ? r.in_use() : 0), 0);
    if (inUse > 0) {
      this.log.warn(`dmem: ${inUse} dpages still in use, allocator kept`);
      return;
    }
    this.__dmem_alloc_uinit();
  }

  /** dmem_alloc_pages_from_nodelist(): the first region with a free dpage, nodes in list order. */
  private alloc_from_nodelist(nodelist: readonly number[], nodemask: readonly number[] | undefined | null, try_max: number): DpageRun | null {
    if (!this.dpage_shift) throw new Error('dmem: allocation before dmem_alloc_init (WARN_ON)');
    for (const node of nodelist) {
      if (nodemask && !nodemask.includes(node)) continue;
      const dnode = this.nodes[node]!;
      for (const r of dnode.regions) {
        const pos = r.alloc(try_max);
        if (pos < 0) continue;
        dnode.free_dpages -= r.last_nr;
        this.pool_free -= r.last_nr;
        return { phys: r.phys_of(pos), nr: r.last_nr };
      }
    }
    return null;
  }

  /** dmem_alloc_pages_nodemask(): from nid's fallback list, filtered by nodemask. */
  dmem_alloc_pages_nodemask(nid: number, nodemask: readonly number[] | undefined, try_max: number): DpageRun | null {
    // The original's bound was `nid >= sizeof(ARRAY_SIZE(dmem_pool.nodes))` (i.e. 8); we bound by the node count.
    if (!Number.isInteger(nid) || nid < 0 || nid >= this.nodes.length) return null;
    return this.alloc_from_nodelist(this.nodes[nid]!.nodelist, nodemask, try_max);
  }

  /** dmem_alloc_pages_vma(): placement by the VMA's (else the task's) memory policy. */
  dmem_alloc_pages_vma(mm: MmStruct, vma: VmArea, addr: number, try_max: number): DpageRun | null {
    if (!this.dpage_shift) throw new Error('dmem: allocation before dmem_alloc_init (WARN_ON)');
    const { nodelist, nodemask } = get_mempolicy_nlist_and_nmask(this.nodes, this.dpage_shift, mm, vma, addr);
    return this.alloc_from_nodelist(nodelist, nodemask, try_max);
  }

  /** find_dmem_region(): the region whose reserved range holds phys, or null. */
  find_dmem_region(phys: number): DmemRegion | null {
    const a = this.sorted;
    let lo = 0;
    let hi = a.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1; // array indices, not addresses
      const r = a[mid]!;
      if (phys < r.reserved_start_addr) hi = mid - 1;
      else if (phys >= r.reserved_end_addr) lo = mid + 1;
      else return r;
    }
    return null;
  }

  /** The allocated region and position of the dpage at phys (which must start a dpage). */
  private locate(phys: number, what: string): [DmemRegion, number] {
    const r = this.find_dmem_region(phys);
    if (!r || !r.bitmap || phys % r.dpage_size !== 0 || phys < r.phys_of(0) || phys >= r.phys_of(r.dpages)) {
      throw new Error(`dmem: ${what} of ${hex(phys)}: not a dpage of the pool (WARN_ON)`);
    }
    return [r, r.pos_of(phys)];
  }

  /** Account dpages a region gave back. */
  private count_freed(r: DmemRegion, n: number): void {
    this.nodes[r.nid]!.free_dpages += n;
    this.pool_free += n;
  }

  /** dmem_free_pages(): drop the owner's reference of nr dpages from phys (v2: those still pinned stay allocated). */
  dmem_free_pages(phys: number, nr: number): void {
    const [r, pos] = this.locate(phys, 'dmem_free_pages');
    this.count_freed(r, r.free_run(pos, nr));
  }

  /** is_dmem_pfn(). */
  is_dmem_pfn(pfn: number): boolean {
    return this.find_dmem_region(pfn * PAGE_SIZE) !== null;
  }

  /** get_dmem_pfn(): an extra reference (a VFIO pin) on an allocated dpage. */
  dmem_get_page(phys: number): void {
    const [r, pos] = this.locate(phys - (phys % 2 ** this.dpage_shift), 'dmem_get_page');
    r.get_page(pos);
  }

  /** put_dmem_pfn(): drop one reference; the last one frees the dpage. True when only one reference is left. */
  dmem_put_page(phys: number): boolean {
    const [r, pos] = this.locate(phys - (phys % 2 ** this.dpage_shift), 'dmem_put_page');
    this.count_freed(r, r.free_run(pos, 1));
    return r.refcount(pos) === 1;
  }

  /** The reference count of the dpage holding phys (0 when free or retired). */
  dmem_page_count(phys: number): number {
    const [r, pos] = this.locate(phys - (phys % 2 ** this.dpage_shift), 'dmem_page_count');
    return r.refcount(pos);
  }

  /**
   * dmem_memory_failure(): record a hardware error on pfn. A free dpage holding
   * it is retired (marked allocated for good); an allocated one is reported
   * in use for the caller to signal its users. The original reported a second
   * error in an already retired dpage as "used"; we report it retired.
   */
  dmem_memory_failure(pfn: number, _flags = 0): DmemPoisonResult {
    const r = this.find_dmem_region(pfn * PAGE_SIZE);
    if (!r) return 'not-dmem';
    if (!r.error_bitmap) throw new Error('dmem: memory failure before late init');
    r.error_bitmap.test_and_set(pfn - r.start_pfn);
    // Frames outside whole dpages (or with the allocator down) are never handed out.
    if (!r.bitmap || pfn * PAGE_SIZE < r.phys_of(0) || pfn * PAGE_SIZE >= r.phys_of(r.dpages)) return 'free-retired';
    const pos = r.pos_of(pfn * PAGE_SIZE);
    if (r.retired.has(pos)) return 'free-retired';
    if (test_bit(r.bitmap, pos)) return 'in-use';
    set_bit(r.bitmap, pos);
    r.retired.add(pos);
    r.free--;
    this.count_freed(r, -1);
    this.log.info(`MCE: free dpage, mark ${fmt_llx(pfn)} disabled in dmem`);
    return 'free-retired';
  }

  /** The brief's name for dmem_memory_failure. */
  dmem_mark_poison(pfn: number): DmemPoisonResult {
    return this.dmem_memory_failure(pfn);
  }

  /** Has pfn's error bit been set? */
  is_poisoned(pfn: number): boolean {
    const r = this.find_dmem_region(pfn * PAGE_SIZE);
    return r !== null && r.error_bitmap !== null && r.error_bitmap.test(pfn - r.start_pfn);
  }

  /** Does any frame of the pool have a recorded hardware error? (fault runs skip the per-dpage check when not) */
  has_errors(): boolean {
    for (const r of this.sorted) if (r.error_bitmap !== null && r.error_bitmap.weight > 0) return true;
    return false;
  }

  /** Does the dpage at phys hold a poisoned frame? (what dmemfs's fault checks before mapping it) */
  dpage_poisoned(phys: number): boolean {
    const r = this.find_dmem_region(phys);
    return r !== null && r.dpage_is_error(r.pos_of(phys));
  }

  /** total_dpages, all nodes or one. */
  total_dpages(nid?: number): number {
    return nid === undefined ? this.pool_total : (this.nodes[nid]?.total_dpages ?? 0);
  }

  /** free_dpages, all nodes or one. */
  free_dpages(nid?: number): number {
    return nid === undefined ? this.pool_free : (this.nodes[nid]?.free_dpages ?? 0);
  }

  /** Dpages retired for memory errors (ours; the original kept no count). */
  retired_dpages(nid?: number): number {
    let n = 0;
    for (const r of this.sorted) if (nid === undefined || r.nid === nid) n += r.retired.size;
    return n;
  }

  /** Frames with their error bit set (ours). */
  poisoned_pages(nid?: number): number {
    let n = 0;
    for (const r of this.sorted) if (nid === undefined || r.nid === nid) n += r.error_bitmap?.weight ?? 0;
    return n;
  }

  /** Bytes the model itself holds for pool metadata (typed arrays; the kernel's charge is kernel_bytes). */
  model_bytes(): number {
    let n = 0;
    for (const r of this.sorted) {
      n += (r.bitmap?.byteLength ?? 0) + (r.error_bitmap?.modelBytes() ?? 0) + (r.memmap?.modelBytes() ?? 0);
    }
    return n;
  }
}

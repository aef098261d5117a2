/**
 * One dmem region (struct dmem_region in the original series' mm/dmem.c): a
 * physically contiguous range reserved at boot, its allocation bitmap (1 bit
 * per dpage) with a next-free hint, its error bitmap (1 bit per 4 KiB frame)
 * and v2's per-dpage reference count (struct dmempage memmap).
 *
 * Positions ("pos") are dpage indices inside the region; dpage numbers are
 * phys / dpage size, as the original's dpage_start_pfn/dpage_end_pfn (which,
 * despite the name, hold dpage numbers).
 */
import { PAGE_SIZE } from '../../lib/size.ts';
import {
  ChunkedCounts,
  bitmap_alloc,
  clear_bit,
  find_next_bit,
  find_next_zero_bit,
  set_bit,
  set_run,
  test_bit,
  type SparseBitmap,
} from './bitmap.ts';

/** A dmem region and its allocator state. */
export class DmemRegion {
  /** dpage number of the first whole dpage (DMEM_PAGE_UP(reserved_start_addr)); valid while the allocator is up. */
  dpage_start_pfn = 0;
  /** dpage number past the last whole dpage (DMEM_PAGE_DOWN(reserved_end_addr)). */
  dpage_end_pfn = 0;
  /** log2 of the dpage size while the allocator is up. */
  dpage_shift = 0;
  /** Bytes of one dpage (2 ** dpage_shift, kept as a field: it is read for every 4K fault). */
  dpage_size = 1;
  /** Allocation bitmap, 1 bit per dpage; null while no dmem_alloc_init (or the region has no whole dpage). */
  bitmap: Uint32Array | null = null;
  /** First position that may be free: every position below it is allocated. */
  next_free_pos = 0;
  /** Error bitmap, 1 bit per 4 KiB frame of the reserved range; set at late init. */
  error_bitmap: SparseBitmap | null = null;
  /** v2's per-dpage reference counts (struct dmempage memmap). */
  memmap: ChunkedCounts | null = null;
  /** Dpages handed out by nobody and never to be (errors at init, or poisoned while free/in use then freed). */
  readonly retired = new Set<number>();
  /** Whole dpages counted in this region's total (dpages minus those retired at init). */
  total = 0;
  /** Free dpages. */
  free = 0;
  /** KernelAlloc handles of this region's allocations (-1: none / static storage). */
  bitmapHandle = -1;
  errorHandle = -1;
  memmapHandle = -1;

  constructor(
    readonly nid: number,
    /** Original registered range [reserved_start_addr, reserved_end_addr). */
    readonly reserved_start_addr: number,
    readonly reserved_end_addr: number,
  ) {}

  /** Frames of the reserved range. */
  get nr_pages(): number {
    return Math.floor(this.reserved_end_addr / PAGE_SIZE) - Math.floor(this.reserved_start_addr / PAGE_SIZE);
  }

  /** Whole dpages while the allocator is up. */
  get dpages(): number {
    return this.dpage_end_pfn - this.dpage_start_pfn;
  }


  /** First pfn of the reserved range. */
  get start_pfn(): number {
    return Math.floor(this.reserved_start_addr / PAGE_SIZE);
  }

  /** Does [reserved_start_addr, reserved_end_addr) hold phys? */
  contains(phys: number): boolean {
    return phys >= this.reserved_start_addr && phys < this.reserved_end_addr;
  }

  /** Position of the dpage holding phys (phys must lie in the dpage-aligned part). */
  pos_of(phys: number): number {
    return Math.floor(phys / this.dpage_size) - this.dpage_start_pfn;
  }

  /** Physical address of position pos. */
  phys_of(pos: number): number {
    return (this.dpage_start_pfn + pos) * this.dpage_size;
  }

  /** Is position pos allocated (or retired)? */
  is_allocated(pos: number): boolean {
    return this.bitmap !== null && test_bit(this.bitmap, pos);
  }

  /**
   * dmem_alloc_region_init() minus the allocations: fix the dpage geometry.
   * Returns the frames lost to dpage alignment at both ends.
   */
  set_geometry(dpage_shift: number): number {
    const size = 2 ** dpage_shift;
    this.dpage_shift = dpage_shift;
    this.dpage_size = size;
    this.dpage_start_pfn = Math.ceil(this.reserved_start_addr / size);
    this.dpage_end_pfn = Math.max(this.dpage_start_pfn, Math.floor(this.reserved_end_addr / size));
    // No whole dpage: the original returned before counting (and its unsigned end - start could wrap);
    // we count the whole region as lost to alignment, which is what it is.
    if (this.dpages === 0) return this.nr_pages;
    const head = this.dpage_start_pfn * size - this.reserved_start_addr;
    const tail = this.reserved_end_addr - this.dpage_end_pfn * size;
    return Math.floor(head / PAGE_SIZE) + Math.floor(tail / PAGE_SIZE);
  }

  /** Start the allocator over this region (the bitmap storage is the caller's). */
  attach(bitmap: Uint32Array): void {
    this.bitmap = bitmap;
    this.next_free_pos = 0;
    this.memmap = new ChunkedCounts(this.dpages);
    this.retired.clear();
    this.retired_at_init = 0;
  }

  /** Stop the allocator (dmem_alloc_region_uinit). */
  detach(): void {
    this.bitmap = null;
    this.memmap = null;
    this.retired.clear();
    this.retired_at_init = 0;
    this.total = this.free = 0;
    this.dpage_start_pfn = this.dpage_end_pfn = this.dpage_shift = 0;
    this.dpage_size = 1;
  }

  /** An empty allocation bitmap for the current geometry. */
  new_bitmap(): Uint32Array {
    return bitmap_alloc(this.dpages);
  }

  /** dmem_dpage_is_error(): does any frame of position pos have its error bit set? */
  dpage_is_error(pos: number): boolean {
    const eb = this.error_bitmap;
    if (!eb || eb.weight === 0) return false;
    const per = this.dpage_size / PAGE_SIZE;
    const off = (this.dpage_start_pfn + pos) * per - this.start_pfn;
    return eb.find_next_bit(off + per, off) < off + per;
  }

  /**
   * dmem_region_mark_mce_dpages(): at allocator init, every dpage holding a
   * frame already in the error bitmap is marked allocated and retired.
   * Returns how many were.
   */
  mark_mce_dpages(): number {
    const eb = this.error_bitmap;
    if (!eb || !this.bitmap || eb.weight === 0) return 0;
    const per = this.dpage_size / PAGE_SIZE;
    const first = this.dpage_start_pfn * per - this.start_pfn;
    const valid = this.dpage_end_pfn * per - this.start_pfn;
    let n = 0;
    for (let p = eb.find_next_bit(valid, first); p < valid; ) {
      const pos = Math.floor((p + this.start_pfn) / per) - this.dpage_start_pfn;
      set_bit(this.bitmap, pos);
      this.retired.add(pos);
      n++;
      this.retired_at_init++;
      p = eb.find_next_bit(valid, (this.dpage_start_pfn + pos + 1) * per - this.start_pfn);
    }
    return n;
  }

  /** Reference count of position pos (0 when free or retired). */
  refcount(pos: number): number {
    const v = this.memmap ? this.memmap.get(pos) : -1;
    if (v >= 0) return v;
    return this.is_allocated(pos) && !this.retired.has(pos) ? 1 : 0;
  }

  /** Fill a newly materialised count chunk with what the bitmap implies. */
  private readonly fill_counts = (first: number, c: Uint32Array): void => {
    for (let i = 0; i < c.length; i++) c[i] = this.is_allocated(first + i) && !this.retired.has(first + i) ? 1 : 0;
  };

  /**
   * dmem_alloc_region_page(): first free position at or after the hint, then
   * greedily up to try_max contiguous ones. Returns the first position (the
   * count is in last_nr) or -1.
   * The original capped the run at dpages - pos - 1, so a run could never reach
   * the region's last dpage; we allow it (an off-by-one, not a design choice).
   */
  alloc(try_max: number): number {
    const map = this.bitmap;
    if (!map) return -1;
    const dpages = this.dpages;
    // no free page in this region
    if (this.next_free_pos >= dpages) return -1;
    const pos = find_next_zero_bit(map, dpages, this.next_free_pos);
    if (pos >= dpages) {
      this.next_free_pos = pos;
      return -1;
    }
    const nr = set_run(map, dpages, pos, try_max);
    this.next_free_pos = pos + nr;
    this.free -= nr;
    this.last_nr = nr;
    // prep_new_dmempage(): count 1 each (only materialised chunks hold counts).
    const mm = this.memmap!;
    if (mm.materialised) for (let i = 0; i < nr; i++) mm.set_if_present(pos + i, 1);
    return pos;
  }

  /** Dpages in the run the last successful alloc() returned. */
  last_nr = 0;

  /** __dmem_free_pages() for a run whose references are all gone: clear bits, keep poisoned dpages. */
  private release(pos: number, nr: number): void {
    const map = this.bitmap!;
    this.next_free_pos = Math.min(this.next_free_pos, pos);
    const errors = this.error_bitmap !== null && this.error_bitmap.weight > 0;
    for (let i = 0; i < nr; i++) {
      const p = pos + i;
      if (!test_bit(map, p) || this.retired.has(p)) throw new Error(`dmem: freeing dpage ${p} that is not in use (WARN_ON in dmem_alloc_bitmap_clear)`);
      if (errors && this.dpage_is_error(p)) {
        // dmem_alloc_bitmap_clear(): a poisoned dpage stays allocated and never returns to the pool.
        this.retired.add(p);
        continue;
      }
      clear_bit(map, p);
      this.free++;
    }
  }

  /**
   * dmem_free_pages() on this region (v2): drop one reference of each of nr
   * positions from pos; those reaching zero go back (unless poisoned).
   * Returns the dpages that actually became free.
   */
  free_run(pos: number, nr: number): number {
    if (!this.bitmap) throw new Error('dmem: free with the allocator down (WARN_ON in dmem_free_pages)');
    if (pos < 0 || nr < 1 || pos + nr > this.dpages) throw new Error('dmem: free run outside its region (WARN_ON in dmem_free_pages)');
    const before = this.free;
    const mm = this.memmap!;
    if (mm.materialised === 0) {
      this.release(pos, nr);
      return this.free - before;
    }
    for (let i = 0; i < nr; i++) {
      const p = pos + i;
      if (!this.is_allocated(p) || this.retired.has(p)) throw new Error(`dmem: freeing dpage ${p} that is not in use`);
      const v = mm.get(p);
      if (v > 1) {
        mm.set_if_present(p, v - 1);
        continue;
      }
      mm.set_if_present(p, 0);
      this.release(p, 1);
    }
    return this.free - before;
  }

  /** get_dmem_pfn(): one more reference on an allocated dpage. */
  get_page(pos: number): void {
    if (!this.is_allocated(pos) || this.retired.has(pos)) throw new Error(`dmem: get on dpage ${pos} that is not in use`);
    this.memmap!.add(pos, 1, this.fill_counts);
  }

  /** Dpages handed out and not yet freed (retired ones excluded). */
  in_use(): number {
    return this.total - this.free - this.retired_after_init();
  }

  /** Retired dpages that are counted in total (retired after the allocator started). */
  retired_after_init(): number {
    return this.retired.size - this.retired_at_init;
  }

  /** Dpages retired by mark_mce_dpages at allocator init (excluded from total). */
  retired_at_init = 0;

  /** Lowest allocated-or-retired position at or after from (tests, uinit checks). */
  next_allocated(from: number): number {
    return this.bitmap ? find_next_bit(this.bitmap, this.dpages, from) : this.dpages;
  }
}

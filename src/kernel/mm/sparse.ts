/**
 * SPARSEMEM_VMEMMAP boot and accounting (mm/sparse.c, mm/sparse-vmemmap.c).
 *
 * sparse_init() marks every section touched by memblock memory present and
 * gives each run of one node's sections its memmap (2 MiB of struct page per
 * 128 MiB section) from a single node-local memblock buffer, exactly as
 * sparse_init_nid()/sparse_buffer_init() do. A section's memmap covers all of
 * it even when memory covers only part of it. Memory removed from memblock
 * before sparse_init() (dmem= reservations) gets no section, no struct pages.
 *
 * Hooks for later subsystems: vmemmap_adjust() for vmemmap savings (HVO,
 * compound device pages) with per-reason totals, and sparse_add_section() /
 * sparse_remove_section() for memory hotplug accounting.
 */
import type { KernelLog } from '../printk.ts';
import { PMD_SIZE } from '../../lib/size.ts';
import type { Memblock } from './memblock.ts';
import { MAX_NUMNODES, MEMBLOCK_ALLOC_ACCESSIBLE, SMP_CACHE_BYTES } from './memblock.ts';
import {
  MAX_DMA_ADDRESS,
  MemSections,
  NR_MEM_SECTIONS,
  PAGES_PER_SECTION,
  PAGES_PER_SUBSECTION,
  SECTION_HAS_MEM_MAP,
  SECTION_IS_EARLY,
  SECTION_IS_ONLINE,
  SECTION_MAP_SIZE,
  STRUCT_PAGE_SIZE,
  popcount32,
  pfn_to_section_nr,
  section_nr_to_pfn,
} from './mem_section.ts';

export * from './mem_section.ts';

/** mem_section_usage_size(): rcu_head (16) + subsection_map (8) + pageblock flags (4 bits x 64 = 32). */
export const MEM_SECTION_USAGE_SIZE = 56;

const EINVAL = 22;
const EEXIST = 17;

/** The sparse memory model of one host. */
export class SparseMem extends MemSections {
  private readonly adjustments = new Map<string, number>();

  constructor(
    maxPfn: number,
    private readonly log?: KernelLog,
  ) {
    super(maxPfn);
  }

  /** memory_present(): mark every section touched by [startPfn, endPfn) present on `nid`. */
  memory_present(nid: number, startPfn: number, endPfn: number): void {
    // mminit_validate_memmodel_limits(): clamp to what the model can describe.
    const maxSparsemPfn = NR_MEM_SECTIONS * PAGES_PER_SECTION;
    let start = startPfn - (startPfn % PAGES_PER_SECTION);
    let end = endPfn;
    if (start > maxSparsemPfn) start = end = maxSparsemPfn;
    else if (end > maxSparsemPfn) end = maxSparsemPfn;
    this.ensure(Math.ceil(end / PAGES_PER_SECTION));
    for (let pfn = start; pfn < end; pfn += PAGES_PER_SECTION) {
      const nr = pfn_to_section_nr(pfn);
      // The first node to claim a section keeps it (if (!ms->section_mem_map)).
      if (this.flags[nr] === 0) {
        this.nids[nr] = nid;
        this.flags[nr] = SECTION_IS_ONLINE;
        this.mark_present(nr);
      }
    }
  }

  /** memblocks_present(): memory_present() for every memblock memory range. */
  memblocks_present(memblock: Memblock): void {
    for (const r of memblock.mem_pfn_ranges(MAX_NUMNODES)) this.memory_present(r.nid, r.start, r.end);
  }

  /**
   * sparse_init(): memblocks_present(), then sparse_init_nid() for each run of
   * present sections of one node; finally subsection_map_init() for the
   * memblock ranges (Linux does that in free_area_init() on the same memblock).
   */
  sparse_init(memblock: Memblock, log: KernelLog): void {
    this.memblocks_present(memblock);
    let pnumBegin = this.next_present_section_nr(-1);
    if (pnumBegin < 0) return;
    let nidBegin = this.nids[pnumBegin]!;
    let mapCount = 1;
    for (let pnum = this.next_present_section_nr(pnumBegin); pnum !== -1; pnum = this.next_present_section_nr(pnum)) {
      const nid = this.nids[pnum]!;
      if (nid === nidBegin) {
        mapCount++;
        continue;
      }
      this.sparse_init_nid(memblock, log, nidBegin, pnumBegin, pnum, mapCount);
      nidBegin = nid;
      pnumBegin = pnum;
      mapCount = 1;
    }
    this.sparse_init_nid(memblock, log, nidBegin, pnumBegin, this.highest_present_section_nr + 1, mapCount);
    for (const r of memblock.mem_pfn_ranges(MAX_NUMNODES)) this.subsection_set(r.start, r.end - r.start);
  }

  /** sparse_init_nid(): usemaps, then one exact-node memmap buffer for [pnumBegin, pnumEnd). */
  private sparse_init_nid(
    mb: Memblock,
    log: KernelLog,
    nid: number,
    pnumBegin: number,
    pnumEnd: number,
    mapCount: number,
  ): void {
    let failedFrom = pnumBegin;
    const usage = mb.alloc_node(MEM_SECTION_USAGE_SIZE * mapCount, SMP_CACHE_BYTES, nid);
    if (!usage) {
      log.err(`sparse_init_nid: node[${nid}] usemap allocation failed`);
    } else {
      // sparse_buffer_init(): memmap_alloc(size, section_map_size(), MAX_DMA, nid, exact_nid=true).
      const size = mapCount * SECTION_MAP_SIZE;
      let buf = mb.alloc_exact_nid_raw(size, SECTION_MAP_SIZE, MAX_DMA_ADDRESS, MEMBLOCK_ALLOC_ACCESSIBLE, nid);
      const bufEnd = buf ? buf + size : 0;
      let ok = true;
      for (let pnum = this.next_present_section_nr(pnumBegin - 1); pnum !== -1 && pnum < pnumEnd; pnum = this.next_present_section_nr(pnum)) {
        // vmemmap_populate_hugepages(): the buffer first, else vmemmap_alloc_block()
        // = memmap_alloc(PMD_SIZE, PMD_SIZE, MAX_DMA, nid, exact_nid=false).
        let map = 0;
        if (buf && buf + SECTION_MAP_SIZE <= bufEnd) {
          map = buf;
          buf += SECTION_MAP_SIZE;
        } else {
          map = mb.alloc_try_nid_raw(SECTION_MAP_SIZE, PMD_SIZE, MAX_DMA_ADDRESS, MEMBLOCK_ALLOC_ACCESSIBLE, nid);
        }
        if (!map) {
          log.err(`sparse_init_nid: node[${nid}] memory map backing failed. Some memory will not be available.`);
          failedFrom = pnum;
          ok = false;
          break;
        }
        // sparse_init_one_section(..., SECTION_IS_EARLY)
        this.flags[pnum] = this.flags[pnum]! | SECTION_HAS_MEM_MAP | SECTION_IS_EARLY;
        this.memmapPhys[pnum] = map;
        this.setMemmap(pnum, SECTION_MAP_SIZE);
      }
      // sparse_buffer_fini(): hand back what the buffer did not use.
      if (buf && bufEnd - buf > 0) mb.phys_free(buf, bufEnd - buf);
      if (ok) return;
    }
    // We failed to allocate, mark all the following pnums as not present.
    for (let pnum = this.next_present_section_nr(failedFrom - 1); pnum !== -1 && pnum < pnumEnd; pnum = this.next_present_section_nr(pnum)) {
      this.flags[pnum] = 0;
    }
  }

  /** Net memmap change recorded per reason (negative = saved), e.g. "HVO" → -7 MiB. */
  vmemmapAdjustments(): ReadonlyMap<string, number> {
    return this.adjustments;
  }

  /** Bytes of memmap currently saved by `reason` (positive). */
  vmemmapSaved(reason: string): number {
    return 0 - (this.adjustments.get(reason) ?? 0);
  }

  /**
   * Change the memmap held for [startPfn, startPfn+nrPages) by deltaBytes
   * (negative = freed, e.g. HVO; positive = given back), spread over the
   * sections in proportion to the range's pages in each. Every section must
   * have a memmap and stay within [0, SECTION_MAP_SIZE]; otherwise nothing
   * changes and -EINVAL is returned.
   */
  vmemmap_adjust(startPfn: number, nrPages: number, deltaBytes: number, reason: string): number {
    if (![startPfn, nrPages, deltaBytes].every(Number.isSafeInteger) || startPfn < 0 || nrPages <= 0) return -EINVAL;
    const shares = this.spread(startPfn, nrPages, deltaBytes);
    for (const [nr, share] of shares) {
      if (!this.valid_section_nr(nr)) return -EINVAL;
      const v = this.memmap[nr]! + share;
      if (v < 0 || v > SECTION_MAP_SIZE) return -EINVAL;
    }
    for (const [nr, share] of shares) this.setMemmap(nr, this.memmap[nr]! + share);
    this.adjustments.set(reason, (this.adjustments.get(reason) ?? 0) + deltaBytes);
    return 0;
  }

  /** Split `bytes` over the sections of a pfn range by page count; the last section takes the rounding. */
  private spread(startPfn: number, nrPages: number, bytes: number): [number, number][] {
    const out: [number, number][] = [];
    const end = startPfn + nrPages;
    let given = 0;
    for (let p = startPfn; p < end; ) {
      const nr = pfn_to_section_nr(p);
      const next = Math.min(end, section_nr_to_pfn(nr + 1));
      const share = next === end ? bytes - given : Math.trunc((bytes / nrPages) * (next - p));
      out.push([nr, share]);
      given += share;
      p = next;
    }
    return out;
  }

  /** check_pfn_span(): hotplug ranges must be subsection aligned and inside the model. */
  private checkSpan(startPfn: number, nrPages: number): boolean {
    if (!Number.isSafeInteger(startPfn) || !Number.isSafeInteger(nrPages) || startPfn < 0 || nrPages <= 0) return false;
    if (startPfn % PAGES_PER_SUBSECTION !== 0 || nrPages % PAGES_PER_SUBSECTION !== 0) return false;
    return startPfn + nrPages <= NR_MEM_SECTIONS * PAGES_PER_SECTION;
  }

  /**
   * sparse_add_section() for each section of a hot-added range (the loop of
   * __add_pages). memmapBytes defaults to one struct page per page; adding into
   * the unpopulated part of an early section reuses its memmap
   * (section_activate). Returns 0, -EINVAL (misaligned, out of range) or
   * -EEXIST (a subsection is already active); on error nothing changes.
   */
  sparse_add_section(nid: number, startPfn: number, nrPages: number, memmapBytes = nrPages * STRUCT_PAGE_SIZE): number {
    if (!this.checkSpan(startPfn, nrPages) || !Number.isSafeInteger(memmapBytes) || memmapBytes < 0) return -EINVAL;
    this.ensure(Math.ceil((startPfn + nrPages) / PAGES_PER_SECTION));
    const shares = this.spread(startPfn, nrPages, memmapBytes);
    for (const [sec, share] of shares) {
      // fill_subsection_map(): -EEXIST when any subsection is already active.
      const [lo, hi] = this.maskOf(sec, startPfn, nrPages);
      if ((this.subLo[sec]! & lo) !== 0 || (this.subHi[sec]! & hi) !== 0) return -EEXIST;
      if (!this.early_section_nr(sec) && this.memmap[sec]! + share > SECTION_MAP_SIZE) return -EINVAL;
    }
    for (const [sec, share] of shares) {
      const [lo, hi] = this.maskOf(sec, startPfn, nrPages);
      this.subLo[sec] = (this.subLo[sec]! | lo) >>> 0;
      this.subHi[sec] = (this.subHi[sec]! | hi) >>> 0;
      if (this.early_section_nr(sec)) continue;
      // set_section_nid(): move what the section already holds to the new node's account.
      const held = this.memmap[sec]!;
      this.setMemmap(sec, 0);
      this.nids[sec] = nid;
      this.mark_present(sec);
      this.flags[sec] = this.flags[sec]! | SECTION_HAS_MEM_MAP;
      this.setMemmap(sec, held + share);
    }
    return 0;
  }

  /**
   * sparse_remove_section() for each section of a range (__remove_pages): clear
   * the subsections; hot memmap shrinks with them, an early memmap is freed only
   * when its section is empty (free_map_bootmem); an empty section stops being
   * present. Returns 0 or -EINVAL (misaligned, or part of it not active).
   */
  sparse_remove_section(startPfn: number, nrPages: number): number {
    if (!this.checkSpan(startPfn, nrPages)) return -EINVAL;
    const end = startPfn + nrPages;
    const next = (p: number): number => section_nr_to_pfn(pfn_to_section_nr(p) + 1);
    for (let p = startPfn; p < end; p = next(p)) {
      // clear_subsection_map(): every subsection being removed must be active.
      const sec = pfn_to_section_nr(p);
      const [lo, hi] = this.maskOf(sec, startPfn, nrPages);
      const inModel = sec < this.nr_sections;
      if (!inModel || (this.subLo[sec]! & lo) >>> 0 !== lo || (this.subHi[sec]! & hi) >>> 0 !== hi) {
        this.log?.warn(`section already deactivated (0x${p.toString(16)} + ${nrPages})`);
        return -EINVAL;
      }
    }
    for (let p = startPfn; p < end; p = next(p)) {
      const sec = pfn_to_section_nr(p);
      const [lo, hi] = this.maskOf(sec, startPfn, nrPages);
      const before = popcount32(this.subLo[sec]!) + popcount32(this.subHi[sec]!);
      const removed = popcount32(lo) + popcount32(hi);
      this.subLo[sec] = (this.subLo[sec]! & ~lo) >>> 0;
      this.subHi[sec] = (this.subHi[sec]! & ~hi) >>> 0;
      const empty = this.subLo[sec] === 0 && this.subHi[sec] === 0;
      if (empty) {
        this.setMemmap(sec, 0);
        this.flags[sec] = 0;
        this.memmapPhys[sec] = -1;
      } else if (!this.early_section_nr(sec)) {
        const held = this.memmap[sec]!;
        this.setMemmap(sec, held - Math.trunc((held * removed) / before));
      }
    }
    return 0;
  }
}

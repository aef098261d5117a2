/**
 * struct mem_section and its helpers (include/linux/mmzone.h, the section
 * state of mm/sparse.c): one entry per 128 MiB section in typed arrays, so a
 * 16 TiB host costs 131072 entries, never anything per page.
 *
 * Each section has section_mem_map flag bits (present, has memmap, online,
 * early), a node id, the subsection_map (64 x 2 MiB bits, for hotplug and
 * pfn_valid), and the bytes of memmap (struct page) currently held for it.
 */
import { MiB, PMD_SIZE } from '../../lib/size.ts';
import { MAX_NUMNODES } from './memblock.ts';

/** log2 of the section size: 128 MiB on x86-64. */
export const SECTION_SIZE_BITS = 27;
/** Pages per section (1 << (SECTION_SIZE_BITS - PAGE_SHIFT)). */
export const PAGES_PER_SECTION = 32768;
/** sizeof(struct page) on x86-64. */
export const STRUCT_PAGE_SIZE = 64;
/** section_map_size(): ALIGN(sizeof(struct page) * PAGES_PER_SECTION, PMD_SIZE) = 2 MiB. */
export const SECTION_MAP_SIZE = Math.ceil((STRUCT_PAGE_SIZE * PAGES_PER_SECTION) / PMD_SIZE) * PMD_SIZE;
/** Hotplug granularity for ZONE_DEVICE: 2 MiB (SUBSECTION_SHIFT 21). */
export const PAGES_PER_SUBSECTION = 512;
/** 64 subsections per section. */
export const SUBSECTIONS_PER_SECTION = PAGES_PER_SECTION / PAGES_PER_SUBSECTION;
/** __pa(MAX_DMA_ADDRESS): memmap stays above ZONE_DMA. */
export const MAX_DMA_ADDRESS = 16 * MiB;
/** MAX_PHYSMEM_BITS with 4-level paging. */
export const MAX_PHYSMEM_BITS = 46;
/** NR_MEM_SECTIONS = 1 << (MAX_PHYSMEM_BITS - SECTION_SIZE_BITS). */
export const NR_MEM_SECTIONS = 2 ** (MAX_PHYSMEM_BITS - SECTION_SIZE_BITS);

/** section_mem_map flag bits. */
export const SECTION_MARKED_PRESENT = 0x1;
export const SECTION_HAS_MEM_MAP = 0x2;
export const SECTION_IS_ONLINE = 0x4;
export const SECTION_IS_EARLY = 0x8;

/** pfn_to_section_nr(). */
export function pfn_to_section_nr(pfn: number): number {
  return Math.floor(pfn / PAGES_PER_SECTION);
}

/** section_nr_to_pfn(). */
export function section_nr_to_pfn(nr: number): number {
  return nr * PAGES_PER_SECTION;
}

/** Bits first..last (0..63) of a 64-bit subsection map as [lo, hi] 32-bit words. */
export function subsectionBits(first: number, last: number): [number, number] {
  const range = (a: number, b: number): number => {
    if (a > b) return 0;
    const width = b - a + 1;
    return (width === 32 ? 0xffffffff : ((1 << width) - 1) << a) >>> 0;
  };
  return [range(first, Math.min(last, 31)), range(Math.max(first, 32) - 32, last - 32)];
}

/** Number of set bits in a 32-bit word. */
export function popcount32(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v; v = (v & (v - 1)) >>> 0) n++;
  return n;
}

/** The mem_section array and the per-section memmap accounting. */
export class MemSections {
  protected flags: Uint8Array;
  protected nids: Int16Array;
  /** Bytes of memmap currently held for each section (0..SECTION_MAP_SIZE). */
  protected memmap: Uint32Array;
  /** Physical address of each section's memmap (its vmemmap backing), or -1. */
  protected memmapPhys: Float64Array;
  /** subsection_map as two 32-bit halves (bit operations on bitmaps, not on addresses). */
  protected subLo: Uint32Array;
  protected subHi: Uint32Array;
  private total = 0;
  private readonly perNode = new Float64Array(MAX_NUMNODES + 1);
  /** __highest_present_section_nr (-1 when none). */
  highest_present_section_nr = -1;

  constructor(maxPfn: number) {
    const n = Math.max(1, Math.ceil(maxPfn / PAGES_PER_SECTION));
    this.flags = new Uint8Array(n);
    this.nids = new Int16Array(n).fill(-1);
    this.memmap = new Uint32Array(n);
    this.memmapPhys = new Float64Array(n).fill(-1);
    this.subLo = new Uint32Array(n);
    this.subHi = new Uint32Array(n);
  }

  /** Sections the arrays currently describe. */
  get nr_sections(): number {
    return this.flags.length;
  }

  /** Grow the arrays (hot-added memory may lie above the boot max_pfn). */
  protected ensure(nrSections: number): void {
    if (nrSections <= this.flags.length) return;
    const n = Math.min(NR_MEM_SECTIONS, Math.max(nrSections, this.flags.length * 2));
    const grow = <T extends Uint8Array | Int16Array | Uint32Array | Float64Array>(a: T, fill: number): T => {
      const b = new (a.constructor as new (len: number) => T)(n);
      b.fill(fill);
      b.set(a);
      return b;
    };
    this.flags = grow(this.flags, 0);
    this.nids = grow(this.nids, -1);
    this.memmap = grow(this.memmap, 0);
    this.memmapPhys = grow(this.memmapPhys, -1);
    this.subLo = grow(this.subLo, 0);
    this.subHi = grow(this.subHi, 0);
  }

  /** Set a section's memmap bytes, keeping the total and its node's total in step. */
  protected setMemmap(nr: number, bytes: number): void {
    const delta = bytes - this.memmap[nr]!;
    this.memmap[nr] = bytes;
    this.total += delta;
    const nid = this.nids[nr]!;
    this.perNode[nid >= 0 && nid <= MAX_NUMNODES ? nid : MAX_NUMNODES] += delta;
  }

  /** __section_mark_present(). */
  protected mark_present(nr: number): void {
    if (nr > this.highest_present_section_nr) this.highest_present_section_nr = nr;
    this.flags[nr] = this.flags[nr]! | SECTION_MARKED_PRESENT;
  }

  /** next_present_section_nr(): the next present section after nr, or -1. */
  next_present_section_nr(nr: number): number {
    for (let s = nr + 1; s <= this.highest_present_section_nr; s++) {
      if (this.flags[s]! & SECTION_MARKED_PRESENT) return s;
    }
    return -1;
  }

  /** Subsection bits of [pfn, pfn+nrPages) that fall inside section `sec`, as [lo, hi]. */
  protected maskOf(sec: number, pfn: number, nrPages: number): [number, number] {
    const base = section_nr_to_pfn(sec);
    const first = Math.floor((Math.max(pfn, base) - base) / PAGES_PER_SUBSECTION);
    const last = Math.floor((Math.min(pfn + nrPages, base + PAGES_PER_SECTION) - 1 - base) / PAGES_PER_SUBSECTION);
    return subsectionBits(first, last);
  }

  /** subsection_mask_set() over a pfn range that may span sections (subsection_map_init). */
  protected subsection_set(pfn: number, nrPages: number): void {
    const end = pfn + nrPages;
    for (let p = pfn; p < end; p = section_nr_to_pfn(pfn_to_section_nr(p) + 1)) {
      const sec = pfn_to_section_nr(p);
      const [lo, hi] = this.maskOf(sec, pfn, nrPages);
      this.subLo[sec] = (this.subLo[sec]! | lo) >>> 0;
      this.subHi[sec] = (this.subHi[sec]! | hi) >>> 0;
    }
  }

  /** pfn_to_section_nr() as a method. */
  pfn_to_section_nr(pfn: number): number {
    return pfn_to_section_nr(pfn);
  }

  /** section_nr_to_pfn() as a method. */
  section_nr_to_pfn(nr: number): number {
    return section_nr_to_pfn(nr);
  }

  /** present_section_nr(). */
  present_section_nr(nr: number): boolean {
    return nr >= 0 && nr < this.flags.length && (this.flags[nr]! & SECTION_MARKED_PRESENT) !== 0;
  }

  /** valid_section_nr(): the section has a memmap. */
  valid_section_nr(nr: number): boolean {
    return nr >= 0 && nr < this.flags.length && (this.flags[nr]! & SECTION_HAS_MEM_MAP) !== 0;
  }

  /** online_section_nr(). */
  online_section_nr(nr: number): boolean {
    return nr >= 0 && nr < this.flags.length && (this.flags[nr]! & SECTION_IS_ONLINE) !== 0;
  }

  /** early_section(): the memmap came from boot memory and covers the whole section. */
  early_section_nr(nr: number): boolean {
    return nr >= 0 && nr < this.flags.length && (this.flags[nr]! & SECTION_IS_EARLY) !== 0;
  }

  /** The node a section was recorded for, or -1. */
  section_nid(nr: number): number {
    return nr >= 0 && nr < this.nids.length ? this.nids[nr]! : -1;
  }

  /** Physical address of a section's memmap, or -1. */
  memmap_phys(nr: number): number {
    return nr >= 0 && nr < this.memmapPhys.length ? this.memmapPhys[nr]! : -1;
  }

  /** Bytes of memmap held for one section. */
  section_memmap_bytes(nr: number): number {
    return nr >= 0 && nr < this.memmap.length ? this.memmap[nr]! : 0;
  }

  /** Is subsection `idx` (0..63) of section `nr` active? */
  subsection_active(nr: number, idx: number): boolean {
    if (nr < 0 || nr >= this.flags.length) return false;
    const word = idx < 32 ? this.subLo[nr]! : this.subHi[nr]!;
    return ((word >>> idx % 32) & 1) === 1;
  }

  /**
   * pfn_valid() for SPARSEMEM: the section has a memmap, and either it is an
   * early section (valid for its whole span) or pfn's subsection is active.
   */
  pfn_valid(pfn: number): boolean {
    if (!Number.isSafeInteger(pfn) || pfn < 0) return false;
    const nr = pfn_to_section_nr(pfn);
    if (!this.valid_section_nr(nr)) return false;
    if (this.flags[nr]! & SECTION_IS_EARLY) return true;
    return this.subsection_active(nr, Math.floor((pfn - section_nr_to_pfn(nr)) / PAGES_PER_SUBSECTION));
  }

  /** Does the kernel hold a struct page for pfn? (= pfn_valid: holes in early sections have one too.) */
  has_struct_page(pfn: number): boolean {
    return this.pfn_valid(pfn);
  }

  /** First pfn in [startPfn, endPfn) that has a struct page, or -1 (dmem's late check). */
  first_pfn_with_struct_page(startPfn: number, endPfn: number): number {
    for (let p = startPfn; p < endPfn; ) {
      const nr = pfn_to_section_nr(p);
      if (nr >= this.flags.length) return -1;
      const next = Math.min(endPfn, section_nr_to_pfn(nr + 1));
      if (this.valid_section_nr(nr)) {
        for (let q = p; q < next; q = (Math.floor(q / PAGES_PER_SUBSECTION) + 1) * PAGES_PER_SUBSECTION) {
          if (this.pfn_valid(q)) return q;
        }
      }
      p = next;
    }
    return -1;
  }

  /** Number of present sections. */
  nr_present_sections(): number {
    let n = 0;
    for (let s = 0; s <= this.highest_present_section_nr; s++) if (this.flags[s]! & SECTION_MARKED_PRESENT) n++;
    return n;
  }

  /** Total bytes of memmap the kernel holds. */
  memmapBytes(): number {
    return this.total;
  }

  /** Bytes of memmap for the sections of node `nid`. */
  memmapBytesNode(nid: number): number {
    return nid >= 0 && nid <= MAX_NUMNODES ? this.perNode[nid]! : 0;
  }

  /** online_mem_sections(). */
  online_mem_sections(startPfn: number, endPfn: number): void {
    for (let pfn = startPfn; pfn < endPfn; pfn += PAGES_PER_SECTION) {
      const nr = pfn_to_section_nr(pfn);
      if (this.valid_section_nr(nr)) this.flags[nr] = this.flags[nr]! | SECTION_IS_ONLINE;
    }
  }

  /** offline_mem_sections(). */
  offline_mem_sections(startPfn: number, endPfn: number): void {
    for (let pfn = startPfn; pfn < endPfn; pfn += PAGES_PER_SECTION) {
      const nr = pfn_to_section_nr(pfn);
      if (this.valid_section_nr(nr)) this.flags[nr] = this.flags[nr]! & ~SECTION_IS_ONLINE;
    }
  }
}

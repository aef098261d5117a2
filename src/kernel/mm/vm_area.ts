/**
 * struct vm_area_struct, struct vm_fault and struct address_space — the shapes
 * shared by the mm core and every filesystem that can be mapped
 * (include/linux/mm_types.h, include/linux/mm.h, include/linux/fs.h).
 */
import type { PtPage } from './pgtable_core.ts';

// vm_flags (include/linux/mm.h). Kept below 2^31 so `|` and `&` stay exact.
export const VM_NONE = 0x0;
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
export const VM_GROWSDOWN = 0x100;
export const VM_PFNMAP = 0x400;
export const VM_LOCKED = 0x2000;
export const VM_IO = 0x4000;
export const VM_SEQ_READ = 0x8000;
export const VM_RAND_READ = 0x10000;
export const VM_DONTCOPY = 0x20000;
export const VM_DONTEXPAND = 0x40000;
export const VM_ACCOUNT = 0x100000;
export const VM_NORESERVE = 0x200000;
export const VM_HUGETLB = 0x400000;
export const VM_SYNC = 0x800000;
export const VM_WIPEONFORK = 0x2000000;
export const VM_DONTDUMP = 0x4000000;
/** Soft-dirty tracking bit; ignored when comparing VMAs for merging (is_mergeable_vma). */
export const VM_SOFTDIRTY = 0x8000000;
export const VM_MIXEDMAP = 0x10000000;
export const VM_HUGEPAGE = 0x20000000;
export const VM_NOHUGEPAGE = 0x40000000;

/** The flags that make a VMA "special" for merging and mremap (VM_SPECIAL). */
export const VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP;

// fault flags (enum fault_flag)
export const FAULT_FLAG_WRITE = 0x1;
export const FAULT_FLAG_MKWRITE = 0x2;
export const FAULT_FLAG_ALLOW_RETRY = 0x4;
export const FAULT_FLAG_REMOTE = 0x80;
export const FAULT_FLAG_USER = 0x40;

// vm_fault_t bits (include/linux/mm_types.h)
export const VM_FAULT_OOM = 0x1;
export const VM_FAULT_SIGBUS = 0x2;
export const VM_FAULT_MAJOR = 0x4;
export const VM_FAULT_HWPOISON = 0x10;
export const VM_FAULT_HWPOISON_LARGE = 0x20;
export const VM_FAULT_SIGSEGV = 0x40;
export const VM_FAULT_NOPAGE = 0x100;
export const VM_FAULT_LOCKED = 0x200;
export const VM_FAULT_RETRY = 0x400;
export const VM_FAULT_FALLBACK = 0x800;
export const VM_FAULT_DONE_COW = 0x1000;
export const VM_FAULT_ERROR =
  VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_HWPOISON | VM_FAULT_HWPOISON_LARGE | VM_FAULT_FALLBACK;

/** A NUMA memory policy (struct mempolicy), attached to a VMA or a task. */
export interface MemPolicy {
  mode: number;
  nodes: readonly number[];
}

/**
 * struct vm_fault: what a ->fault or ->huge_fault handler is given. A handler that
 * returns a page for the core to map sets `pfn` and returns 0; a handler that
 * installs the entry itself (vmf_insert_pfn) returns VM_FAULT_NOPAGE.
 */
export interface VmFault {
  readonly vma: VmArea;
  /** Faulting virtual address, aligned down to the fault's size. */
  readonly address: number;
  /** File offset of `address` in pages. */
  readonly pgoff: number;
  readonly flags: number;
  /** Out: the frame to map (for a 0 return). */
  pfn: number;
}

/** struct vm_operations_struct (the subset modelled). Handlers throw Errno where Linux returns -errno. */
export interface VmOperations {
  readonly name?: string;
  open?(vma: VmArea): void;
  close?(vma: VmArea): void;
  /** May this VMA be split at addr? Throw Errno to refuse (dmemfs: EINVAL). */
  may_split?(vma: VmArea, addr: number): void;
  /** mremap of this VMA; throw Errno to refuse. */
  mremap?(vma: VmArea): void;
  /** mprotect of [start, end) to newflags; throw Errno to refuse (dmemfs: EINVAL). */
  mprotect?(vma: VmArea, start: number, end: number, newflags: number): void;
  fault?(vmf: VmFault): number;
  /** order 9 (PMD) or 18 (PUD). */
  huge_fault?(vmf: VmFault, order: number): number;
  /** The mapping's page size (vm_ops->pagesize; smaps' KernelPageSize, si_addr_lsb of huge poison). */
  pagesize?(vma: VmArea): number;
  /** Called before a shared mapping's page is made writable. */
  page_mkwrite?(vmf: VmFault): number;
  /** hugetlb_fault: handle_mm_fault hands a VM_HUGETLB VMA's whole fault here (vmf.address unaligned). */
  hugetlb_fault?(vmf: VmFault): number;
  /** __unmap_hugepage_range: drop what one leaf of this VMA held (called instead of the generic zap_leaf). */
  zap_leaf?(vma: VmArea, level: number, entry: number): void;
  /** copy_hugetlb_page_range: fork copies this VMA's entries itself (both VMAs have vm_mm set). */
  copy_page_range?(dst: VmArea, src: VmArea): void;
  /**
   * The model's batch of ->fault (no Linux counterpart): resolve the 4K faults of
   * up to n consecutive pages from addr, whose entries are the none slots i0.. of
   * the PTE table pt, exactly as n ->fault calls in order would (each mapping its
   * page). Returns how many it did; it stops before any page it cannot show to
   * behave the same, which the caller faults the ordinary way. The caller counts
   * the faults (PGFAULT, minflt).
   */
  fault_run?(vma: VmArea, pt: PtPage, i0: number, addr: number, n: number): number;
}

/** The mappable object behind a file (struct address_space): who maps it. */
export class AddressSpace {
  /** Every VMA mapping this object (the i_mmap interval tree, as a set). */
  readonly i_mmap = new Set<VmArea>();
  /** Pages in the page cache. */
  nrpages = 0;
}

/** A file as the mm sees it: something with a mapping, held by reference while mapped. */
export interface MappedFile {
  readonly f_mapping: AddressSpace;
  /** Take a reference (get_file). */
  get(): unknown;
  /** Drop a reference (fput). */
  fput(): void;
}

/** What a VMA needs of its mm: a way to drop entries of a file range (unmap_mapping_range). */
export interface VmMm {
  zap_vma_range(vma: VmArea, start: number, end: number, even_cows: boolean): void;
}

/** struct vm_area_struct. */
export class VmArea {
  constructor(
    public start: number,
    public end: number,
    public flags: number,
    /** Offset of `start` in the file, in pages (for anonymous VMAs: start / PAGE_SIZE). */
    public pgoff: number,
    public file: MappedFile | null,
    public vm_ops: VmOperations | null = null,
    public policy: MemPolicy | null = null,
  ) {}

  /** Filesystem- or driver-private data (vm_private_data). */
  private_data: unknown = null;
  /** Set once the VMA has anonymous pages (stands for vma->anon_vma). */
  anon_vma: object | null = null;
  /** A name for /proc/PID/maps when there is no file ("[heap]", "[stack]"). */
  name: string | null = null;
  /** The address space this VMA belongs to (vm_mm), as unmap_mapping_range needs it. */
  vm_mm: VmMm | null = null;

  /** Size in bytes. */
  get size(): number {
    return this.end - this.start;
  }

  /** File page offset of a virtual address inside this VMA (linear_page_index). */
  pgoffOf(addr: number): number {
    return this.pgoff + Math.floor((addr - this.start) / 4096);
  }

  /** vma_is_anonymous: no vm_ops (a private /dev/zero mapping keeps its file but is anonymous). */
  isAnonymous(): boolean {
    return this.vm_ops === null;
  }
}

/**
 * Loads and stores on real mappings without ever taking a signal in Node.
 *
 * An access is made with process_vm_readv/process_vm_writev on our own pid
 * (mm/process_vm_access.c): the kernel faults the pages in through GUP
 * (pin_user_pages_remote → handle_mm_fault) exactly as a CPU access would, but a
 * fault that would deliver SIGBUS — a file page beyond EOF (VM_FAULT_SIGBUS from
 * filemap_fault / shmem_fault), a hugetlb page the pool cannot supply
 * (hugetlb_no_page), a poisoned page — comes back as a short count or EFAULT
 * (vm_fault_to_errno). We then raise the uapi Signal the model raises
 * (mm/memory.c → arch/x86/mm/fault.c do_sigbus / bad_area): SIGBUS BUS_ADRERR at the
 * first byte not copied; SIGSEGV SEGV_MAPERR / SEGV_ACCERR are decided before the
 * access from the ranges this session mapped and their protections, so an address
 * we did not map is never touched at all.
 *
 * Faults are counted from the page tables: /proc/self/pagemap's present bit
 * (fs/proc/task_mmu.c pagemap_read) says whether the page was mapped before the
 * access; a first touch that makes a whole aligned 2 MiB block present at once
 * was a PMD (THP) fault, a hugetlb mapping's faults are at its page size.
 *
 * Known differences: a poisoned page reads as EFAULT through GUP (no FOLL_HWPOISON),
 * so it is reported as BUS_ADRERR, not BUS_MCEERR_AR; one access is split at page
 * boundaries (a CPU would too), and at most BOUNCE bytes are moved per call.
 */
import { Errno, isErrno } from '../lib/errno.ts';
import { BUS_ADRERR, BUS_MCEERR_AR, SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGSEGV, Signal } from '../uapi/signal.ts';
import { PROT_READ, PROT_WRITE } from '../uapi/mman.ts';
import * as libc from './libc.ts';

const PAGE = 4096;
const SZ_2M = 2 * 1024 * 1024;
const SZ_1G = 1024 * 1024 * 1024;
/** Bytes moved per process_vm_* call (the bounce buffer's size). */
export const BOUNCE = 1024 * 1024;

/** One range a pseudo-process mapped. */
export interface Mapping {
  start: number;
  end: number;
  prot: number;
  /** The page size faults are taken at: 4096, or a hugetlb page size. */
  pageSize: number;
}

/** The ranges one pseudo-process mapped (sorted, non-overlapping) and its faults by level. */
export class AddressSpace {
  readonly maps: Mapping[] = [];
  /** Faults by level [4K, 2M, 1G], as /proc/PID/model_faults shows them. */
  readonly faults = [0, 0, 0];
  constructor(readonly parent: AddressSpace | null = null) {}

  /** The mapping holding addr, here or in an ancestor (a pseudo-child shares the real address space). */
  lookup(addr: number): Mapping | undefined {
    const m = this.maps.find((m) => addr >= m.start && addr < m.end);
    return m ?? this.parent?.lookup(addr);
  }

  /** True when [start, end) lies wholly in this space's own mappings. */
  covers(start: number, end: number): boolean {
    let at = start;
    for (const m of this.maps) {
      if (m.end <= at) continue;
      if (m.start > at) return false;
      at = m.end;
      if (at >= end) return true;
    }
    return at >= end;
  }

  /** Record a new mapping. */
  insert(m: Mapping): void {
    this.remove(m.start, m.end);
    this.maps.push(m);
    this.maps.sort((a, b) => a.start - b.start);
  }

  /** Split mappings at start and end so that the range is made of whole records. */
  private carve(start: number, end: number): void {
    for (const at of [start, end]) {
      const i = this.maps.findIndex((m) => at > m.start && at < m.end);
      if (i < 0) continue;
      const m = this.maps[i]!;
      this.maps.splice(i, 1, { ...m, end: at }, { ...m, start: at });
    }
  }

  /** Forget [start, end); returns the pieces that were ours (to be unmapped for real). */
  remove(start: number, end: number): [number, number][] {
    this.carve(start, end);
    const gone: [number, number][] = [];
    for (let i = this.maps.length - 1; i >= 0; i--) {
      const m = this.maps[i]!;
      if (m.start >= start && m.end <= end) {
        gone.push([m.start, m.end]);
        this.maps.splice(i, 1);
      }
    }
    return gone.reverse();
  }

  /** Change the recorded protection of [start, end) (already checked to be ours). */
  setProt(start: number, end: number, prot: number): void {
    this.carve(start, end);
    for (const m of this.maps) if (m.start >= start && m.end <= end) m.prot = prot;
  }
}

/** The session-wide means of access: a bounce buffer and /proc/self/pagemap. */
export class MemoryAccess {
  private readonly bounce: number;
  private readonly pagemap: number;
  private readonly pid: number;
  /** A 2M block known to be mapped by PTEs (no THP fault can happen in it): saves two pagemap reads per fault. */
  private pteBlock = -1;
  constructor() {
    this.pid = libc.getpid();
    this.bounce = libc.mmap(0, BOUNCE, PROT_READ | PROT_WRITE, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
    this.pagemap = libc.open('/proc/self/pagemap', 0);
  }

  /** Forget what is known of the page tables (after munmap, madvise, mmap, mprotect, mremap). */
  invalidate(): void {
    this.pteBlock = -1;
  }

  /** Release the bounce buffer and the pagemap descriptor. */
  close(): void {
    libc.munmap(this.bounce, BOUNCE);
    libc.close(this.pagemap);
  }

  /** Pages of [addr, addr + n*4K) present in our page tables (pagemap bit 63). */
  presentCount(addr: number, pages: number): number {
    const b = libc.pread(this.pagemap, pages * 8, Math.floor(addr / PAGE) * 8);
    let c = 0;
    for (let i = 7; i < b.length; i += 8) if (b[i]! & 0x80) c++;
    return c;
  }

  /** load(2)-like read of [addr, addr+len) as `space`'s task. */
  load(space: AddressSpace, addr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.each(space, addr, len, false, (a, off, n) => {
      const moved = libc.processVm('read', this.pid, this.bounce, a, n);
      if (moved > 0) out.set(libc.peek(this.bounce, moved), off);
      return moved;
    });
    return out;
  }

  /** store(2)-like write of `data` at addr as `space`'s task. */
  store(space: AddressSpace, addr: number, data: Uint8Array): void {
    this.each(space, addr, data.length, true, (a, off, n) => {
      libc.poke(this.bounce, data.subarray(off, off + n));
      return libc.processVm('write', this.pid, this.bounce, a, n);
    });
  }

  /** Walk the access page by page: check, note presence, move, classify the outcome. */
  private each(space: AddressSpace, addr: number, len: number, write: boolean, move: (a: number, off: number, n: number) => number): void {
    for (let off = 0; off < len; ) {
      const a = addr + off;
      const m = space.lookup(a);
      if (!m) throw new Signal(SIGSEGV, SEGV_MAPERR, a);
      if (!(m.prot & (write ? PROT_WRITE : PROT_READ | PROT_WRITE))) throw new Signal(SIGSEGV, SEGV_ACCERR, a);
      const pageEnd = (Math.floor(a / m.pageSize) + 1) * m.pageSize;
      const n = Math.min(len - off, pageEnd - a, m.end - a, BOUNCE);
      const wasPresent = this.presentCount(a, 1) === 1;
      // A THP can only be installed where the whole aligned block was empty: note that first.
      const block = Math.floor(a / SZ_2M) * SZ_2M;
      const thpCandidate =
        !wasPresent && m.pageSize === PAGE && block !== this.pteBlock && block >= m.start && block + SZ_2M <= m.end && this.presentCount(block, 512) === 0;
      let moved: number;
      try {
        moved = move(a, off, n);
      } catch (e) {
        if (isErrno(e, 'EFAULT')) moved = 0;
        else if (isErrno(e, 'EHWPOISON')) throw new Signal(SIGBUS, BUS_MCEERR_AR, a, Math.log2(m.pageSize));
        else throw e;
      }
      if (moved < n) throw new Signal(SIGBUS, BUS_ADRERR, a + moved);
      if (!wasPresent) {
        if (m.pageSize >= SZ_1G) space.faults[2]!++;
        else if (m.pageSize >= SZ_2M) space.faults[1]!++;
        else if (thpCandidate && this.presentCount(block, 512) === 512) space.faults[1]!++;
        else {
          space.faults[0]!++;
          if (m.pageSize === PAGE) this.pteBlock = block;
        }
      }
      off += n;
    }
  }
}

/** The page size of a MAP_HUGETLB mapping from its flags (MAP_HUGE_SHIFT bits), or the default. */
export function hugetlbPageSize(flags: number, defaultSize: number): number {
  const shift = Math.floor(flags / 2 ** 26) & 0x3f;
  return shift ? 2 ** shift : defaultSize;
}

/** Throw `e` unless it is an Errno (so callers may map errors). */
export function rethrowUnlessErrno(e: unknown): asserts e is Errno {
  if (!(e instanceof Errno)) throw e;
}

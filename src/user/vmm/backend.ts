/**
 * Guest RAM the way QEMU's host memory backends get it (backends/hostmem.c,
 * hostmem-ram.c, hostmem-memfd.c, hostmem-file.c; system/physmem.c
 * file_ram_open, file_ram_alloc, qemu_ram_alloc_from_fd, ram_block_add;
 * util/mmap-alloc.c qemu_ram_mmap, qemu_fd_getpagesize; util/oslib-posix.c
 * qemu_prealloc_mem):
 *
 *   ram    anonymous memory, MAP_PRIVATE (MAP_SHARED with --share)
 *   memfd  memfd_create + ftruncate, MAP_SHARED; --hugetlb makes it a
 *          hugetlbfs memfd (MFD_HUGETLB, --hugetlbsize picks the hstate)
 *   file   --mem-path opened (created when missing, a temporary file when it is
 *          a directory, e.g. a hugetlbfs mount), sized with ftruncate only when
 *          empty (a /dev/daxN.M is sized from sysfs, see hostmem_fd.ts),
 *          MAP_SHARED with --share else MAP_PRIVATE
 *
 * Every mapping is placed as qemu_ram_mmap does: reserve size + align of
 * PROT_NONE, map the backend MAP_FIXED at the first aligned address, trim the
 * reservation and keep one PROT_NONE guard page after the block. Then, as
 * ram_block_add and host_memory_backend_memory_complete do: MADV_HUGEPAGE and
 * MADV_DONTFORK, MADV_MERGEABLE (mem-merge is on by default), mbind for
 * --host-nodes/--policy, and --prealloc last so pages land on the bound nodes.
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE, alignUp } from '../../lib/size.ts';
import { O_CREAT, O_EXCL, O_RDWR } from '../../uapi/fcntl.ts';
import {
  MADV_DONTFORK,
  MADV_HUGEPAGE,
  MADV_MERGEABLE,
  MADV_POPULATE_WRITE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MPOL_MF_MOVE,
  MPOL_MF_STRICT,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from '../../uapi/mman.ts';
import { Signal } from '../../uapi/signal.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import { writeStr } from '../program.ts';
import { getFileSize, qemuMemfdCreate } from './hostmem_fd.ts';
import { POLICIES, objectString, type StartOptions } from './options.ts';
import { VmmError, type Teardown } from './teardown.ts';

/** QEMU_VMALLOC_ALIGN on x86-64 Linux: anonymous guest RAM is 2 MiB aligned for THP. */
export const QEMU_VMALLOC_ALIGN = 2 * 1024 * 1024;
/** HUGETLBFS_MAGIC: qemu_fd_getpagesize takes f_bsize from hugetlbfs. */
const HUGETLBFS_MAGIC = 0x958458f6;
/** DMEMFS_MAGIC (the dmemfs series' include/uapi/linux/magic.h): treated like hugetlbfs. */
const DMEMFS_MAGIC = 0x2ace90c6;

/** A RAMBlock: where guest RAM is in the VMM and what backs it. */
export interface RamBlock {
  /** Host virtual address of guest physical address 0. */
  hva: number;
  /** Bytes of guest RAM (the memory slot's size). */
  size: number;
  /** Bytes mapped: size rounded up to the backend's page size. */
  mapped: number;
  /** The backend's page size (qemu_fd_getpagesize). */
  pageSize: number;
  /** The alignment the mapping was placed with. */
  align: number;
  /** The backend's fd, -1 for anonymous memory. */
  fd: number;
  /** MAP_SHARED or MAP_PRIVATE. */
  shared: boolean;
}

/** Errno text for a backend error. */
function errnoOf(e: unknown): Errno {
  if (e instanceof Errno) return e;
  throw e;
}

/** qemu_fd_getpagesize(): f_bsize on hugetlbfs (and dmemfs), else the base page size (a /dev/dax node lives on devtmpfs). */
function fdPageSize(sys: Syscalls, fd: number): number {
  if (fd < 0) return PAGE_SIZE;
  const st = sys.fstatfs(fd);
  return st.type === HUGETLBFS_MAGIC || st.type === DMEMFS_MAGIC ? st.bsize : PAGE_SIZE;
}

/**
 * qemu_ram_mmap(): reserve, map MAP_FIXED at an aligned address, trim, keep a
 * guard page. Returns the block's address; undo is munmap(ptr, size + guard).
 */
export function qemuRamMmap(sys: Syscalls, fd: number, size: number, align: number, shared: boolean, td: Teardown): number {
  const guard = PAGE_SIZE;
  let total = size + align;
  const guardptr = sys.mmap(0, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  const offset = alignUp(guardptr, align) - guardptr;
  let ptr: number;
  try {
    const flags = MAP_FIXED | (shared ? MAP_SHARED : MAP_PRIVATE) | (fd < 0 ? MAP_ANONYMOUS : 0);
    ptr = sys.mmap(guardptr + offset, size, PROT_READ | PROT_WRITE, flags, fd, 0);
  } catch (e) {
    sys.munmap(guardptr, total);
    throw e;
  }
  if (offset > 0) sys.munmap(guardptr, offset);
  total -= offset;
  if (total > size + guard) sys.munmap(ptr + size + guard, total - size - guard);
  td.push(() => sys.munmap(ptr, size + guard));
  return ptr;
}

/** file_ram_open(): open PATH, create it, or make a temporary file in the directory it names. */
function fileRamOpen(sys: Syscalls, o: StartOptions, td: Teardown, where: string): number {
  const path = o.memPath!;
  try {
    return sys.open(path, O_RDWR);
  } catch (e) {
    const err = errnoOf(e);
    if (err.code === 'ENOENT') {
      try {
        const fd = sys.open(path, O_RDWR | O_CREAT | O_EXCL, 0o644);
        // qemu_ram_alloc_from_file unlinks a file it created when the rest of the setup fails.
        td.push(() => sys.unlink(path));
        return fd;
      } catch (e2) {
        throw new VmmError(`can't open backing store ${path} for guest RAM: ${errnoOf(e2).strerror}`, where);
      }
    }
    if (err.code === 'EISDIR') {
      // mkstemp("PATH/qemu_back_mem.<region name>.XXXXXX") then unlink: the file lives as long as
      // the fd. The region name is the backend's id (use_canonical_path is off for current
      // machine types); mkstemp's six random characters are the pid in base 36 here.
      const tmp = `${path}/qemu_back_mem.${o.name}.${sys.getpid().toString(36).padStart(6, '0')}`;
      try {
        const fd = sys.open(tmp, O_RDWR | O_CREAT | O_EXCL, 0o600);
        sys.unlink(tmp);
        return fd;
      } catch (e2) {
        throw new VmmError(`can't open backing store ${path} for guest RAM: ${errnoOf(e2).strerror}`, where);
      }
    }
    throw new VmmError(`can't open backing store ${path} for guest RAM: ${err.strerror}`, where);
  }
}

/**
 * qemu_ram_alloc_from_fd() + file_ram_alloc(): the size checks against the
 * backing store (get_file_size, which knows device-dax), the page size and
 * alignment, ftruncate of an empty store, and qemu_ram_mmap. QEMU built
 * without libdaxctl has no get_file_align(): a device-dax alignment larger
 * than --align is only found by the kernel (check_vma's EINVAL).
 */
function ramAllocFromFd(sys: Syscalls, o: StartOptions, fd: number, shared: boolean, td: Teardown, where: string): RamBlock {
  const size = alignUp(o.memory, PAGE_SIZE);
  const fileSize = getFileSize(sys, fd);
  if (fileSize && fileSize < size) {
    throw new VmmError(`${o.name} backing store size 0x${fileSize.toString(16)} is too small for 'size' option 0x${size.toString(16)} plus 'offset' option 0x0`, where);
  }
  const pageSize = fdPageSize(sys, fd);
  if (o.align % pageSize) throw new VmmError(`alignment 0x${o.align.toString(16)} must be multiples of page size 0x${pageSize.toString(16)}`, where);
  const align = Math.max(pageSize, o.align);
  if (size < pageSize) throw new VmmError(`memory size 0x${size.toString(16)} must be equal to or larger than page size 0x${pageSize.toString(16)}`, where);
  const mapped = alignUp(size, pageSize);
  // Only an empty file is sized: extending or shrinking a non-empty one could corrupt its data.
  if (fileSize < size) {
    try {
      sys.ftruncate(fd, mapped);
    } catch (e) {
      writeStr(sys, 2, `ftruncate: ${errnoOf(e).strerror}\n`);
    }
  }
  let hva: number;
  try {
    hva = qemuRamMmap(sys, fd, mapped, align, shared, td);
  } catch (e) {
    throw new VmmError(`unable to map backing store for guest RAM: ${errnoOf(e).strerror}`, where);
  }
  return { hva, size, mapped, pageSize, align, fd, shared };
}

/** memory-backend-file: file_ram_open + qemu_ram_alloc_from_fd. */
function fileBackendAlloc(sys: Syscalls, o: StartOptions, td: Teardown, where: string): RamBlock {
  const fd = fileRamOpen(sys, o, td, where);
  td.push(() => sys.close(fd));
  return ramAllocFromFd(sys, o, fd, o.share, td, where);
}

/** memory-backend-memfd: qemu_memfd_create + qemu_ram_alloc_from_fd, shared (share=on is its default). */
function memfdBackendAlloc(sys: Syscalls, o: StartOptions, td: Teardown, where: string): RamBlock {
  // memfd_backend_set_hugetlbsize() refuses 0 when the property is set.
  if (o.text.hugetlbsize && o.hugetlbsize === 0) throw new VmmError("Property 'memory-backend-memfd.hugetlbsize' doesn't take value '0'", where);
  const fd = qemuMemfdCreate(sys, 'memory-backend-memfd', o.memory, o.hugetlb, o.hugetlbsize, where);
  td.push(() => sys.close(fd));
  return ramAllocFromFd(sys, o, fd, true, td, where);
}

/** memory-backend-ram: qemu_anon_ram_alloc. */
function ramBackendAlloc(sys: Syscalls, o: StartOptions, td: Teardown, where: string): RamBlock {
  const size = alignUp(o.memory, PAGE_SIZE);
  const align = Math.max(QEMU_VMALLOC_ALIGN, o.align);
  let hva: number;
  try {
    hva = qemuRamMmap(sys, -1, size, align, o.share, td);
  } catch (e) {
    throw new VmmError(`cannot set up guest memory '${o.name}': ${errnoOf(e).strerror}`, where);
  }
  return { hva, size, mapped: size, pageSize: PAGE_SIZE, align, fd: -1, shared: o.share };
}

/**
 * qemu_prealloc_mem(): MADV_POPULATE_WRITE when a probe on the first page says
 * it works, else touch one byte per backend page (reading it back for file
 * memory so nothing is overwritten). A SIGBUS while touching is caught, as
 * QEMU's handler does, and reported as EFAULT.
 */
function preallocMem(sys: Syscalls, b: RamBlock): void {
  let usePopulate = true;
  try {
    sys.madvise(b.hva, b.pageSize, MADV_POPULATE_WRITE);
  } catch (e) {
    if (errnoOf(e).code === 'EINVAL') usePopulate = false;
  }
  if (usePopulate) {
    sys.madvise(b.hva, b.mapped, MADV_POPULATE_WRITE);
    return;
  }
  const zero = new Uint8Array(1);
  try {
    for (let off = 0; off < b.mapped; off += b.pageSize) {
      const addr = b.hva + off;
      sys.store(addr, b.fd < 0 && !b.shared ? zero : sys.load(addr, 1));
    }
  } catch (e) {
    if (e instanceof Signal) throw new Errno('EFAULT');
    throw e;
  }
}

/**
 * host_memory_backend_memory_complete(): allocate the backend's memory and
 * apply the madvise, mbind and prealloc steps. Errors carry the -object text.
 */
export function hostMemoryBackendAlloc(sys: Syscalls, o: StartOptions, td: Teardown): RamBlock {
  const where = objectString(o);
  const b = o.backend === 'file' ? fileBackendAlloc(sys, o, td, where) : o.backend === 'memfd' ? memfdBackendAlloc(sys, o, td, where) : ramBackendAlloc(sys, o, td, where);
  // ram_block_add(): every RAM block gets these; QEMU ignores their errors.
  for (const advice of [MADV_HUGEPAGE, MADV_DONTFORK, MADV_MERGEABLE]) {
    try {
      sys.madvise(b.hva, b.mapped, advice);
    } catch (e) {
      errnoOf(e);
    }
  }
  if (o.hostNodes.length) {
    try {
      sys.mbind(b.hva, b.mapped, POLICIES[o.policy]!, o.hostNodes, MPOL_MF_STRICT | MPOL_MF_MOVE);
    } catch (e) {
      throw new VmmError(`cannot bind memory to host NUMA nodes: ${errnoOf(e).strerror}`, where);
    }
  }
  if (o.prealloc) {
    try {
      preallocMem(sys, b);
    } catch (e) {
      throw new VmmError(`qemu_prealloc_mem: preallocating memory failed: ${errnoOf(e).strerror}`, where);
    }
  }
  return b;
}

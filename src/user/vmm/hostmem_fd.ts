/**
 * What QEMU asks of a backend's file descriptor before mapping it:
 *
 *   qemu_memfd_create()  util/memfd.c: memfd_create(2) with MFD_HUGETLB and
 *                        the huge page size as log2 << MFD_HUGE_SHIFT
 *                        (include/uapi/linux/memfd.h), then ftruncate(2)
 *   get_file_size()      system/physmem.c: a character device whose
 *                        /sys/dev/char/MAJ:MIN/subsystem link ends in "/dax"
 *                        is sized by /sys/dev/char/MAJ:MIN/size; anything
 *                        else by lseek(fd, 0, SEEK_END)
 *
 * Known difference: QEMU then seals the memfd (F_ADD_SEALS with F_SEAL_GROW |
 * F_SEAL_SHRINK | F_SEAL_SEAL, "failed to add seals 0x%x"); the Syscalls
 * interface has no fcntl, so the memfd is created with MFD_ALLOW_SEALING, as
 * QEMU's is, but left unsealed.
 */
import { Errno } from '../../lib/errno.ts';
import { SEEK_END, S_ISCHR } from '../../uapi/fcntl.ts';
import { MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_HUGETLB } from '../../uapi/mman.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import { readAll } from '../program.ts';
import { VmmError } from './teardown.ts';

/** MFD_HUGE_SHIFT: the huge page size's log2 sits in memfd_create's flags from bit 26. */
export const MFD_HUGE_SHIFT = 26;

function errnoOf(e: unknown): Errno {
  if (e instanceof Errno) return e;
  throw e;
}

/** ctz64(): trailing zero bits of a positive integer below 2^64 (64 for 0). */
function ctz64(v: number): number {
  if (v === 0) return 64;
  let n = 0;
  while (v % 2 === 0) {
    v /= 2;
    n++;
  }
  return n;
}

/**
 * The memfd_create(2) flags QEMU passes: MFD_CLOEXEC, MFD_ALLOW_SEALING (the
 * backend seals by default), and for hugetlb MFD_HUGETLB | log2(size) << 26.
 * Throws QEMU's "Hugepage size must be a power of 2", checked even without hugetlb.
 */
export function memfdFlags(hugetlb: boolean, hugetlbsize: number, where: string): number {
  const htsize = hugetlbsize ? ctz64(hugetlbsize) : 0;
  if (htsize && 2 ** htsize !== hugetlbsize) throw new VmmError('Hugepage size must be a power of 2', where);
  let flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  // As an unsigned int: a 2^32 or larger page size sets bit 31 (QEMU's `htsize << MFD_HUGE_SHIFT`).
  if (hugetlb) flags = ((flags | MFD_HUGETLB) + (htsize % 64) * 2 ** MFD_HUGE_SHIFT) % 2 ** 32;
  return flags;
}

/** qemu_memfd_create(): the memfd of `size` bytes, or QEMU's error. */
export function qemuMemfdCreate(sys: Syscalls, name: string, size: number, hugetlb: boolean, hugetlbsize: number, where: string): number {
  const flags = memfdFlags(hugetlb, hugetlbsize, where);
  let fd: number;
  try {
    fd = sys.memfd_create(name, flags);
  } catch (e) {
    throw new VmmError(`failed to create memfd with flags 0x${flags.toString(16)}: ${errnoOf(e).strerror}`, where);
  }
  try {
    sys.ftruncate(fd, size);
  } catch (e) {
    sys.close(fd);
    throw new VmmError(`failed to resize memfd to ${size}: ${errnoOf(e).strerror}`, where);
  }
  return fd;
}

/** gnu_dev_major()/gnu_dev_minor() of a stat rdev (new_encode_dev layout). */
export function devMajorMinor(rdev: number): [number, number] {
  const major = Math.floor(rdev / 2 ** 8) % 2 ** 12;
  const minor = (rdev % 2 ** 8) + (Math.floor(rdev / 2 ** 20) % 2 ** 12) * 2 ** 8;
  return [major, minor];
}

/** g_ascii_strtoll(text, NULL, 0): leading blanks, a sign, 0x hex or 0 octal or decimal; 0 when none. */
function strtoll0(text: string): number {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(text);
  if (!m) return 0;
  const digits = m[2]!;
  const v = /^0[xX]/.test(digits) ? parseInt(digits.slice(2), 16) : digits.length > 1 && digits.startsWith('0') ? parseInt(digits, 8) : Number(digits);
  return m[1] === '-' ? -v : v;
}

/** g_file_get_contents(): the whole file, or null on any error. */
function fileContents(sys: Syscalls, path: string): string | null {
  let fd: number;
  try {
    fd = sys.open(path, 0);
  } catch (e) {
    errnoOf(e);
    return null;
  }
  try {
    return readAll(sys, fd);
  } catch (e) {
    errnoOf(e);
    return null;
  } finally {
    sys.close(fd);
  }
}

/** get_file_size(): bytes of the backing store, -errno on failure. */
export function getFileSize(sys: Syscalls, fd: number): number {
  let st;
  try {
    st = sys.fstat(fd);
  } catch (e) {
    return -errnoOf(e).errno;
  }
  // Special handling for devdax character devices.
  if (S_ISCHR(st.mode)) {
    const [major, minor] = devMajorMinor(st.rdev);
    let subsystem: string | null = null;
    try {
      subsystem = sys.readlink(`/sys/dev/char/${major}:${minor}/subsystem`);
    } catch (e) {
      errnoOf(e);
    }
    if (subsystem !== null && subsystem.endsWith('/dax')) {
      const size = fileContents(sys, `/sys/dev/char/${major}:${minor}/size`);
      if (size !== null) return strtoll0(size);
    }
  }
  // st.st_size may be zero for special files yet lseek(2) works.
  try {
    return sys.lseek(fd, 0, SEEK_END);
  } catch (e) {
    return -errnoOf(e).errno;
  }
}

/**
 * Error numbers as Linux defines them (include/uapi/asm-generic/errno-base.h,
 * errno.h) with glibc's strerror text, and the exception syscalls throw.
 */

/** errno name → [number, strerror text]. */
const TABLE = {
  EPERM: [1, 'Operation not permitted'],
  ENOENT: [2, 'No such file or directory'],
  ESRCH: [3, 'No such process'],
  EINTR: [4, 'Interrupted system call'],
  EIO: [5, 'Input/output error'],
  ENXIO: [6, 'No such device or address'],
  E2BIG: [7, 'Argument list too long'],
  ENOEXEC: [8, 'Exec format error'],
  EBADF: [9, 'Bad file descriptor'],
  ECHILD: [10, 'No child processes'],
  EAGAIN: [11, 'Resource temporarily unavailable'],
  ENOMEM: [12, 'Cannot allocate memory'],
  EACCES: [13, 'Permission denied'],
  EFAULT: [14, 'Bad address'],
  ENOTBLK: [15, 'Block device required'],
  EBUSY: [16, 'Device or resource busy'],
  EEXIST: [17, 'File exists'],
  EXDEV: [18, 'Invalid cross-device link'],
  ENODEV: [19, 'No such device'],
  ENOTDIR: [20, 'Not a directory'],
  EISDIR: [21, 'Is a directory'],
  EINVAL: [22, 'Invalid argument'],
  ENFILE: [23, 'Too many open files in system'],
  EMFILE: [24, 'Too many open files'],
  ENOTTY: [25, 'Inappropriate ioctl for device'],
  ETXTBSY: [26, 'Text file busy'],
  EFBIG: [27, 'File too large'],
  ENOSPC: [28, 'No space left on device'],
  ESPIPE: [29, 'Illegal seek'],
  EROFS: [30, 'Read-only file system'],
  EMLINK: [31, 'Too many links'],
  EPIPE: [32, 'Broken pipe'],
  EDOM: [33, 'Numerical argument out of domain'],
  ERANGE: [34, 'Numerical result out of range'],
  EDEADLK: [35, 'Resource deadlock avoided'],
  ENAMETOOLONG: [36, 'File name too long'],
  ENOLCK: [37, 'No locks available'],
  ENOSYS: [38, 'Function not implemented'],
  ENOTEMPTY: [39, 'Directory not empty'],
  ELOOP: [40, 'Too many levels of symbolic links'],
  ENODATA: [61, 'No data available'],
  EOVERFLOW: [75, 'Value too large for defined data type'],
  EOPNOTSUPP: [95, 'Operation not supported'],
  EADDRINUSE: [98, 'Address already in use'],
  ETIMEDOUT: [110, 'Connection timed out'],
  EHWPOISON: [133, 'Memory page has hardware error'],
} as const satisfies Record<string, readonly [number, string]>;

/** The name of an errno, e.g. `'EINVAL'`. */
export type ErrnoName = keyof typeof TABLE;

/** A failed system call: carries the kernel's errno name, number and strerror text. */
export class Errno extends Error {
  readonly code: ErrnoName;
  readonly errno: number;
  readonly strerror: string;
  constructor(code: ErrnoName, detail?: string) {
    const [num, text] = TABLE[code];
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'Errno';
    this.code = code;
    this.errno = num;
    this.strerror = text;
  }
}

/** The errno number for a name. */
export function errnoNumber(code: ErrnoName): number {
  return TABLE[code][0];
}

/** glibc's strerror text for a name. */
export function strerror(code: ErrnoName): string {
  return TABLE[code][1];
}

/** The name for an errno number, or undefined. */
export function errnoName(num: number): ErrnoName | undefined {
  for (const [name, [n]] of Object.entries(TABLE)) if (n === num) return name as ErrnoName;
  return undefined;
}

/** True when `e` is an Errno, optionally of the given name. */
export function isErrno(e: unknown, code?: ErrnoName): e is Errno {
  return e instanceof Errno && (code === undefined || e.code === code);
}

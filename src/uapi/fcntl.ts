/** open(2), lseek(2), fallocate(2) and stat(2) constants (x86-64 values). */

export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_ACCMODE = 0o3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;

export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;

export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_NO_HIDE_STALE = 0x04;
export const FALLOC_FL_COLLAPSE_RANGE = 0x08;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const FALLOC_FL_INSERT_RANGE = 0x20;

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** True when `mode` is a directory. */
export const S_ISDIR = (mode: number): boolean => (mode & S_IFMT) === S_IFDIR;
/** True when `mode` is a regular file. */
export const S_ISREG = (mode: number): boolean => (mode & S_IFMT) === S_IFREG;
/** True when `mode` is a character device. */
export const S_ISCHR = (mode: number): boolean => (mode & S_IFMT) === S_IFCHR;

export const DT_UNKNOWN = 0;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_REG = 8;
export const DT_LNK = 10;

/** struct stat as user space sees it (times in virtual nanoseconds). */
export interface Stat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  /** 512-byte blocks allocated. */
  blocks: number;
  atimeNs: number;
  mtimeNs: number;
  ctimeNs: number;
}

/** struct statfs. */
export interface Statfs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namelen: number;
  frsize: number;
  flags: number;
}

/** One getdents64 record. */
export interface Dirent {
  ino: number;
  type: number;
  name: string;
}

/** Filesystem magic numbers (include/uapi/linux/magic.h). */
export const TMPFS_MAGIC = 0x01021994;
export const PROC_SUPER_MAGIC = 0x9fa0;
export const SYSFS_MAGIC = 0x62656572;
export const DEBUGFS_MAGIC = 0x64626720;
export const DEVTMPFS_MAGIC = 0x01021994;

/** mount(2) flags. */
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
/** umount2(2) flags. */
export const MNT_FORCE = 1;
export const MNT_DETACH = 2;

/**
 * libdaxctl's context and its sysfs access (pmem/ndctl daxctl/lib/libdaxctl.c
 * struct daxctl_ctx, util/sysfs.c, util/log.c): attribute reads and writes that
 * return -errno as the library does, readdir, realpath, and the library's log
 * (`libdaxctl: FUNCTION: message` on stderr at LOG_ERR, the default priority).
 *
 * realpath(3) is built from chdir + getcwd (the Syscalls interface has no
 * readlink): getcwd returns the physical path, as Linux's does.
 */
import { Errno, errnoName, strerror as strerrorName } from '../../lib/errno.ts';
import { O_DIRECTORY, O_RDONLY, O_WRONLY } from '../../uapi/fcntl.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import { writeStr } from '../program.ts';

/** syslog priorities the library compares against. */
export const LOG_ERR = 3;
export const LOG_DEBUG = 7;

/** strerror(3) of a positive errno number. */
export function strerror(errnum: number): string {
  const name = errnoName(errnum);
  return name ? strerrorName(name) : `Unknown error ${errnum}`;
}

/** The errno a failed system call carries (EIO for anything else). */
function errnoOf(e: unknown): number {
  if (e instanceof Errno) return e.errno;
  throw e;
}

/** SYSFS_ATTR_SIZE: reads of this many bytes or more fail. */
const SYSFS_ATTR_SIZE = 1024;

/** struct daxctl_ctx: the process's view of the system and the library's log. */
export class DaxctlCtx {
  logPriority = LOG_ERR;
  /** errno of the last failed call (for messages that print strerror(errno)). */
  errno = 0;

  constructor(readonly sys: Syscalls) {}

  /** err(ctx, ...): `libdaxctl: FN: MSG` on stderr. */
  err(fn: string, msg: string): void {
    if (this.logPriority >= LOG_ERR) writeStr(this.sys, 2, `libdaxctl: ${fn}: ${msg}`);
  }

  /** __sysfs_read_attr(): the attribute without its trailing newline, or -errno. */
  readAttr(path: string): string | number {
    let fd: number;
    try {
      fd = this.sys.open(path, O_RDONLY);
    } catch (e) {
      this.errno = errnoOf(e);
      return -this.errno;
    }
    let buf: Uint8Array;
    try {
      buf = this.sys.read(fd, SYSFS_ATTR_SIZE);
    } catch (e) {
      this.errno = errnoOf(e);
      return -this.errno;
    } finally {
      this.sys.close(fd);
    }
    let s = new TextDecoder().decode(buf);
    if (s.endsWith('\n')) s = s.slice(0, -1);
    return s;
  }

  /** write_attr(): 0, or -errno of the failed open or write. */
  writeAttr(path: string, buf: string): number {
    let fd: number;
    try {
      fd = this.sys.open(path, O_WRONLY);
    } catch (e) {
      this.errno = errnoOf(e);
      return -this.errno;
    }
    try {
      this.sys.write(fd, buf);
    } catch (e) {
      this.errno = errnoOf(e);
      return -this.errno;
    } finally {
      this.sys.close(fd);
    }
    return 0;
  }

  /** opendir + readdir: the entry names (without . and ..), or null when it cannot be opened. */
  readdir(path: string): string[] | null {
    let fd: number;
    try {
      fd = this.sys.open(path, O_RDONLY | O_DIRECTORY);
    } catch (e) {
      this.errno = errnoOf(e);
      return null;
    }
    try {
      return this.sys.getdents(fd).map((d) => d.name).filter((n) => n !== '.' && n !== '..');
    } finally {
      this.sys.close(fd);
    }
  }

  /** realpath(3) of a directory (or a symlink to one), or null. */
  realpath(path: string): string | null {
    const cwd = this.sys.getcwd();
    try {
      this.sys.chdir(path);
      return this.sys.getcwd();
    } catch (e) {
      this.errno = errnoOf(e);
      return null;
    } finally {
      this.sys.chdir(cwd);
    }
  }

  /** lstat(2) mode, or null. */
  lstatMode(path: string): number | null {
    try {
      return this.sys.lstat(path).mode;
    } catch (e) {
      this.errno = errnoOf(e);
      return null;
    }
  }

  /** stat(2) of a device node: [major, minor], or null. */
  statRdev(path: string): { rdev: number } | null {
    try {
      return { rdev: this.sys.stat(path).rdev };
    } catch (e) {
      this.errno = errnoOf(e);
      return null;
    }
  }
}

/** strtoull(buf, NULL, base): the leading number (0 when none), C's prefix rules for base 0. */
export function strtoull(buf: string, base: 0 | 10 | 16): number {
  const t = buf.trimStart();
  const hex = /^0[xX]([0-9a-fA-F]+)/.exec(t);
  if ((base === 0 || base === 16) && hex) return parseInt(hex[1]!, 16);
  if (base === 16) {
    const m = /^[0-9a-fA-F]+/.exec(t);
    return m ? parseInt(m[0], 16) : 0;
  }
  const oct = /^0([0-7]+)/.exec(t);
  if (base === 0 && oct) return parseInt(oct[1]!, 8);
  const dec = /^-?\d+/.exec(t);
  return dec ? parseInt(dec[0], 10) : 0;
}

/** C's `%#llx`: 0x-prefixed hex, plain `0` for zero. */
export function hexAlt(n: number): string {
  return n === 0 ? '0' : `0x${n.toString(16)}`;
}

/** devpath_to_devname(): the last path component. */
export function devpathToDevname(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Character device registration and device numbers (fs/char_dev.c:
 * register_chrdev, chrdev_open, chrdev_show; fs/inode.c init_special_inode;
 * include/linux/kdev_t.h MKDEV, new_encode_dev).
 */
import { Errno } from '../../../lib/errno.ts';
import { S_IFMT, S_IFCHR, S_IFIFO } from '../../../uapi/fcntl.ts';
import type { File } from './file.ts';
import type { FileOperations, Inode } from './inode.ts';

/** Bits of minor number in a kernel dev_t. */
export const MINORBITS = 20;
const MINOR_SPAN = 2 ** MINORBITS;

/** MKDEV(): a kernel dev_t. */
export function MKDEV(major: number, minor: number): number {
  return major * MINOR_SPAN + minor;
}

/** MAJOR(). */
export function MAJOR(dev: number): number {
  return Math.floor(dev / MINOR_SPAN);
}

/** MINOR(). */
export function MINOR(dev: number): number {
  return dev % MINOR_SPAN;
}

/** new_encode_dev(): the dev_t user space sees in st_dev / st_rdev. */
export function new_encode_dev(dev: number): number {
  const major = MAJOR(dev);
  const minor = MINOR(dev);
  return (minor % 256) + major * 256 + Math.floor(minor / 256) * 2 ** 20;
}

/** Dynamic majors are handed out from 254 down to 234 (CHRDEV_MAJOR_DYN_END..). */
const CHRDEV_MAJOR_DYN_START = 254;
const CHRDEV_MAJOR_DYN_END = 234;
/** Largest major (CHRDEV_MAJOR_MAX). */
const CHRDEV_MAJOR_MAX = 512;

/** One registered driver: a major and the minors it serves. */
interface CharDevice {
  major: number;
  baseminor: number;
  count: number;
  name: string;
  fops: FileOperations;
}

/** The character-device table (chrdevs[] plus the cdev map). */
export class CharDevices {
  private readonly devs: CharDevice[] = [];

  /**
   * register_chrdev(): serve minors 0..255 of `major` with `fops` (major 0 picks a
   * free dynamic major). Returns the major; EBUSY if taken, EINVAL if out of range.
   */
  register_chrdev(major: number, name: string, fops: FileOperations): number {
    return this.register_chrdev_region(major, 0, 256, name, fops);
  }

  /** __register_chrdev(): serve minors [baseminor, baseminor+count) of `major`. */
  register_chrdev_region(major: number, baseminor: number, count: number, name: string, fops: FileOperations): number {
    if (major >= CHRDEV_MAJOR_MAX) throw new Errno('EINVAL');
    let m = major;
    if (m === 0) {
      m = 0;
      for (let c = CHRDEV_MAJOR_DYN_START; c >= CHRDEV_MAJOR_DYN_END; c--) {
        if (!this.devs.some((d) => d.major === c)) {
          m = c;
          break;
        }
      }
      if (m === 0) throw new Errno('EBUSY');
    }
    const overlap = this.devs.some(
      (d) => d.major === m && baseminor < d.baseminor + d.count && d.baseminor < baseminor + count,
    );
    if (overlap) throw new Errno('EBUSY');
    this.devs.push({ major: m, baseminor, count, name, fops });
    this.devs.sort((a, b) => a.major - b.major || a.baseminor - b.baseminor);
    return m;
  }

  /** unregister_chrdev(). */
  unregister_chrdev(major: number, name: string): void {
    const i = this.devs.findIndex((d) => d.major === major && d.name === name);
    if (i >= 0) this.devs.splice(i, 1);
  }

  /** kobj_lookup(): the driver for a dev_t, if any. */
  lookup(rdev: number): FileOperations | undefined {
    const major = MAJOR(rdev);
    const minor = MINOR(rdev);
    return this.devs.find((d) => d.major === major && minor >= d.baseminor && minor < d.baseminor + d.count)?.fops;
  }

  /** The "Character devices:" half of /proc/devices (chrdev_show). */
  chrdev_show(): string {
    const seen = new Set<string>();
    let out = 'Character devices:\n';
    for (const d of this.devs) {
      const key = `${d.major} ${d.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out += `${String(d.major).padStart(3, ' ')} ${d.name}\n`;
    }
    return out;
  }

  /** def_chr_fops: opening a device inode finds its driver (chrdev_open), else ENXIO. */
  readonly def_chr_fops: FileOperations = {
    open: (inode: Inode, file: File): void => {
      const fops = this.lookup(inode.i_rdev);
      if (!fops) throw new Errno('ENXIO');
      file.f_op = fops;
      fops.open?.(inode, file);
    },
  };

  /** init_special_inode(): make `inode` a device node served by this table. */
  init_special_inode(inode: Inode, mode: number, rdev: number): void {
    inode.i_mode = mode;
    if ((mode & S_IFMT) === S_IFCHR) {
      inode.i_fop = this.def_chr_fops;
      inode.i_rdev = rdev;
    } else if ((mode & S_IFMT) !== S_IFIFO) {
      throw new Errno('EINVAL');
    }
  }
}

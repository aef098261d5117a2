/**
 * Misc character devices, major 10 (drivers/char/misc.c: misc_register,
 * misc_open): one chrdev major whose open picks the driver by minor, and a
 * devtmpfs node per device. /dev/kvm (10:232) and /dev/vfio/vfio (10:196) live here.
 */
import { Errno } from '../../../lib/errno.ts';
import { MINOR, MKDEV } from '../vfs/char_dev.ts';
import type { File } from '../vfs/file.ts';
import type { FileOperations, Inode } from '../vfs/inode.ts';
import type { Devtmpfs } from './devtmpfs.ts';

/** MISC_MAJOR. */
export const MISC_MAJOR = 10;
/** Fixed minors (include/linux/miscdevice.h). */
export const KVM_MINOR = 232;
export const VFIO_MINOR = 196;

/** struct miscdevice. */
export interface MiscDevice {
  minor: number;
  /** The node's name under /dev ("kvm", "vfio/vfio"). */
  name: string;
  fops: FileOperations;
  /** Node permissions; 0600 by default as devtmpfs creates them. */
  mode?: number;
}

/** The misc devices of each host (keyed by its devtmpfs, so hosts stay apart). */
const registries = new WeakMap<Devtmpfs, Map<number, MiscDevice>>();

/** misc_register(): EBUSY when the minor is taken; registers major 10 on first use (misc_init). */
export function misc_register(devtmpfs: Devtmpfs, dev: MiscDevice): void {
  let devs = registries.get(devtmpfs);
  if (!devs) {
    const table = new Map<number, MiscDevice>();
    devs = table;
    const misc_fops: FileOperations = {
      // misc_open(): the minor's fops replace ours, then its open runs.
      open(inode: Inode, file: File): void {
        const d = table.get(MINOR(inode.i_rdev));
        if (!d) throw new Errno('ENODEV');
        file.f_op = d.fops;
        d.fops.open?.(inode, file);
      },
    };
    devtmpfs.shmem.vfs.chrdevs.register_chrdev(MISC_MAJOR, 'misc', misc_fops);
    registries.set(devtmpfs, table);
  }
  if (devs.has(dev.minor)) throw new Errno('EBUSY');
  devs.set(dev.minor, dev);
  devtmpfs.devtmpfs_create_node(dev.name, dev.mode ?? 0o600, MKDEV(MISC_MAJOR, dev.minor));
}

/** misc_deregister(). */
export function misc_deregister(devtmpfs: Devtmpfs, minor: number): void {
  const d = registries.get(devtmpfs)?.get(minor);
  if (!d) return;
  registries.get(devtmpfs)!.delete(minor);
  devtmpfs.devtmpfs_delete_node(d.name);
}

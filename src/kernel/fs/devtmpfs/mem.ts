/**
 * The memory character devices, major 1 (drivers/char/mem.c: memory_open,
 * read_null/write_null, read_iter_zero, mmap_zero, write_full, null_lseek).
 */
import { Errno } from '../../../lib/errno.ts';
import { VM_SHARED, type VmArea } from '../../mm/vm_area.ts';
import { MKDEV, MINOR } from '../vfs/char_dev.ts';
import type { File } from '../vfs/file.ts';
import type { FileOperations, Inode } from '../vfs/inode.ts';
import type { ShmemFs } from '../tmpfs/shmem.ts';
import type { Devtmpfs } from './devtmpfs.ts';

/** MEM_MAJOR. */
export const MEM_MAJOR = 1;

const EMPTY = new Uint8Array(0);

/** null_lseek(): every seek lands at 0. */
function null_lseek(file: File): number {
  file.f_pos = 0;
  return 0;
}

/** /dev/null: reads are end of file, writes vanish. */
export const null_fops: FileOperations = {
  read: () => EMPTY,
  write: (_f, data) => data.length,
  llseek: null_lseek,
};

/** /dev/zero's operations; mmap needs tmpfs for MAP_SHARED. */
export function zero_fops(shmem: ShmemFs): FileOperations {
  return {
    read: (_f, count) => new Uint8Array(count),
    write: (_f, data) => data.length,
    llseek: null_lseek,
    /**
     * mmap_zero(): MAP_SHARED becomes shared anonymous memory (shmem_zero_setup);
     * MAP_PRIVATE becomes anonymous memory (vma_set_anonymous: no vm_ops; the VMA
     * keeps /dev/zero as its file, as in Linux).
     */
    mmap(_file: File, vma: VmArea): void {
      if (vma.flags & VM_SHARED) shmem.shmem_zero_setup(vma);
      else vma.vm_ops = null;
    },
  };
}

/** /dev/full: reads zeros, writes fail with ENOSPC. */
export const full_fops: FileOperations = {
  read: (_f, count) => new Uint8Array(count),
  write: () => {
    throw new Errno('ENOSPC');
  },
  llseek: null_lseek,
};

/**
 * register_mem_devices(): chrdev major 1 ("mem") and the nodes /dev/null (1:3),
 * /dev/zero (1:5), /dev/full (1:7), mode 0666, as chr_dev_init does.
 */
export function register_mem_devices(shmem: ShmemFs, devtmpfs: Devtmpfs): void {
  const devlist = new Map<number, { name: string; fops: FileOperations }>([
    [3, { name: 'null', fops: null_fops }],
    [5, { name: 'zero', fops: zero_fops(shmem) }],
    [7, { name: 'full', fops: full_fops }],
  ]);
  const memory_fops: FileOperations = {
    // memory_open(): pick the minor's operations.
    open(inode: Inode, file: File): void {
      const dev = devlist.get(MINOR(inode.i_rdev));
      if (!dev) throw new Errno('ENXIO');
      file.f_op = dev.fops;
      dev.fops.open?.(inode, file);
    },
  };
  shmem.vfs.chrdevs.register_chrdev(MEM_MAJOR, 'mem', memory_fops);
  for (const [minor, { name }] of devlist) devtmpfs.devtmpfs_create_node(name, 0o666, MKDEV(MEM_MAJOR, minor));
}

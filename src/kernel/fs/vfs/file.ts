/**
 * struct file and its reference count (include/linux/fs.h, fs/file_table.c
 * fput/__fput, fs/open.c do_dentry_open f_mode).
 */
import type { MappedFile } from '../../mm/vm_area.ts';
import { O_ACCMODE } from '../../../uapi/fcntl.ts';
import type { Dentry } from './dcache.ts';
import { iput_final, type FileOperations, type Inode } from './inode.ts';
import { mntget, mntput, type Mount, type Path } from './mount.ts';

/** f_mode bits (include/linux/fs.h). */
export const FMODE_READ = 0x1;
export const FMODE_WRITE = 0x2;
export const FMODE_LSEEK = 0x4;
export const FMODE_PREAD = 0x8;
export const FMODE_PWRITE = 0x10;
/** Opened with O_CREAT and the file did not exist. */
export const FMODE_CREATED = 0x100000;
/** f_op has a read / write method (set after ->open). */
export const FMODE_CAN_READ = 0x20000;
export const FMODE_CAN_WRITE = 0x40000;

/** OPEN_FMODE(): O_RDONLY → READ, O_WRONLY → WRITE, O_RDWR → both, 3 → neither. */
export function OPEN_FMODE(flags: number): number {
  return ((flags & O_ACCMODE) + 1) & O_ACCMODE;
}

/** struct file. The mm takes a reference (get) for each VMA mapping it and drops it (fput) at unmap. */
export class File implements MappedFile {
  f_pos = 0;
  f_mode: number;
  f_op: FileOperations;
  readonly f_path: Path;
  readonly f_inode: Inode;
  private_data: unknown = null;
  /** Reference count (f_count). */
  f_count = 1;

  constructor(
    path: Path,
    inode: Inode,
    public f_flags: number,
    fop: FileOperations,
  ) {
    this.f_path = path;
    this.f_inode = inode;
    this.f_op = fop;
    this.f_mode = OPEN_FMODE(f_flags) | FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
    mntget(path.mnt);
    inode.i_openers++;
  }

  /** f_mapping: the inode's page cache (file->f_mapping = inode->i_mapping). */
  get f_mapping() {
    return this.f_inode.i_mapping;
  }

  /** The dentry this file was opened through. */
  get f_dentry(): Dentry {
    return this.f_path.dentry;
  }

  /** The mount this file was opened through. */
  get f_mnt(): Mount {
    return this.f_path.mnt;
  }

  /** get_file(): take a reference. */
  get(): this {
    if (this.f_count <= 0) throw new Error('get() on a released file');
    this.f_count++;
    return this;
  }

  /** put_filp(): undo a file whose ->open failed (no ->release). */
  discard(): void {
    this.f_count = 0;
    this.f_inode.i_openers--;
    iput_final(this.f_inode);
    mntput(this.f_path.mnt);
  }

  /** fput(): drop a reference; the last one releases the file (__fput). */
  fput(): void {
    if (this.f_count <= 0) throw new Error('fput() on a released file');
    if (--this.f_count > 0) return;
    this.f_op.release?.(this.f_inode, this);
    this.f_inode.i_openers--;
    iput_final(this.f_inode);
    mntput(this.f_path.mnt);
  }
}

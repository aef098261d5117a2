/**
 * read(2), write(2), pread64(2), pwrite64(2) and lseek(2) (fs/read_write.c:
 * vfs_read, vfs_write, rw_verify_area, ksys_pread64, ksys_lseek, vfs_llseek,
 * generic_file_llseek_size, vfs_setpos).
 */
import { Errno } from '../../../lib/errno.ts';
import { O_APPEND, SEEK_CUR, SEEK_END, SEEK_SET } from '../../../uapi/fcntl.ts';
import { File, FMODE_CAN_READ, FMODE_CAN_WRITE, FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE, FMODE_READ, FMODE_WRITE } from './file.ts';
import { current_time, type Loff } from './inode.ts';
import { MNT_NOATIME, MNT_RELATIME } from './mount.ts';

/** SEEK_DATA / SEEK_HOLE (not in uapi/fcntl.ts); SEEK_MAX is SEEK_HOLE. */
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;
const SEEK_MAX = SEEK_HOLE;

/** Largest single read or write (MAX_RW_COUNT = INT_MAX & PAGE_MASK). */
export const MAX_RW_COUNT = 0x7ffff000;

/** rw_verify_area(): a negative position or a wrap is EINVAL; the count is clamped. */
function rw_verify_area(pos: number, count: number): number {
  if (count < 0) throw new Errno('EINVAL');
  if (pos < 0 || !Number.isSafeInteger(pos + count)) throw new Errno('EINVAL');
  return Math.min(count, MAX_RW_COUNT);
}

/** vfs_read(): EBADF unless open for reading, EINVAL if the file cannot be read. */
export function vfs_read(file: File, count: number, ppos: Loff): Uint8Array {
  if (!(file.f_mode & FMODE_READ)) throw new Errno('EBADF');
  if (!(file.f_mode & FMODE_CAN_READ)) throw new Errno('EINVAL');
  const n = rw_verify_area(ppos.pos, count);
  return file.f_op.read!(file, n, ppos);
}

/** vfs_write(): EBADF unless open for writing, EINVAL if the file cannot be written. */
export function vfs_write(file: File, data: Uint8Array, ppos: Loff): number {
  if (!(file.f_mode & FMODE_WRITE)) throw new Errno('EBADF');
  if (!(file.f_mode & FMODE_CAN_WRITE)) throw new Errno('EINVAL');
  const n = rw_verify_area(ppos.pos, data.length);
  return file.f_op.write!(file, n < data.length ? data.subarray(0, n) : data, ppos);
}

/** ksys_read(): read at and advance f_pos. */
export function ksys_read(file: File, count: number): Uint8Array {
  const ppos = { pos: file.f_pos };
  const out = vfs_read(file, count, ppos);
  file.f_pos = ppos.pos;
  return out;
}

/** ksys_write(): write at (or, with O_APPEND, past) f_pos and advance it. */
export function ksys_write(file: File, data: Uint8Array): number {
  const ppos = { pos: file.f_pos };
  const n = vfs_write(file, data, ppos);
  file.f_pos = ppos.pos;
  return n;
}

/** ksys_pread64(): EINVAL for a negative offset, ESPIPE on a stream. */
export function ksys_pread64(file: File, count: number, pos: number): Uint8Array {
  if (pos < 0) throw new Errno('EINVAL');
  if (!(file.f_mode & FMODE_PREAD)) throw new Errno('ESPIPE');
  return vfs_read(file, count, { pos });
}

/** ksys_pwrite64(). */
export function ksys_pwrite64(file: File, data: Uint8Array, pos: number): number {
  if (pos < 0) throw new Errno('EINVAL');
  if (!(file.f_mode & FMODE_PWRITE)) throw new Errno('ESPIPE');
  return vfs_write(file, data, { pos });
}

/** vfs_setpos(): EINVAL for a negative position or one past `maxsize`. */
export function vfs_setpos(file: File, offset: number, maxsize: number): number {
  if (offset < 0 || offset > maxsize) throw new Errno('EINVAL');
  file.f_pos = offset;
  return offset;
}

/** generic_file_llseek_size(). */
export function generic_file_llseek_size(file: File, offset: number, whence: number, maxsize: number, eof: number): number {
  switch (whence) {
    case SEEK_SET:
      return vfs_setpos(file, offset, maxsize);
    case SEEK_END:
      return vfs_setpos(file, offset + eof, maxsize);
    case SEEK_CUR:
      if (offset === 0) return file.f_pos;
      return vfs_setpos(file, file.f_pos + offset, maxsize);
    case SEEK_DATA:
      if (offset < 0 || offset >= eof) throw new Errno('ENXIO');
      return vfs_setpos(file, offset, maxsize);
    case SEEK_HOLE:
      if (offset < 0 || offset >= eof) throw new Errno('ENXIO');
      return vfs_setpos(file, eof, maxsize);
    default:
      throw new Errno('EINVAL');
  }
}

/** generic_file_llseek(): against i_size and the superblock's s_maxbytes. */
export function generic_file_llseek(file: File, offset: number, whence: number): number {
  const inode = file.f_inode;
  return generic_file_llseek_size(file, offset, whence, inode.i_sb.s_maxbytes, inode.i_size);
}

/** ksys_lseek(): EINVAL for an unknown whence, ESPIPE on a stream. */
export function ksys_lseek(file: File, offset: number, whence: number): number {
  if (!Number.isInteger(whence) || whence < 0 || whence > SEEK_MAX) throw new Errno('EINVAL');
  if (!(file.f_mode & FMODE_LSEEK)) throw new Errno('ESPIPE');
  return (file.f_op.llseek ?? generic_file_llseek)(file, offset, whence);
}

const DAY_NS = 24 * 3600 * 1e9;

/**
 * generic_write_checks() + file_update_time(): where a write of `len` bytes
 * starts (EOF with O_APPEND) and how many bytes fit below s_maxbytes (EFBIG when
 * none); null for an empty write, which changes nothing.
 */
export function generic_write_checks(file: File, len: number, ppos: Loff): { pos: number; count: number } | null {
  const inode = file.f_inode;
  const pos = file.f_flags & O_APPEND ? inode.i_size : ppos.pos;
  if (len === 0) return null;
  const limit = inode.i_sb.s_maxbytes;
  if (pos >= limit) throw new Errno('EFBIG');
  inode.i_mtime = inode.i_ctime = current_time(inode);
  return { pos, count: Math.min(len, limit - pos) };
}

/**
 * touch_atime() under relatime (the default mount option): update atime only if
 * it is not newer than mtime/ctime or is a day old; never with noatime.
 */
export function file_accessed(file: File): void {
  const inode = file.f_inode;
  if (file.f_path.mnt.mnt_flags & MNT_NOATIME) return;
  const now = inode.i_sb.s_clock();
  const relatime = (file.f_path.mnt.mnt_flags & MNT_RELATIME) !== 0;
  if (relatime && inode.i_atime > inode.i_mtime && inode.i_atime > inode.i_ctime && now - inode.i_atime < DAY_NS) return;
  inode.i_atime = now;
}

/** stream_open(): a file with no position (pipes, ttys): no lseek, pread or pwrite. */
export function stream_open(file: File): void {
  file.f_mode &= ~(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE);
}

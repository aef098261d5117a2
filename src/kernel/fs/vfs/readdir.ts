/**
 * getdents64(2) (fs/readdir.c: iterate_dir, filldir64).
 */
import { Errno } from '../../../lib/errno.ts';
import type { Dirent } from '../../../uapi/fcntl.ts';
import type { File } from './file.ts';
import { S_DEAD } from './inode.ts';

/**
 * iterate_dir(): the remaining entries of a directory from f_pos on ("." and ".."
 * first, as dcache_readdir emits them). ENOTDIR when the file is not a directory;
 * nothing once the directory has been removed.
 */
export function iterate_dir(file: File): Dirent[] {
  if (!file.f_op.iterate) throw new Errno('ENOTDIR');
  if (file.f_inode.i_flags & S_DEAD) return [];
  const out: Dirent[] = [];
  const ctx = {
    pos: file.f_pos,
    emit(name: string, ino: number, type: number): boolean {
      out.push({ ino, type, name });
      return true;
    },
  };
  file.f_op.iterate(file, ctx);
  file.f_pos = ctx.pos;
  return out;
}

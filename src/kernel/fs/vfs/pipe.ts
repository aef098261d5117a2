/**
 * Pipes (fs/pipe.c: create_pipe_files, pipe_read, pipe_write, pipe_release).
 *
 * The model runs programs one after another, never concurrently, so a pipe's
 * buffer is unbounded (a writer never has to wait for the reader) and a read of an
 * empty pipe whose writer is still open cannot block: it fails with EAGAIN, as a
 * O_NONBLOCK read does, rather than waiting for a write that can never come.
 * An empty pipe with no writers reads as end of file (0 bytes); a write with no
 * readers fails with EPIPE (the caller delivers SIGPIPE, as pipe_write's
 * send_sig does).
 */
import { Errno } from '../../../lib/errno.ts';
import { O_RDONLY, O_WRONLY, S_IFIFO } from '../../../uapi/fcntl.ts';
import { d_alloc_pseudo } from './dcache.ts';
import { File, FMODE_CAN_READ, FMODE_CAN_WRITE, FMODE_READ, FMODE_WRITE } from './file.ts';
import { new_inode, type FileOperations, type Inode } from './inode.ts';
import type { Mount } from './mount.ts';
import { stream_open } from './read_write.ts';

/** PIPEFS_MAGIC (include/uapi/linux/magic.h). */
export const PIPEFS_MAGIC = 0x50495045;

/** struct pipe_inode_info: queued bytes and the open ends. */
export class PipeInodeInfo {
  readonly bufs: Uint8Array[] = [];
  /** Bytes queued. */
  size = 0;
  readers = 1;
  writers = 1;
}

const EMPTY = new Uint8Array(0);

/** pipe_read(). */
function pipe_read(file: File, count: number): Uint8Array {
  const pipe = file.f_inode.i_private as PipeInodeInfo;
  if (count === 0) return EMPTY;
  if (pipe.size === 0) {
    if (pipe.writers === 0) return EMPTY;
    throw new Errno('EAGAIN');
  }
  const n = Math.min(count, pipe.size);
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const buf = pipe.bufs[0]!;
    const take = Math.min(buf.length, n - got);
    out.set(buf.subarray(0, take), got);
    got += take;
    if (take === buf.length) pipe.bufs.shift();
    else pipe.bufs[0] = buf.subarray(take);
  }
  pipe.size -= n;
  return out;
}

/** pipe_write(). */
function pipe_write(file: File, data: Uint8Array): number {
  const pipe = file.f_inode.i_private as PipeInodeInfo;
  if (pipe.readers === 0) throw new Errno('EPIPE');
  if (data.length === 0) return 0;
  pipe.bufs.push(data.slice());
  pipe.size += data.length;
  return data.length;
}

/** pipe_release(): one end closed. */
function pipe_release(inode: Inode, file: File): void {
  const pipe = inode.i_private as PipeInodeInfo;
  if (file.f_mode & FMODE_READ) pipe.readers--;
  if (file.f_mode & FMODE_WRITE) pipe.writers--;
}

/** pipefifo_fops. */
export const pipefifo_fops: FileOperations = {
  read: pipe_read,
  write: pipe_write,
  release: pipe_release,
};

/** create_pipe_files(): [read end, write end] on the pipefs mount. */
export function create_pipe_files(pipe_mnt: Mount): [File, File] {
  const sb = pipe_mnt.mnt_sb;
  const inode = new_inode(sb, S_IFIFO | 0o600);
  inode.i_private = new PipeInodeInfo();
  inode.i_fop = pipefifo_fops;
  inode.i_nlink = 1;
  const dentry = d_alloc_pseudo(sb.s_root, '', inode);
  dentry.d_op = { d_dname: () => `pipe:[${inode.i_ino}]` };
  const path = { mnt: pipe_mnt, dentry };
  const r = new File(path, inode, O_RDONLY, pipefifo_fops);
  const w = new File(path, inode, O_WRONLY, pipefifo_fops);
  // Neither end is "linked": the pipe goes when both files are released.
  inode.i_nlink = 0;
  for (const f of [r, w]) stream_open(f);
  r.f_mode |= FMODE_CAN_READ;
  w.f_mode |= FMODE_CAN_WRITE;
  return [r, w];
}

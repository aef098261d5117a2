/**
 * What a LinuxSyscalls descriptor stands for. The pseudo-processes of a Linux
 * session share one real process (Node), so each keeps its own descriptor table
 * of these, reference-counted like struct file (fs/file_table.c fput):
 *   - RealFile: a real kernel descriptor (open, memfd_create), closed at last fput;
 *   - ConsoleFile: the session's terminal (the CLI's stdout/stderr callbacks);
 *   - PipeEnd: a pipe emulated in user space, unbounded like the model's
 *     (kernel/fs/vfs/pipe.ts) — programs run in turn, so a real 64 KiB pipe
 *     would block the writer forever with its reader not yet running;
 *   - TextFile: a file the backend synthesizes (/proc/self/model_faults).
 */
import { Errno } from '../lib/errno.ts';
import { S_IFCHR, S_IFIFO, S_IFREG, type Stat } from '../uapi/fcntl.ts';
import * as libc from './libc.ts';

/** One open file as the descriptor tables see it. */
export abstract class LFile {
  private refs = 1;
  /** Take a reference (dup, fork). */
  get(): this {
    this.refs++;
    return this;
  }
  /** Drop a reference; the last one releases the file. */
  fput(): void {
    if (--this.refs === 0) this.release();
  }
  protected release(): void {}
  abstract read(count: number): Uint8Array;
  abstract write(data: Uint8Array): number;
  /** The real descriptor behind this file, or EBADF-like failure for emulated ones. */
  realFd(what: string): number {
    throw new Errno('EINVAL', `${what}: not a real file`);
  }
  abstract stat(): Stat;
}

const fakeStat = (mode: number, size = 0): Stat => ({
  dev: 0, ino: 0, mode, nlink: 1, uid: 0, gid: 0, rdev: 0, size, blksize: 4096, blocks: 0, atimeNs: 0, mtimeNs: 0, ctimeNs: 0,
});

/** A real kernel file descriptor. */
export class RealFile extends LFile {
  constructor(readonly fd: number) {
    super();
  }
  protected override release(): void {
    libc.close(this.fd);
  }
  read(count: number): Uint8Array {
    return libc.read(this.fd, count);
  }
  write(data: Uint8Array): number {
    return libc.write(this.fd, data);
  }
  override realFd(): number {
    return this.fd;
  }
  stat(): Stat {
    throw new Error('RealFile.stat: use fstat on the real fd');
  }
}

/** The session's terminal: writes go to a callback; reads see the given input, then EOF. */
export class ConsoleFile extends LFile {
  private input: Uint8Array;
  constructor(private readonly out: ((s: string) => void) | null, input = '') {
    super();
    this.input = new TextEncoder().encode(input);
  }
  read(count: number): Uint8Array {
    const r = this.input.subarray(0, count);
    this.input = this.input.subarray(r.length);
    return r;
  }
  write(data: Uint8Array): number {
    if (!this.out) throw new Errno('EBADF');
    this.out(new TextDecoder().decode(data));
    return data.length;
  }
  stat(): Stat {
    return fakeStat(S_IFCHR | 0o620);
  }
}

/** The shared state of an emulated pipe. */
class PipeBuf {
  bufs: Uint8Array[] = [];
  readers = 1;
  writers = 1;
}

/** One end of an emulated pipe (the model's pipe semantics: EAGAIN when empty with writers, EPIPE without readers). */
export class PipeEnd extends LFile {
  constructor(
    private readonly p: PipeBuf,
    private readonly end: 'r' | 'w',
  ) {
    super();
  }
  /** [read end, write end]. */
  static create(): [PipeEnd, PipeEnd] {
    const p = new PipeBuf();
    return [new PipeEnd(p, 'r'), new PipeEnd(p, 'w')];
  }
  protected override release(): void {
    if (this.end === 'r') this.p.readers--;
    else this.p.writers--;
  }
  read(count: number): Uint8Array {
    if (this.end !== 'r') throw new Errno('EBADF');
    const first = this.p.bufs[0];
    if (!first) {
      if (this.p.writers > 0) throw new Errno('EAGAIN');
      return new Uint8Array(0);
    }
    const n = Math.min(count, first.length);
    if (n === first.length) this.p.bufs.shift();
    else this.p.bufs[0] = first.subarray(n);
    return first.subarray(0, n);
  }
  write(data: Uint8Array): number {
    if (this.end !== 'w') throw new Errno('EBADF');
    if (this.p.readers === 0) throw new Errno('EPIPE');
    this.p.bufs.push(data.slice());
    return data.length;
  }
  stat(): Stat {
    return fakeStat(S_IFIFO | 0o600);
  }
}

/** A read-only file whose text is rendered at open. */
export class TextFile extends LFile {
  private data: Uint8Array;
  private pos = 0;
  constructor(text: string) {
    super();
    this.data = new TextEncoder().encode(text);
  }
  read(count: number): Uint8Array {
    const r = this.data.subarray(this.pos, this.pos + count);
    this.pos += r.length;
    return r;
  }
  write(): number {
    throw new Errno('EBADF');
  }
  stat(): Stat {
    return fakeStat(S_IFREG | 0o444, 0);
  }
}

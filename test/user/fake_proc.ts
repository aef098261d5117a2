/** The fake kernel's Syscalls implementation: one process's view of a FakeKernel. */
import { Errno } from '../../src/lib/errno.ts';
import {
  FALLOC_FL_KEEP_SIZE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_TRUNC,
  S_IFCHR, S_IFDIR, S_IFREG, type Dirent, type Stat, type Statfs,
} from '../../src/uapi/fcntl.ts';
import type { Syscalls, WaitResult } from '../../src/uapi/syscalls.ts';
import type { FakeKernel } from './fake_sys.ts';
import { dec, enc, parentOf, resolvePath, statfs, type Desc, type FakeMount, type Node, type Pipe, type Proc } from './fake_util.ts';

/** One process's view of the fake kernel. */
export class FakeSys implements Syscalls {
  constructor(
    readonly k: FakeKernel,
    readonly p: Proc,
  ) {}

  private path(p: string): string {
    return resolvePath(this.p.cwd, p);
  }

  private node(path: string): Node {
    const n = this.k.nodes.get(this.path(path));
    if (!n) {
      const parent = this.k.nodes.get(parentOf(this.path(path)));
      throw new Errno(parent && parent.kind !== 'dir' ? 'ENOTDIR' : 'ENOENT');
    }
    return n;
  }

  private desc(fd: number): Desc {
    const d = this.p.fds.get(fd);
    if (!d) throw new Errno('EBADF');
    return d;
  }

  private lowestFd(from = 0): number {
    let fd = from;
    while (this.p.fds.has(fd)) fd++;
    return fd;
  }

  getpid(): number {
    return this.p.pid;
  }
  getppid(): number {
    return this.p.ppid;
  }

  open(path: string, flags: number, mode = 0o666): number {
    const abs = this.path(path);
    const gen = this.k.generated(abs, this.p);
    if (gen !== undefined) {
      const node: Node = { kind: 'file', data: enc.encode(gen), mode: 0o444, ino: 1, mtimeNs: 0, rdev: 0 };
      this.k.nodes.set(`\0gen${abs}`, node);
      const fd = this.lowestFd();
      this.p.fds.set(fd, { kind: 'file', path: `\0gen${abs}`, pos: 0, append: false });
      return fd;
    }
    let n = this.k.nodes.get(abs);
    if (n && flags & O_CREAT && flags & O_EXCL) throw new Errno('EEXIST');
    if (!n) {
      if (!(flags & O_CREAT)) throw new Errno('ENOENT');
      const parent = this.k.nodes.get(parentOf(abs));
      if (!parent) throw new Errno('ENOENT');
      if (parent.kind !== 'dir') throw new Errno('ENOTDIR');
      n = this.k.mkNode(abs, 'file', mode & 0o755);
    }
    const fd = this.lowestFd();
    if (n.kind === 'dir') {
      if ((flags & 3) !== 0) throw new Errno('EISDIR');
      this.p.fds.set(fd, { kind: 'dir', path: abs, done: false });
      return fd;
    }
    if (flags & O_DIRECTORY) throw new Errno('ENOTDIR');
    if (flags & O_TRUNC) n.data = new Uint8Array(0);
    this.p.fds.set(fd, { kind: 'file', path: abs, pos: 0, append: (flags & O_APPEND) !== 0 });
    return fd;
  }

  close(fd: number): void {
    this.desc(fd);
    this.p.fds.delete(fd);
  }

  read(fd: number, count: number): Uint8Array {
    const d = this.desc(fd);
    if (d.kind === 'dir') throw new Errno('EISDIR');
    if (d.kind === 'tty') {
      const bytes = enc.encode(this.k.stdin).slice(0, count);
      this.k.stdin = dec.decode(enc.encode(this.k.stdin).slice(bytes.length));
      return bytes;
    }
    if (d.kind === 'pipe') {
      if (d.write) throw new Errno('EBADF');
      const c = d.pipe.chunks.shift();
      if (!c) return new Uint8Array(0);
      if (c.length > count) d.pipe.chunks.unshift(c.slice(count));
      return c.slice(0, count);
    }
    const n = this.k.nodes.get(d.path)!;
    const out = n.data.slice(d.pos, d.pos + count);
    d.pos += out.length;
    return out;
  }

  write(fd: number, data: Uint8Array | string): number {
    const bytes = typeof data === 'string' ? enc.encode(data) : data;
    const d = this.desc(fd);
    if (d.kind === 'dir') throw new Errno('EISDIR');
    if (d.kind === 'tty') {
      const t = dec.decode(bytes);
      if (d.stream === 'err') this.k.err += t;
      else this.k.out += t;
      this.k.tty += t;
      return bytes.length;
    }
    if (d.kind === 'pipe') {
      if (!d.write) throw new Errno('EBADF');
      d.pipe.chunks.push(bytes.slice());
      return bytes.length;
    }
    const n = this.k.nodes.get(d.path)!;
    const pos = d.append ? n.data.length : d.pos;
    this.pwriteNode(n, bytes, pos);
    d.pos = pos + bytes.length;
    return bytes.length;
  }

  private pwriteNode(n: Node, bytes: Uint8Array, pos: number): void {
    if (pos + bytes.length > n.data.length) {
      const grown = new Uint8Array(pos + bytes.length);
      grown.set(n.data);
      n.data = grown;
    }
    n.data.set(bytes, pos);
    n.mtimeNs = this.k.clockNs;
  }

  pread(fd: number, count: number, offset: number): Uint8Array {
    const d = this.desc(fd);
    if (d.kind !== 'file') throw new Errno('ESPIPE');
    return this.k.nodes.get(d.path)!.data.slice(offset, offset + count);
  }

  pwrite(fd: number, data: Uint8Array | string, offset: number): number {
    const d = this.desc(fd);
    if (d.kind !== 'file') throw new Errno('ESPIPE');
    const bytes = typeof data === 'string' ? enc.encode(data) : data;
    this.pwriteNode(this.k.nodes.get(d.path)!, bytes, offset);
    return bytes.length;
  }

  lseek(fd: number, offset: number, whence: number): number {
    const d = this.desc(fd);
    if (d.kind !== 'file') throw new Errno('ESPIPE');
    const size = this.k.nodes.get(d.path)!.data.length;
    d.pos = whence === 0 ? offset : whence === 1 ? d.pos + offset : size + offset;
    return d.pos;
  }

  dup(fd: number): number {
    const d = this.desc(fd);
    const n = this.lowestFd();
    this.p.fds.set(n, d);
    return n;
  }

  dup2(oldfd: number, newfd: number): number {
    const d = this.desc(oldfd);
    this.p.fds.set(newfd, d);
    return newfd;
  }

  pipe(): [number, number] {
    const pipe: Pipe = { chunks: [] };
    const r = this.lowestFd();
    this.p.fds.set(r, { kind: 'pipe', pipe, write: false });
    const w = this.lowestFd();
    this.p.fds.set(w, { kind: 'pipe', pipe, write: true });
    return [r, w];
  }

  private resize(n: Node, length: number): void {
    if (n.kind === 'dir') throw new Errno('EISDIR');
    if (length < 0) throw new Errno('EINVAL');
    const d = new Uint8Array(length);
    d.set(n.data.slice(0, length));
    n.data = d;
  }

  ftruncate(fd: number, length: number): void {
    const d = this.desc(fd);
    if (d.kind !== 'file') throw new Errno('EINVAL');
    this.resize(this.k.nodes.get(d.path)!, length);
  }

  truncate(path: string, length: number): void {
    this.resize(this.node(path), length);
  }

  fallocate(fd: number, mode: number, offset: number, length: number): void {
    const d = this.desc(fd);
    if (d.kind !== 'file') throw new Errno('ENODEV');
    const m = this.mountOf(d.path);
    const e = m && this.k.fallocateErrors.get(m.fstype);
    if (e) throw new Errno(e);
    const n = this.k.nodes.get(d.path)!;
    if (!(mode & FALLOC_FL_KEEP_SIZE) && offset + length > n.data.length) this.resize(n, offset + length);
  }

  private statOf(n: Node, path: string): Stat {
    const type = n.kind === 'dir' ? S_IFDIR : n.kind === 'chr' ? S_IFCHR : S_IFREG;
    const dev = this.mountOf(path) ? 40 + this.k.mounts.indexOf(this.mountOf(path)!) : 1;
    return {
      dev, ino: n.ino, mode: type | n.mode, nlink: n.kind === 'dir' ? 2 : 1, uid: 0, gid: 0, rdev: n.rdev,
      size: n.kind === 'dir' ? 60 : n.data.length, blksize: 4096, blocks: Math.ceil(n.data.length / 4096) * 8,
      atimeNs: n.mtimeNs, mtimeNs: n.mtimeNs, ctimeNs: n.mtimeNs,
    };
  }

  stat(path: string): Stat {
    const abs = this.path(path);
    if (/^\/proc\/\d+$/.test(abs) && this.k.livePids().includes(Number(abs.slice(6)))) {
      return this.statOf({ kind: 'dir', data: new Uint8Array(0), mode: 0o555, ino: 1, mtimeNs: 0, rdev: 0 }, abs);
    }
    return this.statOf(this.node(path), abs);
  }
  lstat(path: string): Stat {
    return this.stat(path);
  }
  /** The fake has no symlinks: every name that exists is not one. */
  readlink(path: string): string {
    this.node(path);
    throw new Errno('EINVAL');
  }
  fstat(fd: number): Stat {
    const d = this.desc(fd);
    if (d.kind === 'file' || d.kind === 'dir') return this.statOf(this.k.nodes.get(d.path)!, d.path);
    return { ...this.statOf({ kind: 'chr', data: new Uint8Array(0), mode: 0o620, ino: 3, mtimeNs: 0, rdev: 0 }, '/'), mode: d.kind === 'pipe' ? 0o010600 : S_IFCHR | 0o620 };
  }

  private mountOf(abs: string): FakeMount | undefined {
    let best: FakeMount | undefined;
    for (const m of this.k.mounts) if (abs === m.target || abs.startsWith(m.target === '/' ? '/' : m.target + '/')) if (!best || m.target.length >= best.target.length) best = m;
    return best;
  }

  statfs(path: string): Statfs {
    this.node(path);
    const m = this.mountOf(this.path(path));
    if (!m) throw new Errno('ENOSYS');
    return m.statfs;
  }
  fstatfs(fd: number): Statfs {
    const d = this.desc(fd);
    if (d.kind !== 'file' && d.kind !== 'dir') throw new Errno('EINVAL');
    return this.statfs(d.path);
  }

  mkdir(path: string, mode: number): void {
    const abs = this.path(path);
    if (this.k.nodes.has(abs)) throw new Errno('EEXIST');
    const parent = this.k.nodes.get(parentOf(abs));
    if (!parent) throw new Errno('ENOENT');
    if (parent.kind !== 'dir') throw new Errno('ENOTDIR');
    this.k.mkNode(abs, 'dir', mode & 0o755);
  }

  private children(abs: string): string[] {
    const prefix = abs === '/' ? '/' : abs + '/';
    return [...this.k.nodes.keys()].filter((k) => k.startsWith(prefix) && k !== abs && !k.slice(prefix.length).includes('/') && !k.startsWith('\0'));
  }

  rmdir(path: string): void {
    const abs = this.path(path);
    const n = this.node(path);
    if (n.kind !== 'dir') throw new Errno('ENOTDIR');
    if (this.k.mounts.some((m) => m.target === abs)) throw new Errno('EBUSY');
    if (this.children(abs).length) throw new Errno('ENOTEMPTY');
    this.k.nodes.delete(abs);
  }

  unlink(path: string): void {
    const n = this.node(path);
    if (n.kind === 'dir') throw new Errno('EISDIR');
    this.k.nodes.delete(this.path(path));
  }

  rename(oldpath: string, newpath: string): void {
    const from = this.path(oldpath);
    const to = this.path(newpath);
    this.node(oldpath);
    if (!this.k.nodes.has(parentOf(to))) throw new Errno('ENOENT');
    if (this.mountOf(from) !== this.mountOf(to)) throw new Errno('EXDEV');
    for (const k of [...this.k.nodes.keys()]) {
      if (k === from || k.startsWith(from + '/')) {
        this.k.nodes.set(to + k.slice(from.length), this.k.nodes.get(k)!);
        this.k.nodes.delete(k);
      }
    }
  }

  getdents(fd: number): Dirent[] {
    const d = this.desc(fd);
    if (d.kind !== 'dir') throw new Errno('ENOTDIR');
    if (d.done) return [];
    d.done = true;
    const names = this.children(d.path).map((k) => k.slice(k.lastIndexOf('/') + 1));
    if (d.path === '/proc') names.push('mounts', 'meminfo', ...this.k.livePids().map(String));
    return ['.', '..', ...names].map((name) => ({ ino: 1, type: 0, name }));
  }

  chdir(path: string): void {
    if (this.node(path).kind !== 'dir') throw new Errno('ENOTDIR');
    this.p.cwd = this.path(path);
  }
  getcwd(): string {
    return this.p.cwd;
  }

  mount(source: string, target: string, fstype: string, _flags: number, data: string): void {
    const abs = this.path(target);
    const n = this.k.nodes.get(abs);
    if (!n) throw new Errno('ENOENT');
    if (n.kind !== 'dir') throw new Errno('ENOTDIR');
    if (!this.k.fstypes.has(fstype)) throw new Errno('ENODEV');
    if (data.includes('bogus')) throw new Errno('EINVAL');
    if (this.k.mounts.some((m) => m.target === abs && m.source === source)) throw new Errno('EBUSY');
    this.k.mounts.push({ source, target: abs, fstype, options: data ? `rw,${data}` : 'rw', statfs: statfs({ blocks: 1024, bfree: 1024, bavail: 1024 }) });
  }

  umount2(target: string, _flags: number): void {
    const abs = this.path(target);
    if (!this.k.nodes.has(abs)) throw new Errno('ENOENT');
    const i = this.k.mounts.findIndex((m) => m.target === abs);
    if (i < 0) throw new Errno('EINVAL');
    if (this.k.busy.has(abs)) throw new Errno('EBUSY');
    this.k.mounts.splice(i, 1);
  }

  memfd_create(): number {
    throw new Errno('ENOSYS');
  }
  ioctl(): number {
    throw new Errno('ENOTTY');
  }
  mmap(): number {
    throw new Errno('ENOSYS');
  }
  munmap(): void {
    throw new Errno('ENOSYS');
  }
  mprotect(): void {
    throw new Errno('ENOSYS');
  }
  mremap(): number {
    throw new Errno('ENOSYS');
  }
  madvise(): void {
    throw new Errno('ENOSYS');
  }
  mbind(): void {
    throw new Errno('ENOSYS');
  }
  set_mempolicy(): void {
    throw new Errno('ENOSYS');
  }
  load(): Uint8Array {
    throw new Errno('EFAULT');
  }
  store(): void {
    throw new Errno('EFAULT');
  }

  fork(): Syscalls {
    const child = this.k.newProc(this.p.pid, new Map(this.p.fds), this.p.cwd);
    child.argv = [...this.p.argv];
    return new FakeSys(this.k, child);
  }

  execve(path: string, argv: readonly string[]): void {
    this.p.argv = [path.split('/').pop()!, ...argv.slice(1)];
  }

  exit(status: number): void {
    if (this.p.state === 'zombie' || this.p.state === 'reaped') throw new Error(`pid ${this.p.pid} exited twice`);
    this.p.state = 'zombie';
    this.p.status = (status & 0xff) << 8;
    this.p.fds.clear();
  }

  pause(): void {
    this.p.state = 'held';
  }

  wait4(pid: number, _options: number): WaitResult {
    const kids = [...this.k.procs.values()].filter((c) => c.ppid === this.p.pid && c.state !== 'reaped' && (pid === -1 || c.pid === pid));
    if (kids.length === 0) throw new Errno('ECHILD');
    const z = kids.find((c) => c.state === 'zombie');
    if (!z) return { pid: 0, status: 0 };
    z.state = 'reaped';
    return { pid: z.pid, status: z.status };
  }

  /** The fake keeps handlers but never delivers to them (the shell's programs install none). */
  readonly handlers = new Map<number, unknown>();

  prctl(): number {
    throw new Errno('EINVAL');
  }

  sigaction(signo: number, handler: unknown): void {
    if (signo < 1 || signo > 64 || signo === 9 || signo === 19) throw new Errno('EINVAL');
    if (handler) this.handlers.set(signo, handler);
    else this.handlers.delete(signo);
  }

  kill(pid: number, signo: number): void {
    const t = this.k.procs.get(pid);
    if (!t || t.state === 'zombie' || t.state === 'reaped') throw new Errno('ESRCH');
    if (signo === 0) return;
    t.state = 'zombie';
    t.status = signo;
    t.fds.clear();
  }

  nanosleep(ns: number): void {
    this.k.clockNs += ns;
  }
  clock_gettime(): number {
    return this.k.clockNs;
  }
  syslog(): string {
    return this.k.log;
  }
}

/**
 * LinuxSyscalls: the user programs' Syscalls (uapi/syscalls.ts) over the real
 * kernel, through libc (libc.ts). The model's counterpart is kernel/process.ts's Task.
 *
 * Programs are run-to-completion functions in one Node process, so a "process"
 * here is a pseudo-process: its own pid (above PID_MAX_LIMIT, see session.ts),
 * descriptor table (files.ts), working directory, the ranges it mapped
 * (memory.ts) and exit state; fork/exec/exit/wait4/kill/sigaction/pause act on
 * these the way the model's Task does. What reaches the kernel is real: every
 * file, memory and ioctl call is the real system call, with the real errno.
 *
 * Safety: a pseudo-process may only touch, unmap, protect or advise memory the
 * session mapped. MAP_FIXED over anything else becomes MAP_FIXED_NOREPLACE
 * (EEXIST instead of clobbering Node's heap); kill(2) reaches only pseudo-pids.
 *
 * Differences from the model (and from real processes): fork does not copy the
 * address space — the child sees its parent's mappings, shared, and unmapping them
 * in the child is a no-op; /proc/self is Node's for every pseudo-process;
 * set_mempolicy is applied with mbind to each later mapping of the task instead of
 * to Node; the working directory is per pseudo-process and resolved here.
 */
import { resolve as resolvePath } from 'node:path';
import { Errno } from '../lib/errno.ts';
import { NR_OPEN_DEFAULT, fd_install, fd_install_pair } from '../lib/fdtable.ts';
import { O_CLOEXEC, S_ISDIR, type Dirent, type Stat, type Statfs } from '../uapi/fcntl.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_HUGETLB, MREMAP_FIXED } from '../uapi/mman.ts';
import { SIGCHLD, SIGCONT, SIGKILL, SIGSTOP, SIGURG, SIGWINCH, Signal } from '../uapi/signal.ts';
import { SYSLOG_ACTION_READ_ALL, WNOHANG, type SigHandler, type Syscalls, type WaitResult } from '../uapi/syscalls.ts';
import { KVM_CREATE_VCPU, KVM_CREATE_VM } from '../uapi/kvm.ts';
import { KVM_GET_STATS_FD } from '../uapi/kvm_stats.ts';
import { linuxIoctl } from './kvm/ioctl.ts';
import { ConsoleFile, PipeEnd, RealFile, TextFile, type LFile } from './files.ts';
import * as libc from './libc.ts';
import { AddressSpace, hugetlbPageSize } from './memory.ts';
import { PSEUDO_PID_BASE, readHugetlbInfo, type LinuxSession } from './session.ts';
import { decodeDirents, decodeStat, decodeStatfs } from './structs.ts';
import { DmemfsFile, dmemfsAt, dmemfsMmap, dmemfsMapped, dmemfsMount, dmemfsOpen, dmemfsProcMounts, dmemfsRegistry, dmemfsUmount, dmemfsUnmap } from './dmemfs/index.ts';

/** HUGETLBFS_MAGIC (include/uapi/linux/magic.h). */
const HUGETLBFS_MAGIC = 0x958458f6;
const MFD_CLOEXEC = 1;
const PAGE = 4096;
/** Signals whose default action is to ignore (kernel/signal.c SIG_KERNEL_IGNORE_MASK) or stop. */
const SIG_DEFAULT_IGNORE = new Set([SIGCHLD, SIGURG, SIGWINCH, SIGCONT, SIGSTOP, 20, 21, 22]);

/** An ioctl the KVM/VFIO layer (src/linux/kvm) performs on a real descriptor. */
export type LinuxIoctl = (fd: number, request: number, arg: unknown) => number;
let kvmIoctl: LinuxIoctl | null = linuxIoctl;
/** Replace the KVM/VFIO marshalling (src/linux/kvm/ioctl.ts linuxIoctl by default; null: ENOTTY). */
export function setLinuxIoctl(fn: LinuxIoctl | null): void {
  kvmIoctl = fn;
}
/** KVM/VFIO requests that return a new descriptor (to be installed in the caller's table). */
const FD_RETURNING = new Set([
  KVM_CREATE_VM,
  KVM_CREATE_VCPU,
  KVM_GET_STATS_FD,
  0xc040aed4, // KVM_CREATE_GUEST_MEMFD: _IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)
  0x3b6a, // VFIO_GROUP_GET_DEVICE_FD: _IO(VFIO_TYPE, VFIO_BASE + 6)
]);

/** One pseudo-process on the real kernel. */
export class LinuxSyscalls implements Syscalls {
  state: 'R' | 'S' | 'Z' = 'R';
  exitStatus = 0;
  comm: string;
  argv: readonly string[];
  readonly fds: (LFile | null)[] = [];
  readonly children = new Set<LinuxSyscalls>();
  readonly sighand = new Map<number, SigHandler>();
  space: AddressSpace;
  private policy: { mode: number; nodes: readonly number[] } | null = null;

  constructor(
    readonly session: LinuxSession,
    readonly pid: number,
    public parent: LinuxSyscalls | null,
    public cwd: string,
    comm: string,
    space?: AddressSpace,
  ) {
    this.comm = comm;
    this.argv = [comm];
    this.space = space ?? new AddressSpace();
    session.tasks.set(pid, this);
    session.live.add(this);
  }

  /** The first pseudo-process: the real pid, the console on fds 0-2, Node's working directory. */
  static console(session: LinuxSession, io: { stdout: (s: string) => void; stderr: (s: string) => void; input?: string }, comm = 'sh'): LinuxSyscalls {
    const t = new LinuxSyscalls(session, session.realPid, null, process.cwd(), comm);
    t.fds[0] = new ConsoleFile(null, io.input ?? '');
    t.fds[1] = new ConsoleFile(io.stdout);
    t.fds[2] = new ConsoleFile(io.stderr);
    return t;
  }

  private path(p: string): string {
    if (p === '') throw new Errno('ENOENT');
    return resolvePath(this.cwd, p);
  }

  /** The user-space dmemfs (src/linux/dmemfs) holding a path, or null. */
  private dm(abs: string): ReturnType<typeof dmemfsAt> {
    return dmemfsAt(this.session, abs);
  }

  /** The user-space dmemfs file behind fd, or null. */
  private dmf(fd: number): DmemfsFile | null {
    const f = this.fget(fd);
    return f instanceof DmemfsFile ? f : null;
  }

  /** The open file behind fd, or EBADF. */
  fget(fd: number): LFile {
    const f = Number.isInteger(fd) && fd >= 0 ? this.fds[fd] : undefined;
    if (!f) throw new Errno('EBADF');
    return f;
  }

  /** The real kernel descriptor behind fd (for callers that marshal their own calls). */
  realFd(fd: number, what = 'call'): number {
    return this.fget(fd).realFd(what);
  }

  /** Install a file at the lowest free descriptor. */
  fdInstall(file: LFile): number {
    return fd_install(this.fds, file);
  }

  getpid(): number {
    return this.pid;
  }
  getppid(): number {
    return this.parent?.pid ?? libc.getppid();
  }

  // ---- files ----
  open(path: string, flags: number, mode = 0o666): number {
    const abs = this.path(path);
    const faults = /^\/proc\/(self|\d+)\/model_faults$/.exec(abs);
    if (faults) return this.fdInstall(new TextFile(this.modelFaults(faults[1]!)));
    // /proc/PSEUDO-PID/{stat,cmdline}: a pseudo-process has no /proc entry of its own (vmm's processAlive reads them).
    const pp = /^\/proc\/(\d+)\/(stat|cmdline)$/.exec(abs);
    if (pp && Number(pp[1]) > PSEUDO_PID_BASE) return this.fdInstall(new TextFile(this.pseudoProc(Number(pp[1]), pp[2] as 'stat' | 'cmdline')));
    const d = this.dm(abs);
    if (d) return this.fdInstall(dmemfsOpen(d.fs, d.rel, flags, mode));
    const mounts = /^\/proc\/(self\/)?mounts$/.test(abs) ? dmemfsProcMounts(this.session) : null;
    if (mounts !== null) return this.fdInstall(new TextFile(mounts));
    return this.fdInstall(new RealFile(libc.open(abs, flags | O_CLOEXEC, mode)));
  }

  /** /proc/PID/stat (pid, comm, state, ppid) and /proc/PID/cmdline of a pseudo-process. */
  private pseudoProc(pid: number, what: 'stat' | 'cmdline'): string {
    const t = this.session.tasks.get(pid);
    if (!t) throw new Errno('ENOENT');
    if (what === 'cmdline') return t.argv.map((a) => `${a}\0`).join('');
    return `${pid} (${t.comm}) ${t.state} ${t.parent?.pid ?? 0}\n`;
  }

  /** /proc/PID/model_faults for a pseudo-process: faults by level observed in its page tables (memory.ts). */
  private modelFaults(who: string): string {
    const t = who === 'self' ? this : this.session.tasks.get(Number(who));
    if (!t) throw new Errno('ENOENT');
    const f = t.space.faults;
    return `4K ${f[0]}\n2M ${f[1]}\n1G ${f[2]}\n`;
  }

  close(fd: number): void {
    const f = this.fget(fd);
    this.fds[fd] = null;
    f.fput();
  }
  read(fd: number, count: number): Uint8Array {
    return this.fget(fd).read(count);
  }
  write(fd: number, data: Uint8Array | string): number {
    return this.fget(fd).write(typeof data === 'string' ? new TextEncoder().encode(data) : data);
  }
  pread(fd: number, count: number, offset: number): Uint8Array {
    const df = this.dmf(fd);
    if (df) return df.pread(count, offset);
    return libc.pread(this.realFd(fd, 'pread'), count, offset);
  }
  pwrite(fd: number, data: Uint8Array | string, offset: number): number {
    const df = this.dmf(fd);
    if (df) return df.pwrite(typeof data === 'string' ? new TextEncoder().encode(data) : data, offset);
    return libc.pwrite(this.realFd(fd, 'pwrite'), data, offset);
  }
  lseek(fd: number, offset: number, whence: number): number {
    const f = this.fget(fd);
    if (f instanceof DmemfsFile) return f.lseek(offset, whence);
    if (!(f instanceof RealFile)) throw new Errno('ESPIPE');
    return libc.lseek(f.fd, offset, whence);
  }
  dup(fd: number): number {
    return this.fdInstall(this.fget(fd).get());
  }
  dup2(oldfd: number, newfd: number): number {
    const f = this.fget(oldfd);
    if (!Number.isInteger(newfd) || newfd < 0 || newfd >= NR_OPEN_DEFAULT) throw new Errno('EBADF');
    if (oldfd === newfd) return newfd;
    const old = this.fds[newfd];
    while (this.fds.length < newfd) this.fds.push(null);
    this.fds[newfd] = f.get();
    old?.fput();
    return newfd;
  }
  pipe(): [number, number] {
    const [r, w] = PipeEnd.create();
    return fd_install_pair(this.fds, r, w);
  }
  ftruncate(fd: number, length: number): void {
    const df = this.dmf(fd);
    if (df) return df.ftruncate(length);
    libc.ftruncate(this.realFd(fd, 'ftruncate'), length);
  }
  truncate(path: string, length: number): void {
    const d = this.dm(this.path(path));
    if (d) return d.fs.truncate(d.fs.lookup(d.rel), length);
    libc.truncate(this.path(path), length);
  }
  fallocate(fd: number, mode: number, offset: number, length: number): void {
    const df = this.dmf(fd);
    if (df) return df.fallocate(mode, offset, length);
    libc.fallocate(this.realFd(fd, 'fallocate'), mode, offset, length);
  }
  stat(path: string): Stat {
    const d = this.dm(this.path(path));
    if (d) return d.fs.stat(d.fs.lookup(d.rel));
    return decodeStat(libc.statRaw('stat', this.path(path)));
  }
  lstat(path: string): Stat {
    const d = this.dm(this.path(path));
    if (d) return d.fs.stat(d.fs.lookup(d.rel));
    return decodeStat(libc.statRaw('lstat', this.path(path)));
  }
  readlink(path: string): string {
    return libc.readlink(this.path(path));
  }
  fstat(fd: number): Stat {
    const f = this.fget(fd);
    return f instanceof RealFile ? decodeStat(libc.fstatRaw(f.fd)) : f.stat();
  }
  statfs(path: string): Statfs {
    const d = this.dm(this.path(path));
    if (d) return (d.fs.lookup(d.rel), d.fs.statfs());
    return decodeStatfs(libc.statfsRaw(this.path(path)));
  }
  fstatfs(fd: number): Statfs {
    const df = this.dmf(fd);
    if (df) return df.fs.statfs();
    return decodeStatfs(libc.fstatfsRaw(this.realFd(fd, 'fstatfs')));
  }
  mkdir(path: string, mode: number): void {
    const d = this.dm(this.path(path));
    if (d) return void d.fs.create(d.rel, 0o040000 | (mode & 0o7777));
    libc.mkdir(this.path(path), mode);
  }
  rmdir(path: string): void {
    const d = this.dm(this.path(path));
    if (d) return d.fs.remove(d.rel, true);
    libc.rmdir(this.path(path));
  }
  unlink(path: string): void {
    const d = this.dm(this.path(path));
    if (d) return d.fs.remove(d.rel, false);
    libc.unlink(this.path(path));
  }
  rename(oldpath: string, newpath: string): void {
    const [a, b] = [this.dm(this.path(oldpath)), this.dm(this.path(newpath))];
    if (a || b) {
      if (!a || !b || a.fs !== b.fs) throw new Errno('EXDEV');
      return a.fs.rename(a.rel, b.rel);
    }
    libc.rename(this.path(oldpath), this.path(newpath));
  }
  getdents(fd: number): Dirent[] {
    const df = this.dmf(fd);
    if (df) return df.getdents();
    const real = this.realFd(fd, 'getdents');
    const buf = Buffer.alloc(32768);
    const out: Dirent[] = [];
    for (;;) {
      const n = libc.getdents64(real, buf);
      if (n === 0) return out;
      out.push(...decodeDirents(buf, n));
    }
  }
  chdir(path: string): void {
    const abs = this.path(path);
    if (!S_ISDIR(this.stat(abs).mode)) throw new Errno('ENOTDIR');
    this.cwd = abs;
  }
  getcwd(): string {
    return this.cwd;
  }
  mount(source: string, target: string, fstype: string, flags: number, data: string): void {
    const dir = this.path(target);
    if (fstype === 'dmemfs') return dmemfsMount(this.session, source, dir, data, (s) => void this.fds[2]?.write(new TextEncoder().encode(s)));
    libc.mount(source, dir, fstype, flags, data);
    this.session.noteMount(dir);
  }
  umount2(target: string, flags: number): void {
    const dir = this.path(target);
    if (dmemfsUmount(this.session, dir, flags)) return;
    libc.umount2(dir, flags);
    this.session.noteUmount(dir);
  }
  memfd_create(name: string, flags: number): number {
    return this.fdInstall(new RealFile(libc.memfd_create(name, flags | MFD_CLOEXEC)));
  }
  ioctl(fd: number, request: number, arg?: unknown): number {
    const real = this.realFd(fd, 'ioctl');
    const type = Math.floor(request / 256) & 0xff;
    if (type === 0xae || type === 0x3b) {
      if (!kvmIoctl) throw new Errno('ENOTTY', 'KVM/VFIO ioctls need src/linux/kvm (not loaded)');
      const r = kvmIoctl(real, request, arg);
      return FD_RETURNING.has(request >>> 0) ? this.fdInstall(new RealFile(r)) : r;
    }
    if (arg === undefined || typeof arg === 'number') return libc.ioctl(real, request, arg ?? 0);
    if (arg instanceof Uint8Array) return libc.ioctl(real, request, arg);
    throw new Errno('ENOTTY', 'the Linux backend marshals only KVM/VFIO structs');
  }

  // ---- memory ----
  mmap(addr: number, length: number, prot: number, flags: number, fd: number, offset: number): number {
    this.session.access.invalidate();
    let real = -1;
    let pageSize = PAGE;
    if (!(flags & MAP_ANONYMOUS)) {
      const f = this.fget(fd);
      if (f instanceof DmemfsFile) return dmemfsMmap(f, this.space, dmemfsRegistry(this.session).maps, addr, length, prot, flags, offset);
      if (!(f instanceof RealFile)) throw new Errno('ENODEV');
      real = f.fd;
    }
    // Never replace memory the session did not map (Node's own): the kernel then says EEXIST.
    if (flags & MAP_FIXED && !this.space.covers(addr, addr + length)) flags = (flags & ~MAP_FIXED) | MAP_FIXED_NOREPLACE;
    const a = libc.mmap(addr, length, prot, flags, real, offset);
    if (flags & MAP_HUGETLB && flags & MAP_ANONYMOUS) pageSize = hugetlbPageSize(flags, readHugetlbInfo().defaultSize);
    else if (real >= 0) {
      const sfs = decodeStatfs(libc.fstatfsRaw(real));
      if (sfs.type === HUGETLBFS_MAGIC) pageSize = sfs.bsize;
    }
    const end = a + Math.ceil(length / pageSize) * pageSize;
    if (flags & MAP_FIXED) dmemfsUnmap(this.session, this.space, a, end);
    this.space.insert({ start: a, end, prot, pageSize });
    if (this.policy) libc.mbind(a, end - a, this.policy.mode, this.policy.nodes, 0);
    return a;
  }
  munmap(addr: number, length: number): void {
    this.session.access.invalidate();
    if (addr % PAGE !== 0 || !(length > 0)) throw new Errno('EINVAL');
    for (const [s, e] of this.space.remove(addr, addr + Math.ceil(length / PAGE) * PAGE)) {
      libc.munmap(s, e - s);
      dmemfsUnmap(this.session, this.space, s, e);
    }
  }
  private own(addr: number, length: number, err: 'ENOMEM' | 'EFAULT'): number {
    if (addr % PAGE !== 0) throw new Errno('EINVAL');
    const end = addr + Math.ceil(length / PAGE) * PAGE;
    if (!this.space.covers(addr, end)) throw new Errno(err, 'not a range this session mapped');
    return end;
  }
  mprotect(addr: number, length: number, prot: number): void {
    this.session.access.invalidate();
    const end = this.own(addr, length, 'ENOMEM');
    libc.mprotect(addr, end - addr, prot);
    this.space.setProt(addr, end, prot);
  }
  mremap(oldAddr: number, oldSize: number, newSize: number, flags: number, newAddr = 0): number {
    this.session.access.invalidate();
    this.own(oldAddr, oldSize, 'EFAULT');
    if (dmemfsMapped(this.session, this.space, oldAddr, oldAddr + oldSize)) throw new Errno('EINVAL', 'dmemfs mappings cannot be moved or resized');
    if (flags & MREMAP_FIXED && !this.space.covers(newAddr, newAddr + newSize)) throw new Errno('EINVAL', 'MREMAP_FIXED onto memory this session did not map');
    const m = this.space.lookup(oldAddr)!;
    const a = libc.mremap(oldAddr, oldSize, newSize, flags, newAddr);
    this.space.remove(oldAddr, oldAddr + oldSize);
    this.space.insert({ ...m, start: a, end: a + Math.ceil(newSize / m.pageSize) * m.pageSize });
    return a;
  }
  madvise(addr: number, length: number, advice: number): void {
    this.session.access.invalidate();
    const end = this.own(addr, length, 'ENOMEM');
    libc.madvise(addr, end - addr, advice);
  }
  mbind(addr: number, length: number, mode: number, nodemask: readonly number[], flags: number): void {
    this.session.access.invalidate();
    const end = this.own(addr, length, 'EFAULT');
    libc.mbind(addr, end - addr, mode, nodemask, flags);
  }
  prctl(option: number, arg2 = 0, arg3 = 0, arg4 = 0, arg5 = 0): number {
    return libc.prctl(option, arg2, arg3, arg4, arg5);
  }
  set_mempolicy(mode: number, nodemask: readonly number[]): void {
    this.policy = mode === 0 ? null : { mode, nodes: [...nodemask] };
  }
  load(addr: number, length: number): Uint8Array {
    return this.session.access.load(this.space, addr, length);
  }
  store(addr: number, data: Uint8Array): void {
    this.session.access.store(this.space, addr, data);
  }

  // ---- processes ----
  fork(): LinuxSyscalls {
    const child = new LinuxSyscalls(this.session, this.session.allocPid(), this, this.cwd, this.comm, new AddressSpace(this.space));
    child.argv = this.argv;
    for (let fd = 0; fd < this.fds.length; fd++) child.fds[fd] = this.fds[fd]?.get() ?? null;
    this.children.add(child);
    return child;
  }
  execve(path: string, argv: readonly string[]): void {
    this.unmapAll();
    this.space = new AddressSpace();
    this.argv = [...argv];
    this.comm = (path.split('/').pop() ?? path).slice(0, 15);
  }
  exit(status: number): void {
    this.do_exit((status & 0xff) << 8);
  }
  private unmapAll(): void {
    for (const [s, e] of this.space.remove(0, Number.MAX_SAFE_INTEGER)) {
      libc.munmap(s, e - s);
      dmemfsUnmap(this.session, this.space, s, e);
    }
  }
  /** The pseudo-process ends: its mappings are unmapped and its files put, as do_exit does. */
  do_exit(waitStatus: number): void {
    if (this.state === 'Z') return;
    this.release();
    this.state = 'Z';
    this.exitStatus = waitStatus;
    for (const c of this.children) c.parent = null;
    this.children.clear();
    if (!this.parent) this.session.tasks.delete(this.pid);
  }
  /** Give back this pseudo-process's memory and descriptors (also at session release). */
  release(): void {
    this.session.live.delete(this);
    this.unmapAll();
    for (let fd = 0; fd < this.fds.length; fd++) {
      const f = this.fds[fd];
      this.fds[fd] = null;
      f?.fput();
    }
  }
  pause(): void {
    this.state = 'S';
  }
  wait4(pid: number, options: number): WaitResult {
    const candidates = [...this.children].filter((c) => pid === -1 || c.pid === pid);
    if (candidates.length === 0) throw new Errno('ECHILD');
    const zombie = candidates.find((c) => c.state === 'Z');
    if (zombie) {
      this.children.delete(zombie);
      this.session.tasks.delete(zombie.pid);
      return { pid: zombie.pid, status: zombie.exitStatus };
    }
    if (options & WNOHANG) return { pid: 0, status: 0 };
    throw new Errno('EDEADLK', `wait4: pid ${pid} is parked in pause() and programs cannot block`);
  }
  kill(pid: number, signo: number): void {
    if (!Number.isInteger(signo) || signo < 0 || signo > 64) throw new Errno('EINVAL');
    const t = this.session.tasks.get(pid);
    if (!t || t.state === 'Z') {
      if (pid > PSEUDO_PID_BASE || t) throw new Errno('ESRCH');
      // Real processes are out of bounds (the backend touches only what it created): ESRCH
      // when there is no such process (a probe with signal 0), else EPERM.
      libc.kill(pid, 0);
      throw new Errno('EPERM', 'the Linux backend signals only its own pseudo-processes');
    }
    if (signo === 0) return;
    const handler = t.sighand.get(signo);
    if (handler) {
      const prev = t.state;
      t.state = 'R';
      try {
        handler({ signo, code: 0, pid: this.pid, addr: 0, addrLsb: 0 });
      } catch (e) {
        if (!(e instanceof Signal)) throw e;
        t.do_exit(e.signo);
      } finally {
        if (t.state === 'R') t.state = prev;
      }
      return;
    }
    if (SIG_DEFAULT_IGNORE.has(signo)) return;
    t.do_exit(signo);
  }
  sigaction(signo: number, handler: SigHandler | null): void {
    if (!Number.isInteger(signo) || signo < 1 || signo > 64 || signo === SIGKILL || signo === SIGSTOP) throw new Errno('EINVAL');
    if (handler) this.sighand.set(signo, handler);
    else this.sighand.delete(signo);
  }

  // ---- time and the kernel log ----
  nanosleep(ns: number): void {
    if (!(ns >= 0)) throw new Errno('EINVAL');
    libc.nanosleep(ns);
  }
  clock_gettime(clock: number): number {
    return libc.clock_gettime(clock);
  }
  syslog(action: number): string {
    if (action !== SYSLOG_ACTION_READ_ALL) throw new Errno('EPERM', 'the Linux backend only reads the kernel log');
    return libc.klogReadAll();
  }
}

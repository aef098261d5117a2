/**
 * A task: pid, file descriptors, working directory, address space and exit
 * state, and the system calls it makes (kernel/fork.c, kernel/exit.c,
 * kernel/signal.c, fs/file.c, mm/mmap.c, mm/mempolicy.c syscall entry points).
 * This class is the model's implementation of the user programs' Syscalls.
 */
import { Errno } from '../lib/errno.ts';
import { NR_OPEN_DEFAULT, fd_install, fd_install_pair } from '../lib/fdtable.ts';
import { PAGE_SIZE, isAligned } from '../lib/size.ts';
import type { Dirent, Stat, Statfs } from '../uapi/fcntl.ts';
import { MAP_ANONYMOUS, MAP_HUGETLB } from '../uapi/mman.ts';
import { SIGKILL, SIGSTOP, Signal } from '../uapi/signal.ts';
import { SYSLOG_ACTION_CLEAR, SYSLOG_ACTION_READ_ALL, WNOHANG, type SigHandler, type Syscalls, type WaitResult } from '../uapi/syscalls.ts';
import type { File } from './fs/vfs/file.ts';
import type { Path } from './fs/vfs/mount.ts';
import type { Host } from './host.ts';
import { exit_mmap, dup_mmap } from './mm/dup_mmap.ts';
import { do_madvise } from './mm/madvise.ts';
import { do_mbind, mpol_new } from './mm/mempolicy.ts';
import { MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, MmStruct } from './mm/mm_types.ts';
import { do_munmap, vm_mmap_pgoff, type MmapFile } from './mm/mmap.ts';
import { do_mprotect } from './mm/mprotect.ts';
import { do_mremap } from './mm/mremap.ts';
import { copy_from_user, copy_to_user } from './uaccess.ts';
import { sys_prctl } from './prctl.ts';
import { ksys_mmap_hugetlb } from './host_hugetlbfs.ts';

/** Task states as /proc/PID/stat shows them. */
export type TaskState = 'R' | 'S' | 'Z';

/** HUGETLBFS_MAGIC (include/uapi/linux/magic.h). */
const HUGETLBFS_MAGIC = 0x958458f6;

/** One process (a single-threaded task with its own mm). */
export class Task implements Syscalls {
  state: TaskState = 'R';
  /** Raw wait status once a zombie. */
  exitStatus = 0;
  comm: string;
  argv: readonly string[];
  readonly fds: (File | null)[] = [];
  readonly children = new Set<Task>();
  readonly startTimeNs: number;
  /** Installed signal handlers (sighand->action), by signal number. */
  readonly sighand = new Map<number, SigHandler>();
  /** The last signal delivered with siginfo (e.g. SIGBUS BUS_MCEERR_AO from memory failure). */
  lastSiginfo: { signo: number; code: number; addr: number; lsb: number } | null = null;
  /** Controlling terminal as tty_nr (new_encode_dev), 0 for none; pts/0 is 34816. */
  tty = 0;
  /** task->flags' PF_MCE_PROCESS / PF_MCE_EARLY (prctl PR_MCE_KILL; kept across fork). */
  mceFlags = 0;

  constructor(
    readonly host: Host,
    readonly pid: number,
    public parent: Task | null,
    public mm: MmStruct,
    public cwd: Path,
    comm: string,
  ) {
    this.comm = comm;
    this.argv = [comm];
    this.startTimeNs = host.clock.now();
  }

  /** The VFS, with this task made `current` for the call (what /proc/self resolves to). */
  private get vfs() {
    this.host.current = this;
    return this.host.vfs;
  }

  /** The open file behind fd, or EBADF. */
  fget(fd: number): File {
    const f = Number.isInteger(fd) && fd >= 0 ? this.fds[fd] : undefined;
    if (!f) throw new Errno('EBADF');
    return f;
  }

  /** Install a file at the lowest free descriptor (fd_install); EMFILE when full. */
  fdInstall(file: File): number {
    return fd_install(this.fds, file);
  }

  getpid(): number {
    return this.pid;
  }

  getppid(): number {
    return this.parent?.pid ?? 0;
  }

  // ---- files ----
  open(path: string, flags: number, mode = 0o666): number {
    return this.fdInstall(this.vfs.open(this.cwd, path, flags, mode));
  }

  close(fd: number): void {
    const f = this.fget(fd);
    this.fds[fd] = null;
    f.fput();
  }

  read(fd: number, count: number): Uint8Array {
    return this.vfs.read(this.fget(fd), count);
  }

  write(fd: number, data: Uint8Array | string): number {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    return this.vfs.write(this.fget(fd), bytes);
  }

  pread(fd: number, count: number, offset: number): Uint8Array {
    return this.vfs.pread(this.fget(fd), count, offset);
  }

  pwrite(fd: number, data: Uint8Array | string, offset: number): number {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    return this.vfs.pwrite(this.fget(fd), bytes, offset);
  }

  lseek(fd: number, offset: number, whence: number): number {
    return this.vfs.lseek(this.fget(fd), offset, whence);
  }

  dup(fd: number): number {
    const f = this.fget(fd);
    f.get();
    return this.fdInstall(f);
  }

  dup2(oldfd: number, newfd: number): number {
    const f = this.fget(oldfd);
    if (!Number.isInteger(newfd) || newfd < 0 || newfd >= NR_OPEN_DEFAULT) throw new Errno('EBADF');
    if (oldfd === newfd) return newfd;
    f.get();
    const old = this.fds[newfd];
    while (this.fds.length < newfd) this.fds.push(null);
    this.fds[newfd] = f;
    old?.fput();
    return newfd;
  }

  pipe(): [number, number] {
    const [r, w] = this.vfs.create_pipe();
    return fd_install_pair(this.fds, r, w);
  }

  ftruncate(fd: number, length: number): void {
    this.vfs.ftruncate(this.fget(fd), length);
  }

  truncate(path: string, length: number): void {
    this.vfs.truncate(this.cwd, path, length);
  }

  fallocate(fd: number, mode: number, offset: number, length: number): void {
    this.vfs.fallocate(this.fget(fd), mode, offset, length);
  }

  stat(path: string): Stat {
    return this.vfs.stat(this.cwd, path);
  }

  lstat(path: string): Stat {
    return this.vfs.lstat(this.cwd, path);
  }

  readlink(path: string): string {
    return this.vfs.readlink(this.cwd, path);
  }

  fstat(fd: number): Stat {
    return this.vfs.fstat(this.fget(fd));
  }

  statfs(path: string): Statfs {
    return this.vfs.statfs(this.cwd, path);
  }

  fstatfs(fd: number): Statfs {
    return this.vfs.fstatfs(this.fget(fd));
  }

  mkdir(path: string, mode: number): void {
    this.vfs.mkdir(this.cwd, path, mode);
  }

  rmdir(path: string): void {
    this.vfs.rmdir(this.cwd, path);
  }

  unlink(path: string): void {
    this.vfs.unlink(this.cwd, path);
  }

  rename(oldpath: string, newpath: string): void {
    this.vfs.rename(this.cwd, oldpath, newpath);
  }

  getdents(fd: number): Dirent[] {
    return this.vfs.getdents(this.fget(fd));
  }

  chdir(path: string): void {
    const old = this.cwd;
    this.cwd = this.vfs.chdir(old, path);
    this.host.vfs.path_put(old);
  }

  getcwd(): string {
    return this.vfs.getcwd(this.cwd);
  }

  mount(source: string, target: string, fstype: string, flags: number, data: string): void {
    this.vfs.do_mount(this.cwd, source, target, fstype, flags, data);
  }

  umount2(target: string, flags: number): void {
    this.vfs.umount(this.cwd, target, flags);
  }

  memfd_create(name: string, flags: number): number {
    return this.fdInstall(this.host.memfd_create(name, flags));
  }

  ioctl(fd: number, request: number, arg?: unknown): number {
    const f = this.fget(fd);
    this.host.current = this;
    if (!f.f_op.unlocked_ioctl) throw new Errno('ENOTTY');
    return f.f_op.unlocked_ioctl(f, request, arg);
  }

  // ---- memory ----
  mmap(addr: number, length: number, prot: number, flags: number, fd: number, offset: number): number {
    // sys_mmap checks the offset before ksys_mmap_pgoff looks at the fd: EINVAL beats EBADF.
    if (!isAligned(offset, PAGE_SIZE) || offset < 0) throw new Errno('EINVAL');
    let file: File | null = null;
    if (!(flags & MAP_ANONYMOUS)) {
      file = this.fget(fd);
      // ksys_mmap_pgoff: MAP_HUGETLB on a file that is not on hugetlbfs is EINVAL.
      if (flags & MAP_HUGETLB && file.f_inode.i_sb.s_magic !== HUGETLBFS_MAGIC) throw new Errno('EINVAL');
    }
    this.host.current = this;
    // ksys_mmap_pgoff's hugetlb half: huge lengths, MAP_HUGETLB's file (host_hugetlbfs.ts).
    return ksys_mmap_hugetlb(this.host, file, length, flags, (f, len) =>
      vm_mmap_pgoff(this.mm, f as MmapFile | null, addr, len, prot, flags, offset, (vma) => this.host.shmem_zero_setup(vma)),
    );
  }

  munmap(addr: number, length: number): void {
    do_munmap(this.mm, addr, length);
  }

  mprotect(addr: number, length: number, prot: number): void {
    do_mprotect(this.mm, addr, length, prot);
  }

  mremap(oldAddr: number, oldSize: number, newSize: number, flags: number, newAddr = 0): number {
    return do_mremap(this.mm, oldAddr, oldSize, newSize, flags, newAddr);
  }

  madvise(addr: number, length: number, advice: number): void {
    do_madvise(this.mm, addr, length, advice, (file, off, len) => this.host.punch_hole(file, off, len));
  }

  mbind(addr: number, length: number, mode: number, nodemask: readonly number[], flags: number): void {
    do_mbind(this.mm, addr, length, mode, nodemask, flags, this.host.nrNodes);
  }

  set_mempolicy(mode: number, nodemask: readonly number[]): void {
    this.mm.policy = mpol_new(mode, nodemask, this.host.nrNodes);
  }

  load(addr: number, length: number): Uint8Array {
    // Faults allocate for `current` (tmpfs pages land on its node and count against it).
    this.host.current = this;
    return copy_from_user(this.mm, this.host.dram, addr, length, (sig) => this.force_sig(sig));
  }

  store(addr: number, data: Uint8Array): void {
    this.host.current = this;
    copy_to_user(this.mm, this.host.dram, addr, data, (sig) => this.force_sig(sig));
  }

  /** force_sig_fault: a synchronous signal. SIGKILL (the OOM killer) ends the task at once. */
  private force_sig(sig: Signal): never {
    if (sig.signo === SIGKILL) {
      this.host.oom_kill(this);
      this.do_exit(SIGKILL);
    }
    throw sig;
  }

  // ---- processes ----
  fork(): Task {
    const child = this.host.newTask(this, dup_mmap(this.mm, this.mm.homeNid), this.cwd, this.comm);
    child.argv = this.argv;
    child.tty = this.tty;
    child.mceFlags = this.mceFlags;
    for (let fd = 0; fd < this.fds.length; fd++) {
      const f = this.fds[fd] ?? null;
      f?.get();
      child.fds[fd] = f;
    }
    return child;
  }

  execve(path: string, argv: readonly string[]): void {
    // The program's code is run by the caller; exec here gives the task its name and a fresh mm.
    const old = this.mm;
    this.mm = new MmStruct(this.host.kmem, old.homeNid);
    exit_mmap(old);
    this.argv = [...argv];
    this.comm = (path.split('/').pop() ?? path).slice(0, 15);
  }

  exit(status: number): void {
    this.do_exit((status & 0xff) << 8);
  }

  /** do_exit: release the mm and files, become a zombie, reparent children to init. */
  do_exit(waitStatus: number): void {
    if (this.state === 'Z') return;
    exit_mmap(this.mm);
    for (let fd = 0; fd < this.fds.length; fd++) {
      const f = this.fds[fd];
      this.fds[fd] = null;
      f?.fput();
    }
    this.host.vfs.path_put(this.cwd);
    this.state = 'Z';
    this.exitStatus = waitStatus;
    for (const c of this.children) this.host.reparent(c);
    this.children.clear();
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
      this.host.release_task(zombie);
      return { pid: zombie.pid, status: zombie.exitStatus };
    }
    if (options & WNOHANG) return { pid: 0, status: 0 };
    throw new Error(`wait4: pid ${pid} is alive and the model cannot block (the child is parked in pause())`);
  }

  kill(pid: number, signo: number): void {
    if (!Number.isInteger(signo) || signo < 0 || signo > 64) throw new Errno('EINVAL');
    const t = this.host.tasks.get(pid);
    if (!t || t.state === 'Z') throw new Errno('ESRCH');
    if (signo === 0) return;
    this.host.send_signal(t, signo, undefined, this.pid);
  }

  prctl(option: number, arg2?: number, arg3?: number, arg4?: number, arg5?: number): number {
    return sys_prctl(this, option, arg2, arg3, arg4, arg5);
  }

  sigaction(signo: number, handler: SigHandler | null): void {
    if (!Number.isInteger(signo) || signo < 1 || signo > 64 || signo === SIGKILL || signo === SIGSTOP) throw new Errno('EINVAL');
    if (handler) this.sighand.set(signo, handler);
    else this.sighand.delete(signo);
  }

  nanosleep(ns: number): void {
    if (!(ns >= 0)) throw new Errno('EINVAL');
    this.host.clock.advance(ns);
  }

  clock_gettime(clock: number): number {
    if (clock !== 0 && clock !== 1) throw new Errno('EINVAL');
    return clock === 0 ? this.host.clock.realtime() : this.host.clock.now();
  }

  syslog(action: number): string {
    if (action === SYSLOG_ACTION_READ_ALL) return this.host.log.render();
    if (action === SYSLOG_ACTION_CLEAR) {
      this.host.log.clear();
      return '';
    }
    throw new Errno('EINVAL');
  }

  /** Resident pages of this task by kind (for /proc/PID/status and the OOM report). */
  rss(): { anon: number; file: number; shmem: number } {
    const r = this.mm.rss;
    return { anon: r[MM_ANONPAGES]!, file: r[MM_FILEPAGES]!, shmem: r[MM_SHMEMPAGES]! };
  }

}

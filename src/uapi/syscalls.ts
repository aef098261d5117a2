/**
 * The system-call interface user programs are written against — the seam between
 * user/ and kernel/. The model's Process implements it; a Linux backend (FFI to
 * libc) will implement it too, so the same programs run on a real kernel.
 *
 * Conventions: a failing call throws an `Errno` (lib/errno.ts); a faulting memory
 * access in load/store throws a `Signal` (uapi/signal.ts), which ends the program
 * unless it catches it. Sizes and addresses are numbers.
 *
 * Known difference from Linux: programs are run-to-completion functions, not
 * threads. `fork()` returns a handle on the child instead of returning twice, and
 * the caller runs the child's code against that handle; `pause()` parks the task
 * so that the program may return while its process (and its mappings) stay alive
 * (the program then returns HOLD, see user/program.ts, instead of calling exit).
 */
import type { Dirent, Stat, Statfs } from './fcntl.ts';

/** What wait4 reports: the child's pid and its wait status (as in <sys/wait.h>). */
export interface WaitResult {
  pid: number;
  /** Raw wait status: exit code << 8, or the terminating signal number. */
  status: number;
}

/** WIFEXITED / WEXITSTATUS / WIFSIGNALED / WTERMSIG over a raw wait status. */
export const wifexited = (s: number): boolean => (s & 0x7f) === 0;
export const wexitstatus = (s: number): number => (s >> 8) & 0xff;
export const wifsignaled = (s: number): boolean => (s & 0x7f) !== 0 && (s & 0x7f) !== 0x7f;
export const wtermsig = (s: number): number => s & 0x7f;

/** What a signal handler is told (siginfo_t, the fields the model fills). */
export interface SigInfo {
  signo: number;
  code: number;
  /** Sending process (si_pid), 0 from the kernel. */
  pid: number;
  addr: number;
  addrLsb: number;
}

/** A signal handler: runs in the receiving task when the signal is delivered. */
export type SigHandler = (info: SigInfo) => void;

/** si_code for a signal sent by kill(2). */
export const SI_USER = 0;

/** wait4 options. */
export const WNOHANG = 1;

export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;

/** syslog(2) actions used by dmesg. */
export const SYSLOG_ACTION_READ_ALL = 3;
export const SYSLOG_ACTION_CLEAR = 5;

/** The system calls a user program may make. */
export interface Syscalls {
  getpid(): number;
  getppid(): number;

  // Files
  open(path: string, flags: number, mode?: number): number;
  close(fd: number): void;
  read(fd: number, count: number): Uint8Array;
  write(fd: number, data: Uint8Array | string): number;
  pread(fd: number, count: number, offset: number): Uint8Array;
  pwrite(fd: number, data: Uint8Array | string, offset: number): number;
  lseek(fd: number, offset: number, whence: number): number;
  dup(fd: number): number;
  dup2(oldfd: number, newfd: number): number;
  /** pipe(2): [read end, write end]. The model's pipe buffer is unbounded (programs run in turn). */
  pipe(): [number, number];
  ftruncate(fd: number, length: number): void;
  truncate(path: string, length: number): void;
  fallocate(fd: number, mode: number, offset: number, length: number): void;
  stat(path: string): Stat;
  lstat(path: string): Stat;
  /** readlink(2): a symbolic link's target (EINVAL when the name is not a symlink). */
  readlink(path: string): string;
  fstat(fd: number): Stat;
  statfs(path: string): Statfs;
  fstatfs(fd: number): Statfs;
  mkdir(path: string, mode: number): void;
  rmdir(path: string): void;
  unlink(path: string): void;
  rename(oldpath: string, newpath: string): void;
  /** getdents64: the remaining entries of a directory opened with O_DIRECTORY. */
  getdents(fd: number): Dirent[];
  chdir(path: string): void;
  getcwd(): string;
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  umount2(target: string, flags: number): void;
  memfd_create(name: string, flags: number): number;
  ioctl(fd: number, request: number, arg?: unknown): number;

  // Memory
  mmap(addr: number, length: number, prot: number, flags: number, fd: number, offset: number): number;
  munmap(addr: number, length: number): void;
  mprotect(addr: number, length: number, prot: number): void;
  mremap(oldAddr: number, oldSize: number, newSize: number, flags: number, newAddr?: number): number;
  madvise(addr: number, length: number, advice: number): void;
  mbind(addr: number, length: number, mode: number, nodemask: readonly number[], flags: number): void;
  set_mempolicy(mode: number, nodemask: readonly number[]): void;
  /** Read `length` bytes at a virtual address, faulting pages in as a CPU would. */
  load(addr: number, length: number): Uint8Array;
  /** Write bytes at a virtual address, faulting pages in as a CPU would. */
  store(addr: number, data: Uint8Array): void;

  // Processes
  fork(): Syscalls;
  execve(path: string, argv: readonly string[]): void;
  exit(status: number): void;
  /** Park the calling task until a signal ends it; the program may then return. */
  pause(): void;
  /** wait4(2): pid -1 waits for any child; with WNOHANG returns pid 0 when none has exited. */
  wait4(pid: number, options: number): WaitResult;
  kill(pid: number, signo: number): void;
  /**
   * sigaction(2): install a handler (null restores the default action). The model
   * runs it when the signal is delivered: at once in a running task, or by waking
   * a task parked in pause() for the handler's duration (pause then goes on).
   * SIGKILL and SIGSTOP cannot be caught (EINVAL).
   */
  sigaction(signo: number, handler: SigHandler | null): void;
  /** prctl(2); the model has PR_MCE_KILL and PR_MCE_KILL_GET (EINVAL for other options). */
  prctl(option: number, arg2?: number, arg3?: number, arg4?: number, arg5?: number): number;

  // Time and the kernel log
  nanosleep(ns: number): void;
  clock_gettime(clock: number): number;
  syslog(action: number): string;
}

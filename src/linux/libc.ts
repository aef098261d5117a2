/**
 * The C library of the machine we run on, bound through koffi (an FFI whose prebuilt
 * binaries ship inside its npm package). Linux x86-64 only: struct layouts below are
 * x86-64's (arch/x86/include/uapi/asm/stat.h, include/uapi/asm-generic/statfs.h,
 * include/uapi/linux/uio.h), syscall numbers are arch/x86/entry/syscalls/syscall_64.tbl.
 *
 * Every wrapper checks the return value and throws the project's `Errno` with the
 * kernel's name (read from errno through koffi right after the call); nothing here
 * touches memory a caller did not hand in. The binding is made lazily on first use,
 * so importing this module on a machine without koffi or glibc does not fail:
 * `libcUnavailable()` says why it cannot be used.
 */
import { createRequire } from 'node:module';
import { Errno, errnoName } from '../lib/errno.ts';
import type * as KoffiNs from 'koffi';

/** The koffi module's type. */
export type Koffi = typeof KoffiNs.default;
type Fn = (...args: unknown[]) => unknown;

/** x86-64 syscall numbers used through syscall(2) (glibc has no wrapper or a variadic one). */
export const SYS_mremap = 25;
export const SYS_getdents64 = 217;
export const SYS_mbind = 237;
export const SYS_set_mempolicy = 238;
export const SYS_prctl = 157;
export const SYS_get_mempolicy = 239;
export const SYS_memfd_create = 319;

interface Bound {
  koffi: Koffi;
  lib: KoffiNs.LibraryHandle;
  f: Record<string, Fn>;
}

let bound: Bound | null = null;
let failure: string | null = null;

/** C prototypes, bound once. Pointers the kernel reads/writes are Buffers; addresses are intptr_t numbers. */
const PROTOS = [
  'int open(const char *path, int flags, uint32_t mode)',
  'int close(int fd)',
  'intptr_t read(int fd, _Out_ uint8_t *buf, size_t count)',
  'intptr_t write(int fd, const uint8_t *buf, size_t count)',
  'intptr_t pread(int fd, _Out_ uint8_t *buf, size_t count, int64_t off)',
  'intptr_t pwrite(int fd, const uint8_t *buf, size_t count, int64_t off)',
  'int64_t lseek(int fd, int64_t off, int whence)',
  'int dup(int fd)',
  'int dup2(int oldfd, int newfd)',
  'int pipe(_Out_ int32_t *fds)',
  'int pipe2(_Out_ int32_t *fds, int flags)',
  'int ftruncate(int fd, int64_t length)',
  'int truncate(const char *path, int64_t length)',
  'int fallocate(int fd, int mode, int64_t off, int64_t len)',
  'int stat(const char *path, _Out_ uint8_t *st)',
  'int lstat(const char *path, _Out_ uint8_t *st)',
  'int fstat(int fd, _Out_ uint8_t *st)',
  'int statfs(const char *path, _Out_ uint8_t *st)',
  'int fstatfs(int fd, _Out_ uint8_t *st)',
  'int mkdir(const char *path, uint32_t mode)',
  'int rmdir(const char *path)',
  'int unlink(const char *path)',
  'int rename(const char *oldpath, const char *newpath)',
  'int chdir(const char *path)',
  'intptr_t getcwd(_Out_ uint8_t *buf, size_t size)',
  'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  'int umount2(const char *target, int flags)',
  'int ioctl(int fd, unsigned long request, uintptr_t arg)',
  'int ioctl_ptr(int fd, unsigned long request, void *arg)',
  'intptr_t mmap(intptr_t addr, size_t length, int prot, int flags, int fd, int64_t off)',
  'int munmap(intptr_t addr, size_t length)',
  'int mprotect(intptr_t addr, size_t length, int prot)',
  'int madvise(intptr_t addr, size_t length, int advice)',
  'int mincore(intptr_t addr, size_t length, _Out_ uint8_t *vec)',
  'int mlock(intptr_t addr, size_t length)',
  'int munlock(intptr_t addr, size_t length)',
  'intptr_t process_vm_readv(int pid, const uint8_t *local, unsigned long liovcnt, const uint8_t *remote, unsigned long riovcnt, unsigned long flags)',
  'intptr_t process_vm_writev(int pid, const uint8_t *local, unsigned long liovcnt, const uint8_t *remote, unsigned long riovcnt, unsigned long flags)',
  'intptr_t memcpy_out(_Out_ uint8_t *dst, intptr_t src, size_t n)',
  'intptr_t memcpy_in(intptr_t dst, const uint8_t *src, size_t n)',
  'intptr_t memset(intptr_t s, int c, size_t n)',
  'int getpid()',
  'int getppid()',
  'int kill(int pid, int sig)',
  'int eventfd(uint32_t initval, int flags)',
  'int clock_gettime(int clock, _Out_ int64_t *ts)',
  'int nanosleep(const int64_t *req, _Out_ int64_t *rem)',
  'long sysconf(int name)',
  'int klogctl(int type, _Out_ uint8_t *buf, int len)',
  'intptr_t readlink(const char *path, _Out_ uint8_t *buf, size_t size)',
];

/** Symbols bound under another name (a second prototype for one C function). */
const ALIAS: Record<string, string> = { ioctl_ptr: 'ioctl', memcpy_out: 'memcpy', memcpy_in: 'memcpy' };

function bind(): Bound {
  if (bound) return bound;
  if (failure) throw new Errno('ENOSYS', failure);
  try {
    if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`needs Linux x86-64, this is ${process.platform}-${process.arch}`);
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as Koffi;
    const lib = koffi.load('libc.so.6');
    const f: Record<string, Fn> = {};
    for (const proto of PROTOS) {
      const m = /^\s*[\w ]+?\s*\**\s*(\w+)\((.*)\)$/.exec(proto);
      if (!m) throw new Error(`bad prototype ${proto}`);
      const name = m[1]!;
      const real = ALIAS[name];
      const decl = real ? proto.replace(`${name}(`, `${real}(`) : proto;
      const fn = lib.func(decl) as unknown as Fn;
      f[name] = fn;
    }
    // long syscall(long number, ...): called with type/value pairs (koffi's variadic form).
    f.syscall = lib.func('long syscall(long number, ...)') as unknown as Fn;
    bound = { koffi, lib, f };
    return bound;
  } catch (e) {
    failure = `koffi/libc unavailable: ${(e as Error).message}`;
    throw new Errno('ENOSYS', failure);
  }
}

/** Why the libc binding cannot be used here, or null when it can. */
export function libcUnavailable(): string | null {
  try {
    bind();
    return null;
  } catch (e) {
    return (e as Error).message.replace(/^ENOSYS: /, '');
  }
}

/** The koffi module (for callers that marshal their own structs). */
export function koffi(): Koffi {
  return bind().koffi;
}

/** The koffi handle on libc.so.6 (to bind further functions). */
export function libHandle(): KoffiNs.LibraryHandle {
  return bind().lib;
}

/** The errno the last libc call left (koffi saves it right after the call). */
export function errno(): number {
  return bind().koffi.errno();
}

/** The project's Errno for an errno number; numbers the table lacks keep their value in the text. */
export function errnoFor(num: number, what: string): Errno {
  const name = errnoName(num);
  return name ? new Errno(name, what) : new Errno('EIO', `${what}: errno ${num}`);
}

/** Call a bound function; a -1 return (or MAP_FAILED) throws the errno as an Errno. */
function call<T = number>(name: string, ...args: unknown[]): T {
  const b = bind();
  const r = b.f[name]!(...args) as number | bigint;
  if (r === -1 || r === -1n) throw errnoFor(b.koffi.errno(), name);
  return (typeof r === 'bigint' ? Number(r) : r) as T;
}

const enc = new TextEncoder();
const toBytes = (d: Uint8Array | string): Uint8Array => (typeof d === 'string' ? enc.encode(d) : d);

// ---- files ----
/** open(2). */
export const open = (path: string, flags: number, mode = 0o666): number => call('open', path, flags, mode);
/** close(2). */
export const close = (fd: number): void => void call('close', fd);
/** read(2): the bytes read (short at EOF). */
export function read(fd: number, count: number): Uint8Array {
  const buf = Buffer.alloc(count);
  const n = call('read', fd, buf, count);
  return new Uint8Array(buf.buffer, buf.byteOffset, n);
}
/** write(2). */
export function write(fd: number, data: Uint8Array | string): number {
  const b = toBytes(data);
  return call('write', fd, b, b.length);
}
/** pread(2). */
export function pread(fd: number, count: number, offset: number): Uint8Array {
  const buf = Buffer.alloc(count);
  const n = call('pread', fd, buf, count, offset);
  return new Uint8Array(buf.buffer, buf.byteOffset, n);
}
/** pwrite(2). */
export function pwrite(fd: number, data: Uint8Array | string, offset: number): number {
  const b = toBytes(data);
  return call('pwrite', fd, b, b.length, offset);
}
/** lseek(2). */
export const lseek = (fd: number, offset: number, whence: number): number => call('lseek', fd, offset, whence);
/** dup(2). */
export const dup = (fd: number): number => call('dup', fd);
/** dup2(2). */
export const dup2 = (oldfd: number, newfd: number): number => call('dup2', oldfd, newfd);
/** pipe(2): [read end, write end]. */
export function pipe(): [number, number] {
  const fds = new Int32Array(2);
  call('pipe', fds);
  return [fds[0]!, fds[1]!];
}
/** pipe2(2): [read end, write end]. */
export function pipe2(flags: number): [number, number] {
  const fds = new Int32Array(2);
  call('pipe2', fds, flags);
  return [fds[0]!, fds[1]!];
}
/** ftruncate(2). */
export const ftruncate = (fd: number, length: number): void => void call('ftruncate', fd, length);
/** truncate(2). */
export const truncate = (path: string, length: number): void => void call('truncate', path, length);
/** fallocate(2). */
export const fallocate = (fd: number, mode: number, offset: number, length: number): void =>
  void call('fallocate', fd, mode, offset, length);
/** stat(2) into a raw x86-64 struct stat (144 bytes); decode with uapi_stat.ts. */
export function statRaw(kind: 'stat' | 'lstat', path: string): Buffer {
  const b = Buffer.alloc(144);
  call(kind, path, b);
  return b;
}
/** fstat(2) into a raw struct stat. */
export function fstatRaw(fd: number): Buffer {
  const b = Buffer.alloc(144);
  call('fstat', fd, b);
  return b;
}
/** statfs(2) into a raw struct statfs (120 bytes). */
export function statfsRaw(path: string): Buffer {
  const b = Buffer.alloc(120);
  call('statfs', path, b);
  return b;
}
/** fstatfs(2) into a raw struct statfs. */
export function fstatfsRaw(fd: number): Buffer {
  const b = Buffer.alloc(120);
  call('fstatfs', fd, b);
  return b;
}
/** mkdir(2). */
export const mkdir = (path: string, mode: number): void => void call('mkdir', path, mode);
/** rmdir(2). */
export const rmdir = (path: string): void => void call('rmdir', path);
/** unlink(2). */
export const unlink = (path: string): void => void call('unlink', path);
/** rename(2). */
export const rename = (a: string, b: string): void => void call('rename', a, b);
/** chdir(2). */
export const chdir = (path: string): void => void call('chdir', path);
/** getcwd(3). */
export function getcwd(): string {
  const b = Buffer.alloc(4096);
  const r = bind().f.getcwd!(b, b.length) as number;
  if (r === 0) throw errnoFor(errno(), 'getcwd');
  return b.toString('utf8', 0, b.indexOf(0));
}
/** mount(2). */
export const mount = (source: string, target: string, fstype: string, flags: number, data: string): void =>
  void call('mount', source, target, fstype, flags, data || null);
/** umount2(2). */
export const umount2 = (target: string, flags: number): void => void call('umount2', target, flags);
/** getdents64(2) into `buf`: the number of bytes filled, 0 at the end. */
export function getdents64(fd: number, buf: Buffer): number {
  return call('syscall', SYS_getdents64, 'int', fd, 'uint8_t *', buf, 'size_t', buf.length);
}
/** memfd_create(2). */
export const memfd_create = (name: string, flags: number): number =>
  call('syscall', SYS_memfd_create, 'const char *', name, 'unsigned int', flags);
/**
 * ioctl(2): `arg` is an integer (passed by value) or a buffer the kernel reads and
 * writes in place (a struct, marshalled by the caller). Returns the ioctl's result.
 */
export function ioctl(fd: number, request: number, arg: number | bigint | Uint8Array = 0): number {
  return typeof arg === 'number' || typeof arg === 'bigint' ? call('ioctl', fd, request, arg) : call('ioctl_ptr', fd, request, arg);
}
/** eventfd(2). */
export const eventfd = (initval: number, flags: number): number => call('eventfd', initval, flags);

// ---- memory ----
/** mmap(2): the address of the new mapping. */
export const mmap = (addr: number, length: number, prot: number, flags: number, fd: number, offset: number): number =>
  call('mmap', addr, length, prot, flags, fd, offset);
/** munmap(2). */
export const munmap = (addr: number, length: number): void => void call('munmap', addr, length);
/** mprotect(2). */
export const mprotect = (addr: number, length: number, prot: number): void => void call('mprotect', addr, length, prot);
/** madvise(2). */
export const madvise = (addr: number, length: number, advice: number): void => void call('madvise', addr, length, advice);
/** mlock(2). */
export const mlock = (addr: number, length: number): void => void call('mlock', addr, length);
/** munlock(2). */
export const munlock = (addr: number, length: number): void => void call('munlock', addr, length);
/** mincore(2): one byte per page, bit 0 set when resident. */
export function mincore(addr: number, length: number, pageSize = 4096): Uint8Array {
  const v = Buffer.alloc(Math.ceil(length / pageSize));
  call('mincore', addr, length, v);
  return v;
}
/** mremap(2) (through syscall(2): glibc's wrapper is variadic). */
export const mremap = (oldAddr: number, oldSize: number, newSize: number, flags: number, newAddr = 0): number =>
  call('syscall', SYS_mremap, 'intptr_t', oldAddr, 'size_t', oldSize, 'size_t', newSize, 'int', flags, 'intptr_t', newAddr);
/** mbind(2) with a nodemask of `maxnode` bits (through syscall(2): no glibc wrapper). */
export function mbind(addr: number, length: number, mode: number, nodes: readonly number[], flags: number): void {
  const maxnode = Math.max(64, ...nodes.map((n) => n + 1));
  const mask = new BigUint64Array(Math.ceil(maxnode / 64));
  for (const n of nodes) mask[Math.floor(n / 64)]! |= 1n << BigInt(n % 64);
  call('syscall', SYS_mbind, 'intptr_t', addr, 'size_t', length, 'int', mode, 'uint64_t *', mask, 'unsigned long', maxnode + 1, 'unsigned int', flags);
}
/** prctl(2) with integer arguments (through syscall(2): glibc's wrapper is variadic). */
export const prctl = (option: number, arg2 = 0, arg3 = 0, arg4 = 0, arg5 = 0): number =>
  call('syscall', SYS_prctl, 'int', option, 'unsigned long', arg2, 'unsigned long', arg3, 'unsigned long', arg4, 'unsigned long', arg5);
/** set_mempolicy(2). */
export function set_mempolicy(mode: number, nodes: readonly number[]): void {
  const maxnode = Math.max(64, ...nodes.map((n) => n + 1));
  const mask = new BigUint64Array(Math.ceil(maxnode / 64));
  for (const n of nodes) mask[Math.floor(n / 64)]! |= 1n << BigInt(n % 64);
  call('syscall', SYS_set_mempolicy, 'int', mode, 'uint64_t *', mask, 'unsigned long', maxnode + 1);
}
/**
 * process_vm_readv/process_vm_writev on one local and one remote range: the byte
 * count moved (short when the remote range faults part-way), or throws (EFAULT when
 * the first byte cannot be faulted in).
 */
export function processVm(dir: 'read' | 'write', pid: number, local: number, remote: number, length: number): number {
  const l = new BigUint64Array([BigInt(local), BigInt(length)]);
  const r = new BigUint64Array([BigInt(remote), BigInt(length)]);
  return call(dir === 'read' ? 'process_vm_readv' : 'process_vm_writev', pid, l, 1, r, 1, 0);
}
/** Copy from an address we own (and know to be mapped) into a new buffer. */
export function peek(addr: number, length: number): Uint8Array {
  const b = Buffer.alloc(length);
  bind().f.memcpy_out!(b, addr, length);
  return new Uint8Array(b.buffer, b.byteOffset, length);
}
/** Copy bytes to an address we own (and know to be mapped and writable). */
export function poke(addr: number, data: Uint8Array): void {
  bind().f.memcpy_in!(addr, data, data.length);
}
/** memset(3) over an address range we own (and know to be mapped and writable). */
export function fill(addr: number, c: number, length: number): void {
  bind().f.memset!(addr, c, length);
}

// ---- processes and time ----
/** getpid(2). */
export const getpid = (): number => call('getpid');
/** getppid(2). */
export const getppid = (): number => call('getppid');
/** kill(2). */
export const kill = (pid: number, sig: number): void => void call('kill', pid, sig);
/** clock_gettime(2) in nanoseconds. */
export function clock_gettime(clock: number): number {
  const ts = new BigInt64Array(2);
  call('clock_gettime', clock, ts);
  return Number(ts[0]!) * 1e9 + Number(ts[1]!);
}
/** nanosleep(2). */
export function nanosleep(ns: number): void {
  const req = new BigInt64Array([BigInt(Math.floor(ns / 1e9)), BigInt(Math.floor(ns % 1e9))]);
  call('nanosleep', req, new BigInt64Array(2));
}
/** klogctl(3) SYSLOG_ACTION_READ_ALL (3): the kernel log buffer's text. */
export function klogReadAll(): string {
  const b = Buffer.alloc(1 << 20);
  const n = call('klogctl', 3, b, b.length);
  return b.toString('utf8', 0, n);
}
/** readlink(2). */
export function readlink(path: string): string {
  const b = Buffer.alloc(4096);
  const n = call('readlink', path, b, b.length);
  return b.toString('utf8', 0, n);
}
/** sysconf(3). _SC_PAGESIZE is 30. */
export const sysconf = (name: number): number => call('sysconf', name);

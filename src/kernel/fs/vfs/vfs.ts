/**
 * The VFS of one host: registered filesystem types (fs/filesystems.c), the mount
 * namespace, character devices, and the system calls of the file layer. Every
 * call that takes a name resolves it against the caller's cwd (a Path) and throws
 * Errno exactly where Linux returns -errno.
 */
import { Errno } from '../../../lib/errno.ts';
import type { Dirent, Stat, Statfs } from '../../../uapi/fcntl.ts';
import { CharDevices } from './char_dev.ts';
import { create_console, DEVPTS_SUPER_MAGIC, type ConsoleOptions } from './console.ts';
import { do_mkdirat, do_renameat2, do_rmdir, do_unlinkat } from './dirops.ts';
import type { File } from './file.ts';
import type { Inode } from './inode.ts';
import { init_pseudo } from './libfs.ts';
import { mntget, mntput, type Mount, type Path } from './mount.ts';
import { MountNamespace, type MountInfo } from './namespace.ts';
import {
  d_path,
  do_chdir,
  do_getcwd,
  do_sys_ftruncate,
  do_sys_open,
  do_sys_truncate,
  vfs_fallocate,
} from './open.ts';
import { create_pipe_files, PIPEFS_MAGIC } from './pipe.ts';
import { ksys_lseek, ksys_pread64, ksys_pwrite64, ksys_read, ksys_write } from './read_write.ts';
import { iterate_dir } from './readdir.ts';
import { do_readlinkat } from './readlink.ts';
import { user_statfs, vfs_getattr, vfs_stat, vfs_statfs } from './stat.ts';
import { FS_REQUIRES_DEV, type FileSystemType } from './super.ts';

const utf8 = new TextEncoder();

/** One host's virtual filesystem switch. */
export class Vfs {
  private readonly fsTypes = new Map<string, FileSystemType>();
  /** The mount tree. */
  readonly ns: MountNamespace;
  /** Character device drivers (register_chrdev). */
  readonly chrdevs = new CharDevices();
  private pipeMnt: Mount | null = null;
  private ptsMnt: Mount | null = null;

  constructor(readonly clockNs: () => number) {
    this.ns = new MountNamespace((name) => this.fsTypes.get(name));
  }

  /** register_filesystem(): EBUSY if the name is taken. */
  register_filesystem(type: FileSystemType): void {
    if (this.fsTypes.has(type.name)) throw new Errno('EBUSY');
    this.fsTypes.set(type.name, type);
  }

  /** unregister_filesystem(). */
  unregister_filesystem(type: FileSystemType): void {
    if (this.fsTypes.get(type.name) === type) this.fsTypes.delete(type.name);
  }

  /** get_fs_type(). */
  get_fs_type(name: string): FileSystemType | undefined {
    return this.fsTypes.get(name);
  }

  /** /proc/filesystems ("nodev\ttmpfs"). */
  proc_filesystems(): string {
    let out = '';
    for (const t of this.fsTypes.values()) out += `${t.fs_flags & FS_REQUIRES_DEV ? '' : 'nodev'}\t${t.name}\n`;
    return out;
  }

  /** Mount the root filesystem; returns "/" (the initial cwd of every process). */
  mount_root(fstype: string, data = '', devname = 'none'): Path {
    const type = this.fsTypes.get(fstype);
    if (!type) throw new Errno('ENODEV');
    return this.ns.mount_root(type, data, devname);
  }

  /** The namespace root. */
  rootPath(): Path {
    return this.ns.rootPath();
  }

  /** kern_mount(): an internal mount of a registered or private type (flags 0: vfs_kern_mount). */
  kern_mount(type: FileSystemType, data = '', flags?: number): Mount {
    return this.ns.kern_mount(type, data, flags);
  }

  /** path_get(): keep a Path (a cwd) alive; it makes its mount busy. */
  path_get(path: Path): Path {
    mntget(path.mnt);
    return path;
  }

  /** path_put(): drop a Path taken with path_get or returned by chdir. */
  path_put(path: Path): void {
    mntput(path.mnt);
  }

  /** open(2). */
  open(cwd: Path, path: string, flags: number, mode = 0o666): File {
    return do_sys_open(this, cwd, path, flags, mode);
  }

  /** read(2). */
  read(file: File, count: number): Uint8Array {
    return ksys_read(file, count);
  }

  /** write(2); strings are UTF-8 encoded. */
  write(file: File, data: Uint8Array | string): number {
    return ksys_write(file, typeof data === 'string' ? utf8.encode(data) : data);
  }

  /** pread64(2). */
  pread(file: File, count: number, pos: number): Uint8Array {
    return ksys_pread64(file, count, pos);
  }

  /** pwrite64(2). */
  pwrite(file: File, data: Uint8Array | string, pos: number): number {
    return ksys_pwrite64(file, typeof data === 'string' ? utf8.encode(data) : data, pos);
  }

  /** lseek(2). */
  lseek(file: File, offset: number, whence: number): number {
    return ksys_lseek(file, offset, whence);
  }

  /** ftruncate(2). */
  ftruncate(file: File, length: number): void {
    do_sys_ftruncate(file, length);
  }

  /** truncate(2). */
  truncate(cwd: Path, path: string, length: number): void {
    do_sys_truncate(this, cwd, path, length);
  }

  /** fallocate(2). */
  fallocate(file: File, mode: number, offset: number, length: number): void {
    vfs_fallocate(file, mode, offset, length);
  }

  /** stat(2). */
  stat(cwd: Path, path: string): Stat {
    return vfs_stat(this, cwd, path, true);
  }

  /** lstat(2). */
  lstat(cwd: Path, path: string): Stat {
    return vfs_stat(this, cwd, path, false);
  }

  /** readlink(2). */
  readlink(cwd: Path, path: string): string {
    return do_readlinkat(this, cwd, path);
  }

  /** fstat(2). */
  fstat(file: File): Stat {
    return vfs_getattr(file.f_path.dentry);
  }

  /** statfs(2). */
  statfs(cwd: Path, path: string): Statfs {
    return user_statfs(this, cwd, path);
  }

  /** fstatfs(2). */
  fstatfs(file: File): Statfs {
    return vfs_statfs(file.f_path);
  }

  /** mkdir(2); `mode` is used as given (the caller applies its umask). */
  mkdir(cwd: Path, path: string, mode = 0o777): void {
    do_mkdirat(this, cwd, path, mode);
  }

  /** rmdir(2). */
  rmdir(cwd: Path, path: string): void {
    do_rmdir(this, cwd, path);
  }

  /** unlink(2). */
  unlink(cwd: Path, path: string): void {
    do_unlinkat(this, cwd, path);
  }

  /** rename(2). */
  rename(cwd: Path, oldpath: string, newpath: string): void {
    do_renameat2(this, cwd, oldpath, newpath);
  }

  /** getdents64(2): the remaining entries, "." and ".." first. */
  getdents(file: File): Dirent[] {
    return iterate_dir(file);
  }

  /** chdir(2): the new cwd, holding a mount reference (path_put the old one). */
  chdir(cwd: Path, path: string): Path {
    return do_chdir(this, cwd, path);
  }

  /** getcwd(2). */
  getcwd(cwd: Path): string {
    return do_getcwd(this, cwd);
  }

  /** d_path(): the name of an open file's path (/proc/PID/fd, /proc/PID/maps). */
  d_path(path: Path): string {
    return d_path(this, path);
  }

  /** mount(2). */
  do_mount(cwd: Path, source: string, target: string, fstype: string, flags: number, data = ''): void {
    this.ns.do_mount(cwd, source, target, fstype, flags, data);
  }

  /** umount2(2). */
  umount(cwd: Path, target: string, flags = 0): void {
    this.ns.umount(cwd, target, flags);
  }

  /** /proc/mounts. */
  proc_mounts(): string {
    return this.ns.proc_mounts();
  }

  /** The attached mounts, in mount order. */
  mountpoints(): IterableIterator<MountInfo> {
    return this.ns.mountpoints();
  }

  /** init_special_inode(): make `inode` a device node (S_IFCHR) served by chrdevs. */
  init_special_inode(inode: Inode, mode: number, rdev: number): void {
    this.chrdevs.init_special_inode(inode, mode, rdev);
  }

  /** pipe(2): [read end, write end]. */
  create_pipe(): [File, File] {
    this.pipeMnt ??= this.kern_mount(init_pseudo('pipefs', PIPEFS_MAGIC, this.clockNs));
    return create_pipe_files(this.pipeMnt);
  }

  /** A file connected to the host's terminal (writes → callback, reads ← input). */
  create_console(opts: ConsoleOptions): File {
    this.ptsMnt ??= this.kern_mount(init_pseudo('devpts', DEVPTS_SUPER_MAGIC, this.clockNs));
    return create_console(this.ptsMnt, opts);
  }
}

/**
 * proc, sysfs and debugfs over PseudoDir trees: seq_file reads, sysfs stores,
 * what each refuses and with which errno, dynamic /proc/PID entries.
 *
 *   /sys/kernel/mm/transparent_hugepage/enabled   show+store (0644)
 *   /sys/kernel/ro                                show only (0444)
 *   /proc/meminfo                                 show only
 *   /proc/sys/vm/drop_caches                      store only (0200)
 *   /proc/<pid>/status                            dynamic
 *   /proc/self -> <pid>                           symlink
 *   /sys/kernel/debug/dmem/free_dpages            show only
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { Errno } from '../../src/lib/errno.ts';
import {
  DEBUGFS_MAGIC,
  O_CREAT,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  PROC_SUPER_MAGIC,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  SEEK_END,
  SEEK_SET,
  SYSFS_MAGIC,
} from '../../src/uapi/fcntl.ts';
import { PseudoDir } from '../../src/kernel/fs/pseudo/index.ts';
import type { Path, Vfs } from '../../src/kernel/fs/vfs/index.ts';
import { boot, errno, text, type Booted } from './helpers.ts';

let b: Booted;
let v: Vfs;
let r: Path;
let thp: string;
let renders: number;
let counter: number;
const procs = new Map<number, PseudoDir>();

beforeEach(() => {
  b = boot();
  v = b.vfs;
  r = b.root;
  thp = 'always [madvise] never';
  renders = 0;
  counter = 0;
  b.pseudo.sys.dir('kernel/mm/transparent_hugepage').file('enabled', {
    show: () => `${thp}\n`,
    store: (t) => {
      const w = t.trim();
      if (!['always', 'madvise', 'never'].includes(w)) throw new Errno('EINVAL');
      thp = ['always', 'madvise', 'never'].map((x) => (x === w ? `[${x}]` : x)).join(' ');
    },
  });
  b.pseudo.sys.dir('kernel').file('ro', { show: () => 'ro\n' });
  b.pseudo.sys.dir('kernel').file('big', { show: () => '', store: () => {} });
  b.pseudo.sys.dir('kernel').file('wo', { store: () => {}, mode: 0o200 });
  b.pseudo.proc.file('meminfo', {
    show: () => {
      renders++;
      counter++;
      return `MemTotal: ${counter}\nMemFree: ${counter}\n`;
    },
  });
  b.pseudo.proc.file('sys/vm/drop_caches', { store: () => {}, mode: 0o200 });
  b.pseudo.debug.dir('dmem').file('free_dpages', { show: () => '7\n' });
  procs.clear();
  procs.set(1, new PseudoDir().file('status', { show: () => 'Pid:\t1\n' }));
  procs.set(42, new PseudoDir().file('status', { show: () => 'Pid:\t42\n' }));
  b.pseudo.proc.setDynamic({ lookup: (n) => procs.get(Number(n)), list: () => [...procs.keys()].map(String) });
  b.pseudo.proc.symlink('self', () => '42');
});

/** Read a whole file with `chunk`-byte reads. */
function cat(path: string, chunk = 4096): string {
  const f = v.open(r, path, O_RDONLY);
  let out = '';
  for (;;) {
    const got = v.read(f, chunk);
    if (got.length === 0) break;
    out += text(got);
  }
  f.fput();
  return out;
}

describe('sysfs', () => {
  it('reads show() and each write() passes its buffer to store()', () => {
    expect(cat('/sys/kernel/mm/transparent_hugepage/enabled')).toBe('always [madvise] never\n');
    const f = v.open(r, '/sys/kernel/mm/transparent_hugepage/enabled', O_WRONLY | O_CREAT | O_TRUNC, 0o644);
    expect(v.write(f, 'never\n')).toBe(6);
    f.fput();
    expect(cat('/sys/kernel/mm/transparent_hugepage/enabled')).toBe('always madvise [never]\n');
  });

  it('a store that throws fails that write() with its errno', () => {
    const f = v.open(r, '/sys/kernel/mm/transparent_hugepage/enabled', O_WRONLY);
    expect(errno(() => v.write(f, 'sometimes'))).toBe('EINVAL');
  });

  it('opening for write without store, or for read without show, is EACCES even for root', () => {
    expect(errno(() => v.open(r, '/sys/kernel/ro', O_WRONLY))).toBe('EACCES');
    expect(errno(() => v.open(r, '/sys/kernel/ro', O_RDWR))).toBe('EACCES');
    expect(errno(() => v.open(r, '/sys/kernel/wo', O_RDONLY))).toBe('EACCES');
    expect(errno(() => v.open(r, '/sys/kernel/wo', O_WRONLY).fput())).toBe('ok');
  });

  it('one write passes at most a page to store', () => {
    const f = v.open(r, '/sys/kernel/big', O_WRONLY);
    expect(v.write(f, new Uint8Array(5000).fill(0x31))).toBe(4096);
  });

  it('attributes stat as 4096-byte regular files; directories count their subdirectories', () => {
    const st = v.stat(r, '/sys/kernel/ro');
    expect([st.mode, st.size]).toEqual([S_IFREG | 0o444, 4096]);
    expect(v.stat(r, '/sys/kernel/mm/transparent_hugepage/enabled').mode).toBe(S_IFREG | 0o644);
    const d = v.stat(r, '/sys/kernel');
    expect([d.mode, d.nlink]).toEqual([S_IFDIR | 0o755, 4]); // mm, debug
  });

  it('statfs is simple_statfs with SYSFS_MAGIC', () => {
    const st = v.statfs(r, '/sys');
    expect([st.type, st.bsize, st.blocks, st.files, st.namelen]).toEqual([SYSFS_MAGIC, 4096, 0, 0, 255]);
  });

  it('unlink and rename are EPERM; rmdir of a file is ENOTDIR', () => {
    expect(errno(() => v.unlink(r, '/sys/kernel/ro'))).toBe('EPERM');
    expect(errno(() => v.rename(r, '/sys/kernel/ro', '/sys/kernel/ro2'))).toBe('EPERM');
    expect(errno(() => v.rmdir(r, '/sys/kernel/ro'))).toBe('ENOTDIR');
    expect(errno(() => v.stat(r, '/sys/nope'))).toBe('ENOENT');
  });
});

describe('proc', () => {
  it('a reader sees one consistent snapshot across chunked reads; lseek(0) renders afresh', () => {
    const f = v.open(r, '/proc/meminfo', O_RDONLY);
    let got = '';
    for (let chunk = v.read(f, 5); chunk.length; chunk = v.read(f, 5)) got += text(chunk);
    expect(got).toBe('MemTotal: 1\nMemFree: 1\n');
    expect(renders).toBe(1);
    v.lseek(f, 0, SEEK_SET);
    expect(text(v.read(f, 100))).toBe('MemTotal: 2\nMemFree: 2\n');
    expect(errno(() => v.lseek(f, 0, SEEK_END))).toBe('EINVAL');
    f.fput();
  });

  it('a file without store opens for writing (root) and fails the write with EIO', () => {
    const f = v.open(r, '/proc/meminfo', O_WRONLY);
    expect(errno(() => v.write(f, '1'))).toBe('EIO');
    const w = v.open(r, '/proc/sys/vm/drop_caches', O_WRONLY);
    expect(v.write(w, '3\n')).toBe(2);
  });

  it('dynamic entries appear and disappear with their owner', () => {
    expect(cat('/proc/42/status')).toBe('Pid:\t42\n');
    const d = v.open(r, '/proc', O_RDONLY | O_DIRECTORY);
    expect(v.getdents(d).map((e) => e.name)).toEqual(['.', '..', 'meminfo', 'sys', 'self', '1', '42']);
    procs.delete(42);
    expect(errno(() => v.stat(r, '/proc/42/status'))).toBe('ENOENT');
    expect(errno(() => v.stat(r, '/proc/42'))).toBe('ENOENT');
    procs.set(42, new PseudoDir().file('status', { show: () => 'Pid:\t42 (new)\n' }));
    expect(cat('/proc/42/status')).toBe('Pid:\t42 (new)\n');
  });

  it('/proc/self is a symlink: stat follows it, lstat does not', () => {
    expect(v.lstat(r, '/proc/self').mode).toBe(S_IFLNK | 0o777);
    expect(v.stat(r, '/proc/self').mode).toBe(S_IFDIR | 0o555);
    expect(cat('/proc/self/status')).toBe('Pid:\t42\n');
  });

  it('a symlink loop is ELOOP; O_NOFOLLOW on a symlink is ELOOP', () => {
    b.pseudo.proc.symlink('loop', 'loop');
    expect(errno(() => v.stat(r, '/proc/loop'))).toBe('ELOOP');
    expect(errno(() => v.open(r, '/proc/self', O_RDONLY | O_NOFOLLOW))).toBe('ELOOP');
    expect(errno(() => v.open(r, '/proc/self/', O_RDONLY | O_NOFOLLOW).fput())).toBe('ok');
  });

  it('missing names are ENOENT even for mkdir; unlink is EPERM; statfs has PROC_SUPER_MAGIC', () => {
    expect(errno(() => v.mkdir(r, '/proc/x', 0o755))).toBe('ENOENT');
    expect(errno(() => v.unlink(r, '/proc/meminfo'))).toBe('EPERM');
    expect(v.statfs(r, '/proc').type).toBe(PROC_SUPER_MAGIC);
    expect(v.stat(r, '/proc/meminfo').size).toBe(0);
  });

  it('hidepid= and subset= show in /proc/mounts', () => {
    v.mkdir(r, '/tmp/p', 0o755);
    v.do_mount(r, 'proc', '/tmp/p', 'proc', 0, 'hidepid=2,subset=pid');
    expect(v.proc_mounts()).toContain('proc /tmp/p proc rw,relatime,hidepid=invisible,subset=pid 0 0');
    expect(cat('/tmp/p/1/status')).toBe('Pid:\t1\n');
  });
});

describe('debugfs', () => {
  it('serves its tree at /sys/kernel/debug; writes without store are EACCES', () => {
    expect(cat('/sys/kernel/debug/dmem/free_dpages')).toBe('7\n');
    const f = v.open(r, '/sys/kernel/debug/dmem/free_dpages', O_WRONLY);
    expect(errno(() => v.write(f, '1'))).toBe('EACCES');
    expect(v.statfs(r, '/sys/kernel/debug').type).toBe(DEBUGFS_MAGIC);
    expect(v.stat(r, '/sys/kernel/debug').mode).toBe(S_IFDIR | 0o700);
  });

  it('mode= shows when not 0700; a second mount is the same superblock', () => {
    v.mkdir(r, '/tmp/dbg', 0o755);
    v.do_mount(r, 'debugfs', '/tmp/dbg', 'debugfs', 0, 'mode=755');
    expect(v.stat(r, '/tmp/dbg').dev).toBe(v.stat(r, '/sys/kernel/debug').dev);
    expect(v.proc_mounts()).toContain('debugfs /tmp/dbg debugfs rw,relatime,mode=755 0 0');
  });
});

/**
 * Character devices (/dev/null, /dev/zero, /dev/full, register_chrdev), pipes and
 * the console file.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { O_RDONLY, O_RDWR, S_IFCHR, S_IFIFO, SEEK_SET } from '../../src/uapi/fcntl.ts';
import { console_push_input, MKDEV, TCGETS, type Path, type Vfs } from '../../src/kernel/fs/vfs/index.ts';
import { boot, errno, text, type Booted } from './helpers.ts';

let b: Booted;
let v: Vfs;
let r: Path;

beforeEach(() => {
  b = boot();
  v = b.vfs;
  r = b.root;
});

describe('drivers/char/mem.c', () => {
  it('/dev/null reads end of file, swallows writes, and every seek lands at 0', () => {
    const f = v.open(r, '/dev/null', O_RDWR);
    expect(v.read(f, 100)).toEqual(new Uint8Array(0));
    expect(v.write(f, 'hello')).toBe(5);
    expect(v.lseek(f, 1234, SEEK_SET)).toBe(0);
    const st = v.stat(r, '/dev/null');
    expect([st.mode, st.rdev]).toEqual([S_IFCHR | 0o666, 0x103]);
  });

  it('/dev/zero reads zeros and swallows writes; /dev/full refuses writes with ENOSPC', () => {
    const z = v.open(r, '/dev/zero', O_RDWR);
    expect(v.read(z, 10)).toEqual(new Uint8Array(10));
    expect(v.write(z, 'abc')).toBe(3);
    const full = v.open(r, '/dev/full', O_RDWR);
    expect(v.read(full, 3)).toEqual(new Uint8Array(3));
    expect(errno(() => v.write(full, 'x'))).toBe('ENOSPC');
  });

  it('a device node with no driver is ENXIO at open; registering one makes it work', () => {
    b.devtmpfs.devtmpfs_create_node('kvm', 0o660, MKDEV(10, 232));
    expect(errno(() => v.open(r, '/dev/kvm', O_RDWR))).toBe('ENXIO');
    v.chrdevs.register_chrdev_region(10, 232, 1, 'kvm', { unlocked_ioctl: () => 12 });
    const f = v.open(r, '/dev/kvm', O_RDWR);
    expect(f.f_op.unlocked_ioctl!(f, 0xae00, 0)).toBe(12);
    expect(errno(() => v.read(f, 1))).toBe('EINVAL'); // no ->read: FMODE_CAN_READ unset
  });

  it('register_chrdev with major 0 hands out 254 down; a taken range is EBUSY', () => {
    expect(v.chrdevs.register_chrdev(0, 'dax', {})).toBe(254);
    expect(v.chrdevs.register_chrdev(0, 'dma_heap', {})).toBe(253);
    expect(errno(() => v.chrdevs.register_chrdev(1, 'other', {}))).toBe('EBUSY');
    expect(v.chrdevs.chrdev_show()).toBe('Character devices:\n  1 mem\n253 dma_heap\n254 dax\n');
  });

  it('devtmpfs nodes appear in every devtmpfs mount; nested names create directories', () => {
    b.devtmpfs.devtmpfs_create_node('dax0.0', 0o600, MKDEV(254, 0));
    b.devtmpfs.devtmpfs_create_node('vfio/vfio', 0o666, MKDEV(10, 196));
    v.mkdir(r, '/tmp/dev2', 0o755);
    v.do_mount(r, 'devtmpfs', '/tmp/dev2', 'devtmpfs', 0, '');
    expect(v.stat(r, '/tmp/dev2/dax0.0').rdev).toBe(v.stat(r, '/dev/dax0.0').rdev);
    expect(v.stat(r, '/dev/vfio/vfio').mode).toBe(S_IFCHR | 0o666);
    b.devtmpfs.devtmpfs_delete_node('dax0.0');
    expect(errno(() => v.stat(r, '/tmp/dev2/dax0.0'))).toBe('ENOENT');
    expect(errno(() => b.devtmpfs.devtmpfs_create_node('null', 0o666, MKDEV(1, 3)))).toBe('EEXIST');
  });

  it('a nodev mount refuses to open device nodes with EACCES', () => {
    v.mkdir(r, '/tmp/dv', 0o755);
    v.do_mount(r, 'devtmpfs', '/tmp/dv', 'devtmpfs', 4 /* MS_NODEV */, '');
    expect(errno(() => v.open(r, '/tmp/dv/null', O_RDONLY))).toBe('EACCES');
  });
});

describe('pipes (fs/pipe.c)', () => {
  it('bytes come out in order; an empty pipe with a writer is EAGAIN, without one end of file', () => {
    const [rd, wr] = v.create_pipe();
    expect(v.write(wr, 'hello ')).toBe(6);
    expect(v.write(wr, 'world')).toBe(5);
    expect(text(v.read(rd, 8))).toBe('hello wo');
    expect(text(v.read(rd, 8))).toBe('rld');
    expect(errno(() => v.read(rd, 1))).toBe('EAGAIN');
    wr.fput();
    expect(v.read(rd, 1)).toEqual(new Uint8Array(0));
  });

  it('writing with no readers is EPIPE', () => {
    const [rd, wr] = v.create_pipe();
    rd.fput();
    expect(errno(() => v.write(wr, 'x'))).toBe('EPIPE');
  });

  it('the ends are streams: lseek and pread are ESPIPE; the wrong direction is EBADF', () => {
    const [rd, wr] = v.create_pipe();
    expect(errno(() => v.lseek(rd, 0, SEEK_SET))).toBe('ESPIPE');
    expect(errno(() => v.pread(rd, 1, 0))).toBe('ESPIPE');
    expect(errno(() => v.read(wr, 1))).toBe('EBADF');
    expect(errno(() => v.write(rd, 'x'))).toBe('EBADF');
    expect(v.fstat(rd).mode).toBe(S_IFIFO | 0o600);
    expect(v.d_path(rd.f_path)).toBe(`pipe:[${v.fstat(rd).ino}]`);
  });

  it('a dup (get) of the write end keeps the pipe open for writing', () => {
    const [rd, wr] = v.create_pipe();
    const dup = wr.get();
    wr.fput();
    expect(errno(() => v.read(rd, 1))).toBe('EAGAIN');
    dup.fput();
    expect(v.read(rd, 1)).toHaveLength(0);
  });
});

describe('the console', () => {
  it('writes go to the host, reads consume the input then report end of file', () => {
    const out: string[] = [];
    const c = v.create_console({ write: (d) => out.push(text(d)), input: 'ls\n' });
    expect(v.write(c, 'prompt$ ')).toBe(8);
    expect(out).toEqual(['prompt$ ']);
    expect(text(v.read(c, 2))).toBe('ls');
    expect(text(v.read(c, 10))).toBe('\n');
    expect(v.read(c, 10)).toHaveLength(0);
    console_push_input(c, 'more');
    expect(text(v.read(c, 10))).toBe('more');
    expect(errno(() => v.lseek(c, 0, SEEK_SET))).toBe('ESPIPE');
    expect(c.f_op.unlocked_ioctl!(c, TCGETS, null)).toBe(0);
    expect(errno(() => c.f_op.unlocked_ioctl!(c, 0x1234, null))).toBe('ENOTTY');
    expect(v.d_path(c.f_path)).toBe('/dev/pts/0');
  });
});

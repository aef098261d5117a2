/**
 * The mount tree: mount(2), umount2(2), /proc/mounts, crossing mounts in the walk.
 *
 *   /            rootfs (tmpfs, mode=0755)
 *   ├── proc  sys  sys/kernel/debug  dev  tmp
 *   └── mnt/
 *       └── x/   ← test mounts land here, hiding x/old
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { MNT_DETACH, MS_BIND, MS_NODEV, MS_NOSUID, MS_RDONLY, MS_REMOUNT, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY, TMPFS_MAGIC } from '../../src/uapi/fcntl.ts';
import { ST_NODEV, ST_NOSUID, ST_RDONLY, ST_RELATIME, ST_VALID, type Path, type Vfs } from '../../src/kernel/fs/vfs/index.ts';
import { boot, errno, text, type Booted } from './helpers.ts';

let b: Booted;
let v: Vfs;
let r: Path;

beforeEach(() => {
  b = boot();
  v = b.vfs;
  r = b.root;
  v.mkdir(r, '/mnt', 0o755);
  v.mkdir(r, '/mnt/x', 0o755);
  v.open(r, '/mnt/x/old', O_CREAT | O_WRONLY, 0o644).fput();
});

describe('/proc/mounts', () => {
  it('lists the boot mounts in mount order with each superblock\'s options', () => {
    expect(v.proc_mounts()).toBe(
      [
        'rootfs / tmpfs rw,relatime,mode=755,inode64 0 0',
        'proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0',
        'sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0',
        'debugfs /sys/kernel/debug debugfs rw,nosuid,nodev,noexec,relatime 0 0',
        'devtmpfs /dev devtmpfs rw,nosuid,relatime,mode=755,inode64 0 0',
        'tmpfs /tmp tmpfs rw,nosuid,nodev,relatime,inode64 0 0',
        '',
      ].join('\n'),
    );
  });

  it('shows size in KiB only when it differs from half of RAM, and nr_inodes and mode likewise', () => {
    // 4096 frames of RAM: the default is 2048 pages (8192k); 25% is 1024 pages.
    v.do_mount(r, 'none', '/mnt/x', 'tmpfs', 0, 'size=25%,nr_inodes=100,mode=700');
    expect(v.proc_mounts().split('\n').at(-2)).toBe('none /mnt/x tmpfs rw,relatime,size=4096k,nr_inodes=100,mode=700,inode64 0 0');
    v.umount(r, '/mnt/x', 0);
    v.do_mount(r, 'none', '/mnt/x', 'tmpfs', 0, 'size=50%');
    expect(v.proc_mounts().split('\n').at(-2)).toBe('none /mnt/x tmpfs rw,relatime,inode64 0 0');
  });

  it('escapes spaces in mount points as \\040', () => {
    v.mkdir(r, '/mnt/a b', 0o755);
    v.do_mount(r, 'my src', '/mnt/a b', 'tmpfs', 0, 'size=1m,huge=within_size');
    expect(v.proc_mounts()).toContain('my\\040src /mnt/a\\040b tmpfs rw,relatime,size=1024k,inode64,huge=within_size 0 0');
  });
});

describe('mount(2) errors', () => {
  it.each([
    ['an unknown filesystem type', 'nosuchfs', '/mnt/x', '', 'ENODEV'],
    ['no filesystem type', '', '/mnt/x', '', 'EINVAL'],
    ['a missing target', 'tmpfs', '/mnt/nope', '', 'ENOENT'],
    ['a regular file as target', 'tmpfs', '/mnt/x/old', '', 'ENOTDIR'],
    ['an unknown tmpfs option', 'tmpfs', '/mnt/x', 'bogus', 'EINVAL'],
    ['a bad size suffix', 'tmpfs', '/mnt/x', 'size=1q', 'EINVAL'],
    ['size without a value', 'tmpfs', '/mnt/x', 'size', 'EINVAL'],
    ['a non-octal mode', 'tmpfs', '/mnt/x', 'mode=9', 'EINVAL'],
    ['bad nr_inodes', 'tmpfs', '/mnt/x', 'nr_inodes=1x', 'EINVAL'],
    ['a bad huge= value', 'tmpfs', '/mnt/x', 'huge=sometimes', 'EINVAL'],
    ['a sysfs option', 'sysfs', '/mnt/x', 'foo', 'EINVAL'],
    ['a bad proc hidepid', 'proc', '/mnt/x', 'hidepid=7', 'EINVAL'],
    ['an unknown debugfs option (ignored)', 'debugfs', '/mnt/x', 'foo=1', 'ok'],
  ] as const)('%s → %s', (_n, fstype, target, data, want) => {
    expect(errno(() => v.do_mount(r, 'none', target, fstype, 0, data))).toBe(want);
  });

  it('a failed mount leaves no superblock behind', () => {
    const before = b.mem.allocated.size;
    expect(errno(() => v.do_mount(r, 'none', '/mnt/x/old', 'tmpfs', 0, ''))).toBe('ENOTDIR');
    expect([...v.mountpoints()].map((m) => m.path)).not.toContain('/mnt/x/old');
    expect(b.mem.allocated.size).toBe(before);
  });

  it('the same single-instance filesystem twice on one mount point is EBUSY', () => {
    v.do_mount(r, 'sysfs', '/mnt/x', 'sysfs', 0, '');
    expect(errno(() => v.do_mount(r, 'sysfs', '/mnt/x', 'sysfs', 0, ''))).toBe('EBUSY');
  });
});

describe('walking across mounts', () => {
  it('a mount hides what is under it until it is unmounted', () => {
    v.do_mount(r, 'none', '/mnt/x', 'tmpfs', 0, '');
    expect(errno(() => v.stat(r, '/mnt/x/old'))).toBe('ENOENT');
    v.open(r, '/mnt/x/new', O_CREAT | O_WRONLY, 0o644).fput();
    v.umount(r, '/mnt/x', 0);
    expect(errno(() => v.stat(r, '/mnt/x/old'))).toBe('ok');
    expect(errno(() => v.stat(r, '/mnt/x/new'))).toBe('ENOENT');
  });

  it('".." at a mount root climbs to the parent mount', () => {
    v.do_mount(r, 'none', '/mnt/x', 'tmpfs', 0, '');
    const cwd = v.chdir(r, '/mnt/x');
    expect(v.getcwd(cwd)).toBe('/mnt/x');
    expect(v.stat(cwd, '..').ino).toBe(v.stat(r, '/mnt').ino);
    expect(v.stat(cwd, '../x/../x/.').dev).toBe(v.stat(r, '/mnt/x').dev);
    expect(v.stat(r, '/..').ino).toBe(v.stat(r, '/').ino);
    v.path_put(cwd);
  });

  it('stacked mounts: the newest is visible; umount peels one at a time', () => {
    v.do_mount(r, 'one', '/mnt/x', 'tmpfs', 0, '');
    v.open(r, '/mnt/x/first', O_CREAT | O_WRONLY, 0o644).fput();
    v.do_mount(r, 'two', '/mnt/x', 'tmpfs', 0, '');
    expect(errno(() => v.stat(r, '/mnt/x/first'))).toBe('ENOENT');
    v.umount(r, '/mnt/x', 0);
    expect(errno(() => v.stat(r, '/mnt/x/first'))).toBe('ok');
  });

  it('a bind mount shows the same files, and renames between the two are EXDEV', () => {
    v.mkdir(r, '/mnt/b', 0o755);
    v.do_mount(r, '/mnt/x', '/mnt/b', '', MS_BIND, '');
    expect(v.stat(r, '/mnt/b/old').ino).toBe(v.stat(r, '/mnt/x/old').ino);
    expect(errno(() => v.rename(r, '/mnt/x/old', '/mnt/b/new'))).toBe('EXDEV');
    expect(v.proc_mounts()).toContain('rootfs /mnt/b tmpfs rw,relatime,mode=755,inode64 0 0');
  });
});

describe('umount2(2)', () => {
  beforeEach(() => v.do_mount(r, 'none', '/mnt/x', 'tmpfs', 0, ''));

  it('a path that is not a mount root is EINVAL; bad flags are EINVAL', () => {
    expect(errno(() => v.umount(r, '/mnt', 0))).toBe('EINVAL');
    v.mkdir(r, '/mnt/x/sub', 0o755);
    expect(errno(() => v.umount(r, '/mnt/x/sub', 0))).toBe('EINVAL');
    expect(errno(() => v.umount(r, '/mnt/x', 0x100))).toBe('EINVAL');
    expect(errno(() => v.umount(r, '/mnt/nope', 0))).toBe('ENOENT');
  });

  it('the root is EBUSY', () => {
    expect(errno(() => v.umount(r, '/', 0))).toBe('EBUSY');
  });

  it('an open file makes it EBUSY', () => {
    const f = v.open(r, '/mnt/x/f', O_CREAT | O_RDWR, 0o644);
    expect(errno(() => v.umount(r, '/mnt/x', 0))).toBe('EBUSY');
    f.fput();
    expect(errno(() => v.umount(r, '/mnt/x', 0))).toBe('ok');
  });

  it('a file held only by a mapping (get() after the fd is closed) makes it EBUSY', () => {
    const f = v.open(r, '/mnt/x/f', O_CREAT | O_RDWR, 0o644);
    const mapped = f.get(); // mmap's reference
    f.fput(); // close(fd)
    expect(errno(() => v.umount(r, '/mnt/x', 0))).toBe('EBUSY');
    mapped.fput(); // munmap
    expect(errno(() => v.umount(r, '/mnt/x', 0))).toBe('ok');
  });

  it('a submount makes it EBUSY', () => {
    v.mkdir(r, '/mnt/x/sub', 0o755);
    v.do_mount(r, 'none', '/mnt/x/sub', 'tmpfs', 0, '');
    expect(errno(() => v.umount(r, '/mnt/x', 0))).toBe('EBUSY');
    v.umount(r, '/mnt/x/sub', 0);
    expect(errno(() => v.umount(r, '/mnt/x', 0))).toBe('ok');
  });

  it('a cwd inside makes it EBUSY until path_put', () => {
    const cwd = v.chdir(r, '/mnt/x');
    expect(errno(() => v.umount(r, '/mnt/x', 0))).toBe('EBUSY');
    v.path_put(cwd);
    expect(errno(() => v.umount(r, '/mnt/x', 0))).toBe('ok');
  });

  it('MNT_DETACH detaches at once; the superblock and its pages go with the last file', () => {
    const before = b.mem.allocated.size;
    const f = v.open(r, '/mnt/x/f', O_CREAT | O_RDWR, 0o644);
    v.write(f, 'x'.repeat(10000));
    expect(b.mem.allocated.size).toBe(before + 3);
    v.umount(r, '/mnt/x', MNT_DETACH);
    expect(errno(() => v.stat(r, '/mnt/x/old'))).toBe('ok');
    expect(text(v.pread(f, 3, 0))).toBe('xxx');
    f.fput();
    expect(b.mem.allocated.size).toBe(before);
    expect(b.mem.nr_shmem).toBe(0);
  });

  it('umount frees every page of the tmpfs', () => {
    const f = v.open(r, '/mnt/x/f', O_CREAT | O_RDWR, 0o644);
    v.write(f, new Uint8Array(3 * 4096 + 1));
    f.fput();
    expect(b.mem.nr_shmem).toBe(4);
    v.umount(r, '/mnt/x', 0);
    expect(b.mem.nr_shmem).toBe(0);
    expect(b.mem.allocated.size).toBe(0);
  });
});

describe('statfs flags and remount', () => {
  it('statfs reports the mount flags', () => {
    v.do_mount(r, 'none', '/mnt/x', 'tmpfs', MS_NOSUID | MS_NODEV, 'size=64k');
    const st = v.statfs(r, '/mnt/x');
    expect(st.type).toBe(TMPFS_MAGIC);
    expect(st.flags).toBe(ST_VALID | ST_NOSUID | ST_NODEV | ST_RELATIME);
  });

  it('a read-only mount refuses writes with EROFS but reads fine', () => {
    v.do_mount(r, 'none', '/mnt/x', 'tmpfs', MS_RDONLY, '');
    expect(errno(() => v.mkdir(r, '/mnt/x/d', 0o755))).toBe('EROFS');
    expect(errno(() => v.open(r, '/mnt/x/f', O_CREAT | O_WRONLY, 0o644))).toBe('EROFS');
    expect(v.statfs(r, '/mnt/x').flags & ST_RDONLY).toBe(ST_RDONLY);
    expect(v.proc_mounts()).toContain('none /mnt/x tmpfs ro,relatime,inode64 0 0');
    expect(errno(() => v.open(r, '/mnt/x', O_RDONLY).fput())).toBe('ok');
  });

  it('remount changes the size limit, but not below what is in use', () => {
    v.do_mount(r, 'none', '/mnt/x', 'tmpfs', 0, 'size=64k');
    const f = v.open(r, '/mnt/x/f', O_CREAT | O_RDWR, 0o644);
    v.write(f, new Uint8Array(5 * 4096));
    expect(errno(() => v.do_mount(r, 'none', '/mnt/x', 'tmpfs', MS_REMOUNT, 'size=16k'))).toBe('EINVAL');
    v.do_mount(r, 'none', '/mnt/x', 'tmpfs', MS_REMOUNT, 'size=128k');
    expect(v.statfs(r, '/mnt/x').blocks).toBe(32);
    expect(errno(() => v.do_mount(r, 'none', '/mnt/x/f', 'tmpfs', MS_REMOUNT, 'size=128k'))).toBe('EINVAL');
  });
});

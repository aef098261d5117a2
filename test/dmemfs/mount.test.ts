/**
 * dmemfs mounts (fs/dmemfs/inode.c: dmemfs_parse_param, dmemfs_fill_super,
 * dmemfs_kill_sb, dmemfs_show_options, dmemfs_statfs), directories, and the
 * max_alloc_try_dpages module parameter — all through a task's syscalls.
 */
import { describe, expect, it } from 'vitest';
import { MiB, PAGE_SIZE, PMD_SIZE } from '../../src/lib/size.ts';
import { DT_DIR, DT_REG, MNT_DETACH, O_CREAT, O_RDWR, O_WRONLY, S_IFDIR } from '../../src/uapi/fcntl.ts';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { DMEMFS_MAGIC } from '../../src/kernel/fs/dmemfs/index.ts';
import { createFile, errno, mountDmemfs, readFile, setup } from './helpers.ts';

const RW = PROT_READ | PROT_WRITE;

describe('mount options', () => {
  it.each([
    ['', 'pagesize=4K'],
    ['pagesize=4K', 'pagesize=4K'],
    ['pagesize=4096', 'pagesize=4K'],
    ['pagesize=2M', 'pagesize=2M'],
    ['pagesize=2048k', 'pagesize=2M'],
    ['pagesize=1G', 'pagesize=1G'],
    ['pagesize=0x40000000', 'pagesize=1G'],
    ['rw,pagesize=2M,mapping=remap', 'pagesize=2M,mapping=remap'],
    ['mapping=fault', 'pagesize=4K'],
  ])('-o "%s" mounts and shows %s', (opts, shown) => {
    const { task, pool } = setup({ poolBytes: 2048 * MiB });
    mountDmemfs(task, opts);
    const line = readFile(task, '/proc/mounts').split('\n').find((l) => l.includes(' /mnt/dmem '));
    expect(line).toBe(`none /mnt/dmem dmemfs rw,relatime,${shown} 0 0`);
    expect(pool.users).toBe(1);
  });

  it.each([
    'pagesize=8K',
    'pagesize=1M',
    'pagesize=4G',
    'pagesize=',
    'pagesize=abc',
    'pagesize',
    'size=1G',
    'mapping=eager',
    'mapping',
    'huge=always',
  ])('-o "%s" is EINVAL and leaves the pool alone', (opts) => {
    const { task, pool } = setup();
    expect(errno(() => mountDmemfs(task, opts))).toBe('EINVAL');
    expect(pool.users).toBe(0);
  });

  it('a mount becomes a pool user; umount leaves the pool', () => {
    const { task, pool } = setup();
    mountDmemfs(task, 'pagesize=2M');
    expect(pool.users).toBe(1);
    expect(pool.dpage_shift).toBe(21);
    task.umount2('/mnt/dmem', 0);
    expect(pool.users).toBe(0);
  });

  it('several mounts of one size coexist; another size is EBUSY while they live', () => {
    const { task, pool } = setup();
    task.mkdir('/mnt/b', 0o755);
    task.mkdir('/mnt/c', 0o755);
    mountDmemfs(task, 'pagesize=2M');
    mountDmemfs(task, 'pagesize=2M', '/mnt/b');
    expect(pool.users).toBe(2);
    expect(errno(() => mountDmemfs(task, 'pagesize=4K', '/mnt/c'))).toBe('EBUSY');
    task.umount2('/mnt/dmem', 0);
    task.umount2('/mnt/b', 0);
    mountDmemfs(task, 'pagesize=4K', '/mnt/c');
    expect(pool.dpage_shift).toBe(12);
  });

  it('no reserved memory: the mount fails with ENOMEM', () => {
    const { task } = setup({ poolBytes: 0 });
    expect(errno(() => mountDmemfs(task, ''))).toBe('ENOMEM');
  });

  it('umount with an open file or a mapping is EBUSY; after they go the dpages return', () => {
    const { task, pool } = setup();
    mountDmemfs(task);
    const fd = createFile(task, '/mnt/dmem/f', 4 * PAGE_SIZE);
    const a = task.mmap(0, 4 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    task.store(a, new Uint8Array([1]));
    task.close(fd);
    expect(errno(() => task.umount2('/mnt/dmem', 0))).toBe('EBUSY');
    task.munmap(a, 4 * PAGE_SIZE);
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 1);
    task.umount2('/mnt/dmem', 0);
    // kill_litter_super: the file still linked in the tree gave its dpage back.
    expect(pool.users).toBe(0);
  });

  it('a lazy umount leaves the pool when the last mapping goes', () => {
    const { task, pool } = setup();
    mountDmemfs(task);
    const fd = createFile(task, '/mnt/dmem/f', PAGE_SIZE);
    const a = task.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    task.close(fd);
    task.store(a, new Uint8Array([1]));
    task.umount2('/mnt/dmem', MNT_DETACH);
    expect(pool.users).toBe(1);
    task.munmap(a, PAGE_SIZE);
    expect(pool.users).toBe(0);
  });
});

describe('statfs', () => {
  it('reports the magic, the dpage size and the pool in dpages', () => {
    const { task } = setup({ poolBytes: 64 * MiB });
    mountDmemfs(task, 'pagesize=2M');
    let st = task.statfs('/mnt/dmem');
    expect(st).toMatchObject({ type: DMEMFS_MAGIC, bsize: PMD_SIZE, frsize: PMD_SIZE, blocks: 32, bfree: 32, bavail: 32, files: 0, ffree: 0, namelen: 255 });
    const fd = createFile(task, '/mnt/dmem/f', 3 * PMD_SIZE);
    task.fallocate(fd, 0, 0, 3 * PMD_SIZE);
    st = task.fstatfs(fd);
    expect([st.blocks, st.bfree, st.bavail]).toEqual([32, 29, 29]);
    expect(task.fstat(fd).blocks).toBe((3 * PMD_SIZE) / 512);
    expect(task.fstat(fd).blksize).toBe(PMD_SIZE);
  });
});

describe('directories', () => {
  it('create, mkdir, readdir, stat, rename, unlink, rmdir', () => {
    const { task } = setup();
    mountDmemfs(task);
    task.mkdir('/mnt/dmem/d', 0o755);
    task.close(task.open('/mnt/dmem/d/f', O_WRONLY | O_CREAT, 0o644));
    expect(task.stat('/mnt/dmem/d').mode & S_IFDIR).toBe(S_IFDIR);
    expect(task.stat('/mnt/dmem').nlink).toBe(3);
    const fd = task.open('/mnt/dmem/d', 0);
    expect(task.getdents(fd).map((e) => [e.name, e.type])).toEqual([
      ['.', DT_DIR],
      ['..', DT_DIR],
      ['f', DT_REG],
    ]);
    task.close(fd);
    expect(errno(() => task.rmdir('/mnt/dmem/d'))).toBe('ENOTEMPTY');
    task.rename('/mnt/dmem/d/f', '/mnt/dmem/g');
    expect(errno(() => task.stat('/mnt/dmem/d/f'))).toBe('ENOENT');
    expect(task.stat('/mnt/dmem/g').size).toBe(0);
    task.rmdir('/mnt/dmem/d');
    expect(task.stat('/mnt/dmem').nlink).toBe(2);
    task.unlink('/mnt/dmem/g');
    expect(errno(() => task.stat('/mnt/dmem/g'))).toBe('ENOENT');
  });

  it('rename over a file frees the replaced file\'s dpages', () => {
    const { task, pool } = setup();
    mountDmemfs(task);
    const a = createFile(task, '/mnt/dmem/a', PAGE_SIZE);
    task.write(a, 'aaaa');
    const b = createFile(task, '/mnt/dmem/b', PAGE_SIZE);
    task.write(b, 'bbbb');
    task.close(a);
    task.close(b);
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 2);
    task.rename('/mnt/dmem/a', '/mnt/dmem/b');
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 1);
    expect(readFile(task, '/mnt/dmem/b').slice(0, 4)).toBe('aaaa');
  });

  it('an unlinked file keeps its dpages while open', () => {
    const { task, pool } = setup();
    mountDmemfs(task);
    const fd = task.open('/mnt/dmem/f', O_RDWR | O_CREAT, 0o600);
    task.write(fd, 'x');
    task.unlink('/mnt/dmem/f');
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 1);
    task.close(fd);
    expect(pool.free_dpages()).toBe(pool.total_dpages());
  });
});

describe('/sys/module/dmemfs/parameters/max_alloc_try_dpages', () => {
  const path = '/sys/module/dmemfs/parameters/max_alloc_try_dpages';

  it('reads 1 by default; takes a positive integer; refuses the rest', () => {
    const { task, params } = setup();
    expect(readFile(task, path)).toBe('1\n');
    const write = (s: string) => {
      const fd = task.open(path, O_WRONLY);
      try {
        task.write(fd, s);
      } finally {
        task.close(fd);
      }
    };
    write('8\n');
    expect(params.max_alloc_try_dpages).toBe(8);
    write('0x10');
    expect(readFile(task, path)).toBe('16\n');
    expect(errno(() => write('0'))).toBe('EINVAL');
    expect(errno(() => write('-1'))).toBe('EINVAL');
    expect(errno(() => write('abc'))).toBe('EINVAL');
    expect(errno(() => write('4294967296'))).toBe('ERANGE');
    expect(params.max_alloc_try_dpages).toBe(16);
  });

  it('is set at boot with dmemfs.max_alloc_try_dpages=N; a bad value keeps the default', () => {
    expect(setup({ cmdline: 'dmemfs.max_alloc_try_dpages=4' }).params.max_alloc_try_dpages).toBe(4);
    const bad = setup({ cmdline: 'dmemfs.max_alloc_try_dpages=0' });
    expect(bad.params.max_alloc_try_dpages).toBe(1);
    expect(bad.warnings).toEqual(["Booting kernel: `0' invalid for parameter `dmemfs.max_alloc_try_dpages'"]);
  });
});

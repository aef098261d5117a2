/** hugetlbfs mounts: options and their errors, /proc/mounts, statfs, files, read/write. */
import { describe, expect, it } from 'vitest';
import { GiB, MiB } from '../../src/lib/size.ts';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../../src/uapi/fcntl.ts';
import { HUGETLBFS_MAGIC } from '../../src/kernel/fs/hugetlbfs/index.ts';
import { counts, errno, openFile, readFile, setup } from './helpers.ts';

describe('hugetlbfs mount options (hugetlbfs_parse_param)', () => {
  it.each([
    ['pagesize=4K', 'hugetlbfs: Unsupported page size 0 MB'],
    ['pagesize=16M', 'hugetlbfs: Unsupported page size 16 MB'],
    ['size=M', "hugetlbfs: Bad value 'M' for mount option 'size'"],
    ['min_size=x', "hugetlbfs: Bad value 'x' for mount option 'min_size'"],
    ['nr_inodes=k', "hugetlbfs: Bad value 'k' for mount option 'nr_inodes'"],
    ['bogus=1', "hugetlbfs: Unknown parameter 'bogus'"],
    ['size=4M,min_size=8M', 'hugetlbfs: Minimum size can not be greater than maximum size'],
    ['mode=9', "hugetlbfs: Bad value for 'mode'"],
  ])('%s → EINVAL with "%s"', (opts, msg) => {
    const { task, log } = setup();
    expect(errno(() => task.mount('none', '/mnt/huge', 'hugetlbfs', 0, opts))).toBe('EINVAL');
    expect(log()).toContain(msg);
  });

  it('min_size= reserves at mount; ENOMEM when the pool cannot cover it; umount gives it back', () => {
    const { task, h2m } = setup({ n2m: 8 });
    expect(errno(() => task.mount('none', '/mnt/huge', 'hugetlbfs', 0, 'min_size=32M'))).toBe('ENOMEM');
    expect(counts(h2m)).toEqual([8, 8, 0, 0]);
    task.mount('none', '/mnt/huge', 'hugetlbfs', 0, 'min_size=8M');
    expect(counts(h2m)).toEqual([8, 8, 4, 0]);
    task.umount2('/mnt/huge', 0);
    expect(counts(h2m)).toEqual([8, 8, 0, 0]);
  });

  it('/proc/mounts shows hugetlbfs_show_options', () => {
    const { task } = setup({ n2m: 8, n1g: 1 });
    task.mount('none', '/mnt/huge', 'hugetlbfs', 0, 'size=50%,min_size=4M,mode=1770,uid=5,nr_inodes=10');
    task.mkdir('/mnt/g', 0o755);
    task.mount('none', '/mnt/g', 'hugetlbfs', 0, 'pagesize=1G');
    const m = readFile(task, '/proc/mounts');
    expect(m).toContain(`none /mnt/huge hugetlbfs rw,relatime,uid=5,mode=1770,nr_inodes=10,pagesize=2M,size=${8 * MiB},min_size=${4 * MiB} 0 0`);
    expect(m).toContain('none /mnt/g hugetlbfs rw,relatime,pagesize=1024M 0 0');
  });

  it('statfs: f_bsize is the huge page size; blocks/free from the subpool (0 without size=)', () => {
    const { task } = setup({ n2m: 8 });
    task.mount('none', '/mnt/huge', 'hugetlbfs', 0, 'size=8M,nr_inodes=4');
    let s = task.statfs('/mnt/huge');
    expect([s.type, s.bsize, s.blocks, s.bfree, s.files, s.ffree]).toEqual([HUGETLBFS_MAGIC, 2 * MiB, 4, 4, 4, 4]);
    const fd = openFile(task, '/mnt/huge/f');
    task.fallocate(fd, 0, 0, 3 * MiB);
    s = task.statfs('/mnt/huge');
    expect([s.blocks, s.bfree, s.bavail, s.ffree]).toEqual([4, 2, 2, 3]);
    task.mkdir('/mnt/n', 0o755);
    task.mount('none', '/mnt/n', 'hugetlbfs', 0, '');
    s = task.statfs('/mnt/n');
    expect([s.bsize, s.blocks, s.bfree, s.files]).toEqual([2 * MiB, 0, 0, 0]);
  });

  it('nr_inodes= limits files: ENOSPC', () => {
    const { task } = setup();
    task.mount('none', '/mnt/huge', 'hugetlbfs', 0, 'nr_inodes=2');
    openFile(task, '/mnt/huge/a');
    openFile(task, '/mnt/huge/b');
    expect(errno(() => openFile(task, '/mnt/huge/c'))).toBe('ENOSPC');
  });
});

describe('hugetlbfs files', () => {
  it('read works (zeros for holes); write is EINVAL; rename/unlink as any fs', () => {
    const { task } = setup();
    task.mount('none', '/mnt/huge', 'hugetlbfs', 0, '');
    const fd = openFile(task, '/mnt/huge/f');
    expect(errno(() => task.write(fd, 'x'))).toBe('EINVAL');
    task.ftruncate(fd, 4 * MiB);
    expect(task.pread(fd, 8, 3 * MiB)).toEqual(new Uint8Array(8));
    expect(task.pread(fd, 8, 4 * MiB).length).toBe(0);
    task.rename('/mnt/huge/f', '/mnt/huge/g');
    task.unlink('/mnt/huge/g');
    expect(errno(() => task.open('/mnt/huge/g', 0))).toBe('ENOENT');
  });

  it('ftruncate must be whole huge pages; shrinking frees pages; fallocate modes', () => {
    const { task, h2m } = setup({ n2m: 8 });
    task.mount('none', '/mnt/huge', 'hugetlbfs', 0, '');
    const fd = openFile(task, '/mnt/huge/f');
    expect(errno(() => task.ftruncate(fd, MiB))).toBe('EINVAL');
    task.fallocate(fd, 0, MiB, 4 * MiB); // pages 0, 1, 2
    expect(task.fstat(fd).size).toBe(5 * MiB);
    expect(counts(h2m)).toEqual([8, 5, 0, 0]);
    task.fallocate(fd, FALLOC_FL_KEEP_SIZE, 10 * MiB, 1); // page 5
    expect(task.fstat(fd).size).toBe(5 * MiB);
    expect(counts(h2m)).toEqual([8, 4, 0, 0]);
    // PUNCH_HOLE frees only whole pages inside the range: pages 1 and 2 of [1M, 6M+1).
    task.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, MiB, 5 * MiB + 1);
    expect(counts(h2m)).toEqual([8, 6, 0, 0]);
    expect(errno(() => task.fallocate(fd, 0x8, 0, MiB))).toBe('EOPNOTSUPP');
    task.ftruncate(fd, 2 * MiB);
    expect(counts(h2m)).toEqual([8, 7, 0, 0]); // page 5 went too
    task.fallocate(fd, 0, 0, 16 * MiB - 1);
    expect(counts(h2m)[1]).toBe(0);
    expect(errno(() => task.fallocate(fd, 0, 0, 16 * MiB + 1))).toBe('ENOSPC');
    task.close(fd);
    task.unlink('/mnt/huge/f');
    expect(counts(h2m)).toEqual([8, 8, 0, 0]);
  });

  it('read returns the bytes written through a mapping', () => {
    const { task } = setup();
    task.mount('none', '/mnt/huge', 'hugetlbfs', 0, '');
    const fd = openFile(task, '/mnt/huge/f');
    const a = task.mmap(0, 4 * MiB, 3, 1, fd, 0); // PROT_READ|WRITE, MAP_SHARED
    task.store(a + 2 * MiB + 5, new Uint8Array([7, 8, 9]));
    expect(task.fstat(fd).size).toBe(4 * MiB); // a writable mapping extends i_size
    expect([...task.pread(fd, 4, 2 * MiB + 4)]).toEqual([0, 7, 8, 9]);
  });

  it('1G pages: files on a pagesize=1G mount', () => {
    const { task, h1g } = setup({ n2m: 0, n1g: 2 });
    task.mount('none', '/mnt/huge', 'hugetlbfs', 0, 'pagesize=1G');
    const fd = openFile(task, '/mnt/huge/f');
    expect(errno(() => task.ftruncate(fd, 2 * MiB))).toBe('EINVAL');
    task.fallocate(fd, 0, 0, GiB + 1);
    expect(counts(h1g)).toEqual([2, 0, 0, 0]);
  });
});

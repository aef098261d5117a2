/**
 * dmemfs regular files: sizes, read/write, fallocate, and zero-on-allocation.
 *
 * A file's dpages (· = hole, # = dpage allocated):
 *
 *   index    0    1    2    3
 *          [####|····|####|····]   i_size = 4 dpages; only written dpages cost memory
 */
import { describe, expect, it } from 'vitest';
import { MiB, PAGE_SIZE, PMD_SIZE } from '../../src/lib/size.ts';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, O_APPEND, O_CREAT, O_RDWR, SEEK_SET } from '../../src/uapi/fcntl.ts';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { createFile, errno, mountDmemfs, setup } from './helpers.ts';

const RW = PROT_READ | PROT_WRITE;
const PUNCH = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
const bytes = (...b: number[]) => new Uint8Array(b);

describe('truncate', () => {
  it('the size must be whole dpages; growing allocates nothing', () => {
    const { task, pool } = setup();
    mountDmemfs(task, 'pagesize=2M');
    const fd = createFile(task, '/mnt/dmem/f', 0);
    expect(errno(() => task.ftruncate(fd, PAGE_SIZE))).toBe('EINVAL');
    expect(errno(() => task.truncate('/mnt/dmem/f', PMD_SIZE + 1))).toBe('EINVAL');
    expect(errno(() => task.ftruncate(fd, -PMD_SIZE))).toBe('EINVAL');
    task.ftruncate(fd, 8 * PMD_SIZE);
    expect(task.fstat(fd).size).toBe(8 * PMD_SIZE);
    expect(task.fstat(fd).blocks).toBe(0);
    expect(pool.free_dpages()).toBe(pool.total_dpages());
  });

  /*
   *  before   [####|####|####|####]   4 dpages written
   *  → 1      [####]                  3 go back to the pool
   *  → 4      [####|····|····|····]   the regrown range reads as zeros
   */
  it('shrinking frees the dpages past EOF; regrown space reads zero', () => {
    const { task, pool } = setup();
    mountDmemfs(task);
    const fd = createFile(task, '/mnt/dmem/f', 4 * PAGE_SIZE);
    task.write(fd, new Uint8Array(4 * PAGE_SIZE).fill(0x77));
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 4);
    task.ftruncate(fd, PAGE_SIZE);
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 1);
    expect(task.fstat(fd).blocks).toBe(PAGE_SIZE / 512);
    task.ftruncate(fd, 4 * PAGE_SIZE);
    expect(task.pread(fd, 2, PAGE_SIZE - 1)).toEqual(bytes(0x77, 0));
    expect(task.pread(fd, 3 * PAGE_SIZE, PAGE_SIZE).every((b) => b === 0)).toBe(true);
  });

  it('O_TRUNC frees everything', () => {
    const { task, pool } = setup();
    mountDmemfs(task);
    const fd = createFile(task, '/mnt/dmem/f', 2 * PAGE_SIZE);
    task.write(fd, new Uint8Array(2 * PAGE_SIZE).fill(1));
    task.close(fd);
    task.close(task.open('/mnt/dmem/f', O_RDWR | 0o1000));
    expect(task.stat('/mnt/dmem/f').size).toBe(0);
    expect(pool.free_dpages()).toBe(pool.total_dpages());
  });
});

describe('read and write (ours: the original had only mmap)', () => {
  it('holes read as zeros without allocating', () => {
    const { task, pool } = setup();
    mountDmemfs(task, 'pagesize=2M');
    const fd = createFile(task, '/mnt/dmem/f', 2 * PMD_SIZE);
    expect(task.pread(fd, 16, PMD_SIZE - 8)).toEqual(new Uint8Array(16));
    expect(task.read(fd, 10)).toEqual(new Uint8Array(10));
    expect(task.pread(fd, 10, 2 * PMD_SIZE)).toEqual(new Uint8Array(0));
    expect(pool.free_dpages()).toBe(pool.total_dpages());
  });

  it('writes allocate the dpages they touch, across a dpage boundary', () => {
    const { task, pool } = setup();
    mountDmemfs(task, 'pagesize=2M');
    const fd = createFile(task, '/mnt/dmem/f', 4 * PMD_SIZE);
    expect(task.pwrite(fd, bytes(1, 2, 3, 4), PMD_SIZE - 2)).toBe(4);
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 2);
    expect(task.pread(fd, 6, PMD_SIZE - 3)).toEqual(bytes(0, 1, 2, 3, 4, 0));
    expect(task.fstat(fd).size).toBe(4 * PMD_SIZE);
  });

  it('a write past EOF extends the file to the end of the write', () => {
    const { task } = setup();
    mountDmemfs(task);
    const fd = task.open('/mnt/dmem/f', O_RDWR | O_CREAT, 0o600);
    expect(task.write(fd, 'hello')).toBe(5);
    expect(task.fstat(fd).size).toBe(5);
    task.lseek(fd, 0, SEEK_SET);
    expect(new TextDecoder().decode(task.read(fd, 100))).toBe('hello');
    const ap = task.open('/mnt/dmem/f', O_RDWR | O_APPEND);
    task.write(ap, '!');
    expect(task.pread(fd, 10, 0)).toEqual(new TextEncoder().encode('hello!'));
  });

  it('ENOSPC when the pool is empty; a short write when part of it went in', () => {
    const { task, pool } = setup({ poolBytes: 2 * PAGE_SIZE });
    mountDmemfs(task);
    const fd = createFile(task, '/mnt/dmem/f', 4 * PAGE_SIZE);
    expect(task.pwrite(fd, new Uint8Array(3 * PAGE_SIZE).fill(9), 0)).toBe(2 * PAGE_SIZE);
    expect(errno(() => task.pwrite(fd, bytes(1), 3 * PAGE_SIZE))).toBe('ENOSPC');
    expect(pool.free_dpages()).toBe(0);
  });
});

describe('fallocate (ours)', () => {
  it('mode 0 allocates zeroed dpages and extends the size', () => {
    const { task, pool, host } = setup();
    mountDmemfs(task, 'pagesize=2M');
    const fd = task.open('/mnt/dmem/f', O_RDWR | O_CREAT, 0o600);
    const zeroed = host.dram.bytesZeroed;
    task.fallocate(fd, 0, PMD_SIZE + 5, PMD_SIZE);
    expect(task.fstat(fd).size).toBe(2 * PMD_SIZE + 5);
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 2);
    expect(host.dram.bytesZeroed - zeroed).toBe(2 * PMD_SIZE);
    task.fallocate(fd, 0, 0, 3 * PMD_SIZE);
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 3);
  });

  it('mode 0 that runs out undoes its own allocations only', () => {
    const { task, pool } = setup({ poolBytes: 4 * PAGE_SIZE });
    mountDmemfs(task);
    const fd = createFile(task, '/mnt/dmem/f', 8 * PAGE_SIZE);
    task.pwrite(fd, bytes(1), 0);
    expect(errno(() => task.fallocate(fd, 0, 0, 8 * PAGE_SIZE))).toBe('ENOSPC');
    expect(pool.free_dpages()).toBe(3);
    expect(task.pread(fd, 1, 0)).toEqual(bytes(1));
  });

  /*
   *  file      [####|####|####]   3 dpages of 0x55
   *  punch       [xxxxxxxxxx]     from 1/2 of dpage 0 to 1/2 of dpage 2
   *  after     [##00|····|00##]   middle dpage freed, edges zeroed in place
   */
  it('PUNCH_HOLE|KEEP_SIZE frees whole dpages and zeroes partial ones', () => {
    const { task, pool } = setup();
    mountDmemfs(task);
    const fd = createFile(task, '/mnt/dmem/f', 3 * PAGE_SIZE);
    task.pwrite(fd, new Uint8Array(3 * PAGE_SIZE).fill(0x55), 0);
    task.fallocate(fd, PUNCH, PAGE_SIZE / 2, 2 * PAGE_SIZE);
    expect(pool.free_dpages()).toBe(pool.total_dpages() - 2);
    const all = task.pread(fd, 3 * PAGE_SIZE, 0);
    expect(all[PAGE_SIZE / 2 - 1]).toBe(0x55);
    expect(all.subarray(PAGE_SIZE / 2, 2 * PAGE_SIZE + PAGE_SIZE / 2).every((b) => b === 0)).toBe(true);
    expect(all[2 * PAGE_SIZE + PAGE_SIZE / 2]).toBe(0x55);
    expect(task.fstat(fd).size).toBe(3 * PAGE_SIZE);
  });

  it('a punched hole is unmapped from every mapping first', () => {
    const { task, pool } = setup();
    mountDmemfs(task);
    const fd = createFile(task, '/mnt/dmem/f', 2 * PAGE_SIZE);
    const a = task.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
    task.store(a + PAGE_SIZE, bytes(7));
    task.fallocate(fd, PUNCH, PAGE_SIZE, PAGE_SIZE);
    expect(task.mm.pgtables.walk(a + PAGE_SIZE)).toBe(0);
    expect(pool.free_dpages()).toBe(pool.total_dpages());
    // Touching it again allocates a new, zeroed dpage.
    expect(task.load(a + PAGE_SIZE, 1)).toEqual(bytes(0));
  });

  it.each([
    ['KEEP_SIZE alone', FALLOC_FL_KEEP_SIZE],
    ['ZERO_RANGE', FALLOC_FL_ZERO_RANGE],
  ])('%s is EOPNOTSUPP', (_name, mode) => {
    const { task } = setup();
    mountDmemfs(task);
    const fd = createFile(task, '/mnt/dmem/f', PAGE_SIZE);
    expect(errno(() => task.fallocate(fd, mode, 0, PAGE_SIZE))).toBe('EOPNOTSUPP');
  });
});

describe('zero on allocation (the original handed out old bytes)', () => {
  it('a file freed and recreated never shows the old bytes', () => {
    const { task, pool } = setup({ poolBytes: 4 * MiB });
    mountDmemfs(task, 'pagesize=2M');
    let fd = createFile(task, '/mnt/dmem/secret', 2 * PMD_SIZE);
    const a = task.mmap(0, 2 * PMD_SIZE, RW, MAP_SHARED, fd, 0);
    task.store(a, new Uint8Array(64).fill(0xee));
    task.store(a + PMD_SIZE + 4096, new Uint8Array(64).fill(0xee));
    task.munmap(a, 2 * PMD_SIZE);
    task.close(fd);
    task.unlink('/mnt/dmem/secret');
    expect(pool.free_dpages()).toBe(2);
    fd = createFile(task, '/mnt/dmem/next', 2 * PMD_SIZE);
    expect(task.pread(fd, 64, 0)).toEqual(new Uint8Array(64));
    const b = task.mmap(0, 2 * PMD_SIZE, RW, MAP_SHARED, fd, 0);
    expect(task.load(b, 64).every((x) => x === 0)).toBe(true);
    expect(task.load(b + PMD_SIZE + 4096, 64).every((x) => x === 0)).toBe(true);
    // A write to one byte of a fresh dpage leaves the rest zero as well.
    task.pwrite(fd, bytes(1), PMD_SIZE);
    expect(task.load(b + PMD_SIZE + 4096, 64).every((x) => x === 0)).toBe(true);
  });
});

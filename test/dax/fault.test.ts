/**
 * /dev/daxN.M: mmap rules and fault sizes (drivers/dax/device.c check_vma,
 * __dev_dax_{pte,pmd,pud}_fault, dev_dax_may_split), and the pageless RFC.
 *
 * Region 0 = 16 GiB at 0x400000000. Each case frees it and builds one device
 * of the given align and size:
 *
 *   device   |<--------- size --------->|
 *   VMA      |  2M  |  2M  |  ...       |   (mmap of the whole device, MAP_SHARED)
 */
import { describe, expect, test } from 'vitest';
import { GiB, MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { O_RDWR } from '../../src/uapi/fcntl.ts';
import { MADV_DONTFORK, MADV_NOHUGEPAGE, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { PMD_LEVEL, PTE_LEVEL, PUD_LEVEL } from '../../src/kernel/mm/pgtable.ts';
import { D, bootDax, enable, errno, put, signal } from './helpers.ts';

function device(align: number, size: number, map = true): ReturnType<typeof bootDax> & { fd: number } {
  const b = bootDax();
  put(b.task, '/sys/bus/dax/drivers/device_dax/unbind', 'dax0.0');
  put(b.task, D('dax0.0') + '/size', '0');
  put(b.task, D('dax0.0') + '/align', String(align));
  put(b.task, D('dax0.0') + '/size', String(size));
  if (!map) put(b.task, D('dax0.0') + '/map', '0');
  enable(b.task, 'dax0.0');
  const fd = b.task.open('/dev/dax0.0', O_RDWR);
  return { ...b, fd };
}

const RW = PROT_READ | PROT_WRITE;

describe('mmap', () => {
  test('MAP_PRIVATE is EINVAL; an unaligned fixed address is EINVAL', () => {
    const { task, fd } = device(2 * MiB, 4 * MiB);
    expect(errno(() => task.mmap(0, 4 * MiB, RW, MAP_PRIVATE, fd, 0))).toBe('EINVAL');
    expect(errno(() => task.mmap(0x7f0000001000, 2 * MiB, RW, MAP_SHARED | MAP_FIXED, fd, 0))).toBe('EINVAL');
  });

  test('the address is aligned to the device align; a split only at aligned addresses', () => {
    const { task, fd } = device(2 * MiB, 8 * MiB);
    const a = task.mmap(0, 8 * MiB, RW, MAP_SHARED, fd, 0);
    expect(a % (2 * MiB)).toBe(0);
    expect(errno(() => task.munmap(a + PAGE_SIZE, PAGE_SIZE))).toBe('EINVAL');
    task.munmap(a + 2 * MiB, 2 * MiB);
  });

  test('opening an unbound device is ENXIO', () => {
    const b = bootDax();
    put(b.task, '/sys/bus/dax/drivers/device_dax/unbind', 'dax0.0');
    expect(errno(() => b.task.open('/dev/dax0.0', O_RDWR))).toBe('ENXIO');
  });
});

describe('fault sizes', () => {
  test('align 4K: PTE entries; the data is the device memory', () => {
    const { host, task, fd } = device(PAGE_SIZE, 2 * MiB);
    const a = task.mmap(0, 2 * MiB, RW, MAP_SHARED, fd, 0);
    task.store(a + 5, new Uint8Array([42]));
    expect(task.mm.faultsByLevel[PTE_LEVEL]).toBe(1);
    expect(host.dram.read(0x400000000 + 5, 1)[0]).toBe(42);
  });

  test('align 2M: one PMD per 2M, never a PTE (MADV_NOHUGEPAGE leaves only the 4K fault: SIGBUS)', () => {
    //  device |    2M    |    2M    |
    //  VMA    |<-- 4M -->|          |   touch at +2M+8K → one PMD
    const { task, fd } = device(2 * MiB, 4 * MiB);
    const a = task.mmap(0, 4 * MiB, RW, MAP_SHARED, fd, 0);
    task.store(a + 2 * MiB + 8192, new Uint8Array([1]));
    expect(task.mm.faultsByLevel[PMD_LEVEL]).toBe(1);
    expect(task.mm.faultsByLevel[PTE_LEVEL]).toBe(0);
    task.madvise(a, 2 * MiB, MADV_NOHUGEPAGE);
    expect(signal(() => task.load(a, 1))).toBe('SIGBUS/2');
  });

  test('align 1G: PUD entries', () => {
    const { task, fd } = device(GiB, 2 * GiB);
    const a = task.mmap(0, 2 * GiB, RW, MAP_SHARED, fd, 0);
    task.load(a + GiB + 4096, 1);
    expect(task.mm.faultsByLevel[PUD_LEVEL]).toBe(1);
  });

  test('a fault past the device size is SIGBUS', () => {
    //  device |   2M   |
    //  VMA    |   2M   |   2M   |   touch the second 2M → no range → SIGBUS
    const { task, fd } = device(2 * MiB, 2 * MiB);
    const a = task.mmap(0, 4 * MiB, RW, MAP_SHARED, fd, 0);
    expect(signal(() => task.load(a + 2 * MiB, 1))).toBe('SIGBUS/2');
  });
});

describe('map=0 (pageless RFC)', () => {
  test('VM_PFNMAP; a fault without MADV_DONTFORK is SIGBUS, with it a special PMD', () => {
    const { task, fd } = device(2 * MiB, 4 * MiB, false);
    const a = task.mmap(0, 4 * MiB, RW, MAP_SHARED, fd, 0);
    expect(signal(() => task.load(a, 1))).toBe('SIGBUS/2');
    task.madvise(a, 4 * MiB, MADV_DONTFORK);
    expect(signal(() => task.load(a, 1))).toBe('ok');
    expect(task.mm.faultsByLevel[PMD_LEVEL]).toBe(1);
  });
});

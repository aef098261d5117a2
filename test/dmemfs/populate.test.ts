/** MAP_POPULATE and MADV_POPULATE_* on a dmemfs (VM_IO|VM_PFNMAP) mapping, as Linux treats them. */
import { describe, expect, it } from 'vitest';
import { MiB } from '../../src/lib/size.ts';
import { O_CREAT, O_RDWR } from '../../src/uapi/fcntl.ts';
import { MADV_POPULATE_READ, MADV_POPULATE_WRITE, MAP_POPULATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { boot, errno } from '../kernel/helpers.ts';

describe('populate on dmemfs', () => {
  it('MAP_POPULATE skips the VMA (the driver maps on fault); MADV_POPULATE_* is EINVAL', () => {
    const { task } = boot({ cmdline: 'dmem=1G' });
    task.mount('none', '/mnt', 'dmemfs', 0, 'pagesize=2M');
    const fd = task.open('/mnt/f', O_RDWR | O_CREAT, 0o600);
    task.ftruncate(fd, 8 * MiB);
    const a = task.mmap(0, 8 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    expect(task.mm.minflt).toBe(0);
    expect(errno(() => task.madvise(a, 8 * MiB, MADV_POPULATE_WRITE))).toBe('EINVAL');
    expect(errno(() => task.madvise(a, 8 * MiB, MADV_POPULATE_READ))).toBe('EINVAL');
    task.store(a, new Uint8Array([1]));
    expect(task.mm.faultsByLevel[2]).toBe(1);
  });
});

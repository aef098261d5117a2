/**
 * /proc/PID/pagemap in the model (kernel/proc/pagemap.ts) beyond what a
 * single process on the real kernel can show (test/linux/pagemap.test.ts):
 * pages shared after fork, huge leaves, hugetlb, PFNMAP holes, hwpoison
 * entries, another task's file, a zombie's.
 *
 *   hugetlb 2M  [p f x | pfn, pfn+1, … pfn+511]      mapped by a second task too → [p f]
 *   dmemfs      VM_PFNMAP: a hole (0) even where mapped
 *   hwpoison    [w | type 24, offset = pfn]          (swap entry: SWP_HWPOISON)
 */
import { describe, expect, it } from 'vitest';
import { GiB, MiB } from '../../src/lib/size.ts';
import { O_CREAT, O_RDONLY, O_RDWR } from '../../src/uapi/fcntl.ts';
import { MAP_ANONYMOUS, MAP_HUGETLB, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import type { Task } from '../../src/kernel/process.ts';
import { boot } from './helpers.ts';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;

/** The entries of `pages` pages at addr in task t's pagemap, read by `reader`, as [hi flags, pfn]. */
function entries(reader: Task, pid: number | 'self', addr: number, pages: number): [number, number][] {
  const fd = reader.open(`/proc/${pid}/pagemap`, O_RDONLY);
  const b = reader.pread(fd, 8 * pages, (addr / P) * 8);
  reader.close(fd);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: [number, number][] = [];
  for (let i = 0; i < b.length; i += 8) {
    const hi = dv.getUint32(i + 4, true);
    out.push([hi >>> 23, (hi & 0x7fffff) * 2 ** 32 + dv.getUint32(i, true)]);
  }
  return out;
}
// Bits 55.. shifted down by 23: x = 2, f = 64, w = 128, p = 256.
const X = 2, F = 64, W = 128, PR = 256;

describe('/proc/PID/pagemap (model)', () => {
  it('a page shared after fork is not exclusive in either task; a COWed one is again', () => {
    const { task } = boot();
    const a = task.mmap(0, 2 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    task.store(a, new Uint8Array([1]));
    task.store(a + P, new Uint8Array([1]));
    const child = task.fork();
    expect(entries(task, 'self', a, 2).map(([f]) => f)).toEqual([PR, PR]);
    child.store(a + P, new Uint8Array([2]));
    const [p0, p1] = entries(task, 'self', a, 2);
    const [c0, c1] = entries(task, child.pid, a, 2);
    expect([p0![0], p1![0], c0![0], c1![0]]).toEqual([PR, PR | X, PR, PR | X]);
    expect(c0![1]).toBe(p0![1]); // still the same frame
    expect(c1![1]).not.toBe(p1![1]); // the child's copy
  });

  it('hugetlb: file pages of one 2M leaf, consecutive PFNs, exclusive until a second mapping', () => {
    const { task } = boot({ mem: 4 * GiB, cmdline: 'hugepagesz=2M hugepages=4' });
    const a = task.mmap(0, 2 * MiB, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    task.store(a + 7 * P, new Uint8Array([1]));
    const e = entries(task, 'self', a, 512);
    expect(new Set(e.map(([f]) => f))).toEqual(new Set([PR | F | X]));
    for (let i = 1; i < 512; i++) expect(e[i]![1]).toBe(e[0]![1] + i);
    // fork does not copy a shared mapping's entries (vma_needs_copy): the child faults the page in itself.
    const child = task.fork();
    expect(entries(task, child.pid, a, 1)[0]![0]).toBe(0);
    child.load(a, 1);
    expect([entries(task, 'self', a, 1)[0]![0], entries(task, child.pid, a, 1)[0]![0]]).toEqual([PR | F, PR | F]);
  });

  it('dmemfs is VM_PFNMAP: a hole, mapped or not (as walk_page_test skips it)', () => {
    const { task } = boot({ mem: 4 * GiB, cmdline: 'dmem=1G' });
    task.mkdir('/mnt/d', 0o755);
    task.mount('none', '/mnt/d', 'dmemfs', 0, 'pagesize=2M');
    const fd = task.open('/mnt/d/f', O_RDWR | O_CREAT, 0o600);
    task.ftruncate(fd, 2 * MiB);
    const a = task.mmap(0, 2 * MiB, RW, MAP_SHARED, fd, 0);
    task.store(a, new Uint8Array([1]));
    expect(task.mm.pgtables.walk(a)).not.toBe(0);
    expect(entries(task, 'self', a, 2)).toEqual([[0, 0], [0, 0]]);
  });

  it('a hwpoison entry is a swap entry: type SWP_HWPOISON (24), offset the frame', () => {
    const { host, task } = boot();
    const a = task.mmap(0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    task.store(a, new Uint8Array([1]));
    task.sigaction(7, () => {});
    const pfn = entries(task, 'self', a, 1)[0]![1];
    expect(host.mf.memory_failure(pfn)).toBe(0);
    expect(entries(task, 'self', a, 1)).toEqual([[W, 24 + pfn * 32]]);
  });

  it('a zombie\'s pagemap reads empty; the file is 0400', () => {
    const { task } = boot();
    const child = task.fork();
    child.exit(0);
    const fd = task.open(`/proc/${child.pid}/pagemap`, O_RDONLY);
    expect(task.pread(fd, 8, 0).length).toBe(0);
    expect(task.fstat(fd).mode & 0o777).toBe(0o400);
  });
});

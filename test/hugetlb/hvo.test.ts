/**
 * HugeTLB Vmemmap Optimization: 7 of 8 vmemmap frames (2M) or 4095 of 4096
 * (1G) go back to the page allocator while a page is in the pool, and come
 * back when it leaves; a failed restore keeps the page in the pool.
 */
import { describe, expect, it } from 'vitest';
import { GiB } from '../../src/lib/size.ts';
import { boot, meminfo, procRead, procWrite, sysWrite } from './helpers.ts';

const M2 = 'kernel/mm/hugepages/hugepages-2048kB';
const G1 = 'kernel/mm/hugepages/hugepages-1048576kB';

describe('HVO', () => {
  it('2M: MemFree falls by 512 - 7 pages per page, MemTotal grows by 7 (boot memmap freed)', () => {
    const { host, pools } = boot('');
    const free0 = meminfo(host, 'MemFree');
    const total0 = meminfo(host, 'MemTotal');
    procWrite(host, 'sys/vm/hugetlb_optimize_vmemmap', '1');
    sysWrite(host, `${M2}/nr_hugepages`, '10');
    expect(free0 - meminfo(host, 'MemFree')).toBe(10 * (2048 - 7 * 4));
    expect(meminfo(host, 'MemTotal') - total0).toBe(10 * 7 * 4);
    expect(host.mem.sparse.vmemmapSaved('HVO')).toBe(10 * 7 * 4096);
    // Back to the allocator: the vmemmap is allocated again (ordinary pages now).
    sysWrite(host, `${M2}/nr_hugepages`, '0');
    expect(meminfo(host, 'MemFree')).toBe(free0);
    expect(host.mem.sparse.vmemmapSaved('HVO')).toBe(0);
    expect(pools.vmemmap.allocatedFrames).toBe(70);
    // A second round frees the relocated frames: MemTotal does not grow again.
    sysWrite(host, `${M2}/nr_hugepages`, '10');
    expect(free0 - meminfo(host, 'MemFree')).toBe(10 * (2048 - 28));
    expect(meminfo(host, 'MemTotal') - total0).toBe(10 * 28);
  });

  it('1G: 4095 of 4096 vmemmap pages freed per page', () => {
    const { host } = boot('hugetlb_free_vmemmap=on');
    const free0 = meminfo(host, 'MemFree');
    sysWrite(host, `${G1}/nr_hugepages`, '2');
    expect(free0 - meminfo(host, 'MemFree')).toBe(2 * (1048576 - 4095 * 4));
    sysWrite(host, `${G1}/nr_hugepages`, '0');
    expect(meminfo(host, 'MemFree')).toBe(free0);
  });

  it('boot-time gigantic pages are optimized too', () => {
    const plain = boot('hugepagesz=1G hugepages=2').host;
    const hvo = boot('hugetlb_free_vmemmap=on hugepagesz=1G hugepages=2').host;
    expect(meminfo(hvo, 'MemFree') - meminfo(plain, 'MemFree')).toBe(2 * 4095 * 4);
    expect(meminfo(hvo, 'MemTotal') - meminfo(plain, 'MemTotal')).toBe(2 * 4095 * 4);
  });

  it('only pages allocated while enabled are optimized', () => {
    const { host } = boot('hugepages=4');
    const free0 = meminfo(host, 'MemFree');
    procWrite(host, 'sys/vm/hugetlb_optimize_vmemmap', '1\n');
    expect(procRead(host, 'sys/vm/hugetlb_optimize_vmemmap')).toBe('1\n');
    expect(meminfo(host, 'MemFree')).toBe(free0);
    procWrite(host, 'sys/vm/nr_hugepages', '5');
    expect(free0 - meminfo(host, 'MemFree')).toBe(2048 - 28);
  });

  it('a restore that cannot allocate keeps the page in the pool as surplus', () => {
    const { host, pools } = boot('hugetlb_free_vmemmap=on', 2 * GiB, 1);
    const h = pools.hstates[0]!;
    sysWrite(host, `${M2}/nr_hugepages`, '1000000');
    const n = h.nr_huge_pages;
    // Exhaust the 4K free memory so restoring 7 vmemmap pages fails.
    while (host.buddy.alloc_pages(0, 0, 0) >= 0);
    sysWrite(host, `${M2}/nr_hugepages`, '0');
    expect(h.nr_huge_pages).toBeGreaterThan(0);
    expect(h.surplus_huge_pages).toBe(h.nr_huge_pages);
    expect(h.nr_huge_pages).toBeLessThanOrEqual(n);
  });
});

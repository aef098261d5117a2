/**
 * Boot parameters (hugepagesz=, hugepages=, default_hugepagesz=,
 * hugetlb_free_vmemmap=) and the boot-time pools: Linux's ordering rules and
 * warning texts (mm/hugetlb_cmdline.c), gigantic pages from memblock.
 */
import { describe, expect, it } from 'vitest';
import { GiB } from '../../src/lib/size.ts';
import { boot, logLines, meminfo, procRead, sysRead } from './helpers.ts';

const G1 = 'kernel/mm/hugepages/hugepages-1048576kB';
const M2 = 'kernel/mm/hugepages/hugepages-2048kB';

describe('hugetlb boot parameters', () => {
  it('registers both sizes and reports them as Linux does', () => {
    const { host } = boot('');
    // The 1G hstate comes first: x86's gigantic_pages_init() adds it before hugetlb_init() adds 2M.
    expect(logLines(host, 'HugeTLB:')).toEqual([
      'HugeTLB: registered 1.00 GiB page size, pre-allocated 0 pages',
      'HugeTLB: 16380 KiB vmemmap can be freed for a 1.00 GiB page',
      'HugeTLB: registered 2.00 MiB page size, pre-allocated 0 pages',
      'HugeTLB: 28 KiB vmemmap can be freed for a 2.00 MiB page',
    ]);
    expect(logLines(boot('hugepagesz=2M hugepages=3').host, 'HugeTLB:')).toEqual([
      'HugeTLB: allocation took 0ms with hugepage_allocation_threads=2',
      'HugeTLB: registered 2.00 MiB page size, pre-allocated 3 pages',
      'HugeTLB: 28 KiB vmemmap can be freed for a 2.00 MiB page',
      'HugeTLB: registered 1.00 GiB page size, pre-allocated 0 pages',
      'HugeTLB: 16380 KiB vmemmap can be freed for a 1.00 GiB page',
    ]);
    expect(meminfo(host, 'Hugepagesize')).toBe(2048);
  });

  it('hugepages= applies to the preceding hugepagesz=, per node with N:M', () => {
    const { host, pools } = boot('hugepagesz=1G hugepages=0:2,1:3 hugepagesz=2M hugepages=100');
    const [h2, h1] = pools.hstates;
    expect(h1!.nr_huge_pages_node).toEqual([2, 3]);
    expect(h2!.nr_huge_pages).toBe(100);
    expect(h2!.nr_huge_pages_node).toEqual([50, 50]);
    expect(sysRead(host, `${G1}/nr_hugepages`)).toBe('5\n');
    expect(sysRead(host, 'devices/system/node/node1/hugepages/hugepages-1048576kB/free_hugepages')).toBe('3\n');
    expect(procRead(host, 'sys/vm/nr_hugepages')).toBe('100\n');
  });

  it('a first hugepages= is for the default size, and wins over a later 2M count', () => {
    const { host, pools } = boot('hugepages=8 hugepagesz=2M hugepages=4');
    expect(logLines(host, 'HugeTLB: Ignoring')).toEqual(['HugeTLB: Ignoring hugepages=4 associated with 2.00 MiB page size']);
    expect(logLines(host, 'HugeTLB: Using')).toEqual(['HugeTLB: Using hugepages=8 for number of default huge pages']);
    expect(pools.hstates[0]!.nr_huge_pages).toBe(8);
  });

  it('default_hugepagesz=1G takes an earlier hugepages= and allocates from memblock', () => {
    const { host, pools } = boot('hugepages=3 default_hugepagesz=1G');
    expect(pools.default_hstate().size).toBe(GiB);
    expect(meminfo(host, 'HugePages_Total')).toBe(3);
    expect(meminfo(host, 'Hugepagesize')).toBe(1048576);
    expect(pools.hstates[0]!.nr_huge_pages).toBe(0);
  });

  it('warns about bad values with Linux texts', () => {
    const { host, pools } = boot(
      'hugepagesz=3M hugepages=5 hugepagesz=2M hugepages=1 hugepages=2 hugepagesz=2M hugepagesz=1G hugepages=0:1,7:1 default_hugepagesz=1G default_hugepagesz=2M',
    );
    expect(logLines(host, 'HugeTLB:').filter((l) => !/registered|vmemmap|took/.test(l))).toEqual([
      'HugeTLB: unsupported hugepagesz=3M',
      'HugeTLB: hugepages=5 does not follow a valid hugepagesz, ignoring',
      'HugeTLB: hugepages= specified twice without interleaving hugepagesz=, ignoring hugepages=2',
      'HugeTLB: hugepagesz=2M specified twice, ignoring',
      'HugeTLB: Invalid hugepages parameter 7:1',
      'HugeTLB: default_hugepagesz previously specified, ignoring 2M',
    ]);
    expect(pools.hstates[0]!.nr_huge_pages).toBe(1);
    expect(pools.hstates[1]!.nr_huge_pages).toBe(0);
    // The parameters are recorded as early params: none is "Malformed" or handed to init.
    expect(logLines(host, 'Malformed')).toEqual([]);
    expect(logLines(host, 'Unknown kernel command line')).toEqual([]);
  });

  it('falls short with the "Only allocated" line', () => {
    const { host, pools } = boot('hugepagesz=1G hugepages=20', 16 * GiB, 1);
    const h1 = pools.hstates[1]!;
    expect(h1.nr_huge_pages).toBeLessThan(20);
    expect(logLines(host, 'failed.')).toEqual([
      `HugeTLB: allocating 20 of page size 1.00 GiB failed.  Only allocated ${h1.nr_huge_pages} hugepages.`,
    ]);
    expect(procRead(host, 'sys/vm/nr_hugepages')).toBe('0\n');
    expect(sysRead(host, `${G1}/nr_hugepages`)).toBe(`${h1.nr_huge_pages}\n`);
  });

  it('gigantic boot pages count in MemTotal (adjust_managed_page_count), not in MemFree', () => {
    const plain = boot('').host;
    const { host } = boot('hugepagesz=1G hugepages=4');
    expect(meminfo(host, 'MemTotal')).toBe(meminfo(plain, 'MemTotal'));
    expect(meminfo(plain, 'MemFree') - meminfo(host, 'MemFree')).toBe(4 * 1024 * 1024);
    expect(meminfo(host, 'Hugetlb')).toBe(4 * 1024 * 1024);
    expect(sysRead(host, `${M2}/nr_hugepages`)).toBe('0\n');
  });

  it('2M boot pages come from the page allocator on alternating nodes', () => {
    const plain = boot('').host;
    const { host } = boot('hugepages=5');
    expect(meminfo(host, 'MemTotal')).toBe(meminfo(plain, 'MemTotal'));
    expect(meminfo(plain, 'MemFree') - meminfo(host, 'MemFree')).toBe(5 * 2048);
    expect(sysRead(host, 'devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages')).toBe('3\n');
    expect(sysRead(host, 'devices/system/node/node1/meminfo')).toContain('Node 1 HugePages_Total:     2\n');
  });

  it('hugetlb_free_vmemmap= sets the sysctl; a bad value is a malformed early option', () => {
    expect(procRead(boot('hugetlb_free_vmemmap=on').host, 'sys/vm/hugetlb_optimize_vmemmap')).toBe('1\n');
    expect(procRead(boot('').host, 'sys/vm/hugetlb_optimize_vmemmap')).toBe('0\n');
    const { host } = boot('hugetlb_free_vmemmap=maybe');
    expect(logLines(host, 'Malformed')).toEqual(["Malformed early option 'hugetlb_free_vmemmap'"]);
  });
});

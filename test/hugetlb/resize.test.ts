/**
 * Runtime resizing through /proc/sys/vm and /sys (set_max_huge_pages), surplus
 * pages, overcommit and hugetlb_acct_memory, with the errno of each bad write.
 */
import { describe, expect, it } from 'vitest';
import { GiB } from '../../src/lib/size.ts';
import { isErrno } from '../../src/lib/errno.ts';
import { boot, meminfo, procRead, procWrite, sysRead, sysWrite } from './helpers.ts';

const M2 = 'kernel/mm/hugepages/hugepages-2048kB';
const G1 = 'kernel/mm/hugepages/hugepages-1048576kB';
const N0_2M = 'devices/system/node/node0/hugepages/hugepages-2048kB';
const N1_2M = 'devices/system/node/node1/hugepages/hugepages-2048kB';

function errnoOf(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    if (isErrno(e)) return e.code;
    throw e;
  }
  return 'ok';
}

describe('set_max_huge_pages', () => {
  it('grows interleaved over nodes and shrinks back; MemFree follows, MemTotal does not', () => {
    const { host } = boot('');
    const free0 = meminfo(host, 'MemFree');
    const total0 = meminfo(host, 'MemTotal');
    procWrite(host, 'sys/vm/nr_hugepages', '7\n');
    expect(sysRead(host, `${N0_2M}/nr_hugepages`)).toBe('4\n');
    expect(sysRead(host, `${N1_2M}/nr_hugepages`)).toBe('3\n');
    expect(free0 - meminfo(host, 'MemFree')).toBe(7 * 2048);
    expect(meminfo(host, 'MemTotal')).toBe(total0);
    procWrite(host, 'sys/vm/nr_hugepages', '0x2');
    expect(sysRead(host, `${M2}/nr_hugepages`)).toBe('2\n');
    expect(sysRead(host, `${N0_2M}/nr_hugepages`)).toBe('1\n');
    sysWrite(host, `${M2}/nr_hugepages`, '0');
    expect(meminfo(host, 'MemFree')).toBe(free0);
  });

  it('a per-node write changes only that node', () => {
    const { host, pools } = boot('');
    sysWrite(host, `${N1_2M}/nr_hugepages`, '5\n');
    expect(pools.hstates[0]!.nr_huge_pages_node).toEqual([0, 5]);
    sysWrite(host, `${N0_2M}/nr_hugepages`, '2');
    sysWrite(host, `${N1_2M}/nr_hugepages`, '1');
    expect(pools.hstates[0]!.nr_huge_pages_node).toEqual([2, 1]);
    expect(procRead(host, 'sys/vm/nr_hugepages')).toBe('3\n');
  });

  it('falls short when memory runs out, keeping what it got', () => {
    const { host, pools } = boot('', 4 * GiB, 1);
    sysWrite(host, `${G1}/nr_hugepages`, '10');
    const got = pools.hstates[1]!.nr_huge_pages;
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(4);
    expect(sysRead(host, `${G1}/nr_hugepages`)).toBe(`${got}\n`);
  });

  it('shrinking never frees reserved or in-use pages: the rest becomes surplus', () => {
    const { host, pools } = boot('hugepages=10');
    const h = pools.hstates[0]!;
    pools.hugetlb_acct_memory(h, 3); // reserve 3
    const inuse = pools.alloc_hugetlb_folio(h, { nid: 0 }, true); // consume one reservation
    pools.alloc_hugetlb_folio(h, { nid: 0 }, false); // one more in use, unreserved
    expect([h.free_huge_pages, h.resv_huge_pages]).toEqual([8, 2]);
    procWrite(host, 'sys/vm/nr_hugepages', '0');
    // min_count = resv + in use = 4 pages stay; all of them surplus now.
    expect([h.nr_huge_pages, h.free_huge_pages, h.surplus_huge_pages, h.max_huge_pages]).toEqual([4, 2, 4, 0]);
    expect(meminfo(host, 'HugePages_Surp')).toBe(4);
    // Freeing an in-use page while its node has surplus shrinks the pool.
    pools.free_huge_folio(inuse, true);
    expect([h.nr_huge_pages, h.resv_huge_pages, h.surplus_huge_pages]).toEqual([3, 3, 3]);
    // Growing converts surplus back first.
    procWrite(host, 'sys/vm/nr_hugepages', '2');
    expect([h.nr_huge_pages, h.surplus_huge_pages]).toEqual([3, 1]);
  });

  it('bad writes fail as Linux', () => {
    const { host } = boot('');
    expect(errnoOf(() => sysWrite(host, `${M2}/nr_hugepages`, '-1'))).toBe('EINVAL');
    expect(errnoOf(() => sysWrite(host, `${M2}/nr_hugepages`, '0x10'))).toBe('EINVAL');
    expect(errnoOf(() => sysWrite(host, `${M2}/nr_hugepages`, ''))).toBe('EINVAL');
    expect(errnoOf(() => sysWrite(host, `${M2}/nr_hugepages`, '99999999999999999999'))).toBe('ERANGE');
    expect(errnoOf(() => sysWrite(host, `${G1}/nr_overcommit_hugepages`, '1'))).toBe('EINVAL');
    expect(errnoOf(() => procWrite(host, 'sys/vm/nr_hugepages', '5x'))).toBe('EINVAL');
    expect(errnoOf(() => procWrite(host, 'sys/vm/nr_hugepages', '-3'))).toBe('EINVAL');
    expect(errnoOf(() => procWrite(host, 'sys/vm/nr_hugepages', '\n'))).toBe('EINVAL');
    expect(errnoOf(() => procWrite(host, 'sys/vm/nr_hugepages', ' 010\n'))).toBe('ok');
    expect(procRead(host, 'sys/vm/nr_hugepages')).toBe('8\n');
    const g = boot('default_hugepagesz=1G').host;
    expect(errnoOf(() => procWrite(g, 'sys/vm/nr_overcommit_hugepages', '1'))).toBe('EINVAL');
  });
});

describe('demote', () => {
  it('splits a free 1G page into 512 free 2M pages on its node', () => {
    const { host, pools } = boot('hugepagesz=1G hugepages=0:1,1:1');
    const [h2, h1] = pools.hstates;
    expect(sysRead(host, `${G1}/demote_size`)).toBe('2048kB\n');
    sysWrite(host, 'devices/system/node/node1/hugepages/hugepages-1048576kB/demote', '5\n');
    expect(h1!.nr_huge_pages_node).toEqual([1, 0]);
    expect(h2!.free_huge_pages_node).toEqual([0, 512]);
    expect(meminfo(host, 'Hugetlb')).toBe(2 * 1024 * 1024);
    expect(errnoOf(() => sysWrite(host, `${G1}/demote_size`, '1G'))).toBe('EINVAL');
  });
});

describe('overcommit and hugetlb_acct_memory', () => {
  it('gathers surplus pages for a reservation within nr_overcommit_hugepages', () => {
    const { host, pools } = boot('hugepages=2');
    const h = pools.hstates[0]!;
    expect(errnoOf(() => pools.hugetlb_acct_memory(h, 5))).toBe('ENOMEM');
    expect([h.nr_huge_pages, h.resv_huge_pages, h.surplus_huge_pages]).toEqual([2, 0, 0]);
    procWrite(host, 'sys/vm/nr_overcommit_hugepages', '3\n');
    pools.hugetlb_acct_memory(h, 5);
    expect([h.nr_huge_pages, h.free_huge_pages, h.resv_huge_pages, h.surplus_huge_pages]).toEqual([5, 5, 5, 3]);
    expect(sysRead(host, `${M2}/resv_hugepages`)).toBe('5\n');
    pools.hugetlb_acct_memory(h, -5);
    expect([h.nr_huge_pages, h.free_huge_pages, h.resv_huge_pages, h.surplus_huge_pages]).toEqual([2, 2, 0, 0]);
  });

  it('unreserved faults take surplus pages that go away when freed', () => {
    const { host, pools } = boot('');
    const h = pools.hstates[0]!;
    expect(pools.alloc_hugetlb_folio(h, { nid: 1 }, false)).toBe(-1);
    sysWrite(host, `${M2}/nr_overcommit_hugepages`, '1');
    const pfn = pools.alloc_hugetlb_folio(h, { nid: 1 }, false);
    expect(pfn).toBeGreaterThan(0);
    expect(h.surplus_huge_pages_node).toEqual([0, 1]);
    expect(pools.alloc_hugetlb_folio(h, { nid: 1 }, false)).toBe(-1);
    pools.free_huge_folio(pfn, false);
    expect([h.nr_huge_pages, h.surplus_huge_pages]).toEqual([0, 0]);
    expect(pools.page_hstate(pfn)).toBeNull();
  });

  it('dequeues on the preferred node first, then by distance, within the nodemask', () => {
    const { pools } = boot('hugepages=0:1,1:2');
    const h = pools.hstates[0]!;
    const a = pools.alloc_hugetlb_folio(h, { nid: 0 }, false);
    expect(pools.page_hstate(a)).toMatchObject({ inUse: true });
    expect(h.free_huge_pages_node).toEqual([0, 2]);
    pools.alloc_hugetlb_folio(h, { nid: 0 }, false);
    expect(h.free_huge_pages_node).toEqual([0, 1]);
    expect(pools.alloc_hugetlb_folio(h, { nid: 1, nodemask: [0] }, false)).toBe(-1);
  });
});

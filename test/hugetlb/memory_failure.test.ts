/**
 * Memory failure on pool pages: a free huge page is dissolved and only the bad
 * frame is lost; an in-use page is marked and dissolved when it is freed.
 */
import { describe, expect, it } from 'vitest';
import { boot, logLines, meminfo } from './helpers.ts';

describe('hugetlb memory failure', () => {
  it('a free 2M page is dissolved: 511 frames back to the allocator, one lost', () => {
    const { host, pools } = boot('hugepages=2');
    const h = pools.hstates[0]!;
    const head = h.freelists[0]![0]!;
    const free0 = meminfo(host, 'MemFree');
    expect(host.mf.memory_failure(head + 17)).toBe(0);
    expect(logLines(host, 'free huge page')).toEqual([`Memory failure: 0x${(head + 17).toString(16)}: recovery action for free huge page: Recovered`]);
    expect(meminfo(host, 'MemFree') - free0).toBe(2048 - 4);
    expect(meminfo(host, 'HardwareCorrupted')).toBe(4);
    expect([h.nr_huge_pages, h.free_huge_pages, h.max_huge_pages]).toEqual([1, 1, 1]);
    expect(pools.page_hstate(head)).toBeNull();
    expect(host.buddy.is_free_buddy_page(head + 17)).toBe(false);
    expect(host.buddy.is_free_buddy_page(head + 18)).toBe(true);
  });

  it('an in-use 1G page is marked; freeing it dissolves it without the bad frame', () => {
    const { host, pools } = boot('hugepagesz=1G hugepages=1');
    const h = pools.hstates[1]!;
    const head = pools.alloc_hugetlb_folio(h, { nid: 0 }, false);
    expect(pools.hugetlb_memory_failure(head + 5)).toBe('in-use');
    expect(pools.folio_hwpoisoned(head)).toBe(true);
    const free0 = meminfo(host, 'MemFree');
    pools.free_huge_folio(head, false);
    expect([h.nr_huge_pages, h.free_huge_pages]).toEqual([0, 0]);
    expect(meminfo(host, 'MemFree') - free0).toBe(1048576 - 4);
    expect(pools.hugetlb_memory_failure(head + 5)).toBeNull();
  });

  it('a reserved free page is not dissolved (EBUSY) and is never handed out again', () => {
    const { pools } = boot('hugepages=1');
    const h = pools.hstates[0]!;
    pools.hugetlb_acct_memory(h, 1);
    const head = h.freelists[0]!.concat(h.freelists[1]!)[0]!;
    expect(pools.hugetlb_memory_failure(head)).toBe('in-use');
    expect(h.free_huge_pages).toBe(1);
    expect(pools.alloc_hugetlb_folio(h, { nid: 0 }, true)).toBe(-1);
  });
});

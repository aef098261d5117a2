/**
 * The counters test of libhugetlbfs (tests/counters.c) as a property test:
 * random sequences of resize, overcommit, reservation and fault/free against a
 * reference model of Linux's rules, checking after every step that the pool
 * matches it and that Linux's invariants hold (free ≥ resv, surplus ≤ total,
 * per-node counts sum to the totals, MemFree gives back exactly what the pool
 * took, /proc/meminfo and /sys agree).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GiB } from '../../src/lib/size.ts';
import { isErrno } from '../../src/lib/errno.ts';
import type { HstateImpl } from '../../src/kernel/hugetlb/hstate.ts';
import { boot, meminfo, procWrite, sysRead } from './helpers.ts';

type Op =
  | { k: 'resize'; n: number }
  | { k: 'overcommit'; n: number }
  | { k: 'acct'; d: number }
  | { k: 'unacct'; d: number }
  | { k: 'alloc'; reserved: boolean }
  | { k: 'free'; i: number; restore: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('resize' as const), n: fc.integer({ min: 0, max: 24 }) }),
  fc.record({ k: fc.constant('overcommit' as const), n: fc.integer({ min: 0, max: 8 }) }),
  fc.record({ k: fc.constant('acct' as const), d: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ k: fc.constant('unacct' as const), d: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ k: fc.constant('alloc' as const), reserved: fc.boolean() }),
  fc.record({ k: fc.constant('free' as const), i: fc.nat(), restore: fc.boolean() }),
);

/** Linux's rules on one node, counting pages only. */
class Ref {
  total = 0;
  free = 0;
  resv = 0;
  surp = 0;
  over = 0;
  resize(count: number): void {
    let persistent = this.total - this.surp;
    if (count > persistent) {
      const s = Math.min(this.surp, count - persistent);
      this.surp -= s;
      persistent += s;
      const grow = count - persistent;
      this.total += grow;
      this.free += grow;
      return;
    }
    const inUse = this.total - this.free;
    const min = Math.max(count, this.resv + inUse);
    const drop = Math.max(0, persistent - min);
    this.total -= drop;
    this.free -= drop;
    persistent -= drop;
    if (count < persistent) this.surp += persistent - count;
  }
  acct(d: number): boolean {
    const needed = this.resv + d - this.free;
    if (needed <= 0) {
      this.resv += d;
      return true;
    }
    if (this.surp + needed > this.over) return false;
    this.total += needed;
    this.free += needed;
    this.surp += needed;
    this.resv += d;
    return true;
  }
  unacct(d: number): void {
    this.resv -= d;
    const n = Math.min(d, this.surp, this.free);
    this.total -= n;
    this.free -= n;
    this.surp -= n;
  }
  alloc(reserved: boolean): boolean {
    if (reserved || this.free - this.resv > 0) {
      this.free--;
      if (reserved) this.resv--;
      return true;
    }
    if (this.surp >= this.over) return false;
    this.total++;
    this.surp++;
    return true;
  }
  release(restore: boolean): void {
    if (restore) this.resv++;
    if (this.surp > 0) {
      this.total--;
      this.surp--;
    } else this.free++;
  }
}

function sum(a: readonly number[]): number {
  return a.reduce((x, y) => x + y, 0);
}

/**
 * free ≥ resv is skipped once a page was freed with its reservation restored:
 * free_huge_folio() puts the reservation back before giving a surplus page to
 * the page allocator, so Linux itself can end with resv > free on that path.
 */
function checkInvariants(h: HstateImpl, restored = false): void {
  if (!restored) expect(h.free_huge_pages).toBeGreaterThanOrEqual(h.resv_huge_pages);
  expect(h.surplus_huge_pages).toBeLessThanOrEqual(h.nr_huge_pages);
  expect(h.free_huge_pages).toBeLessThanOrEqual(h.nr_huge_pages);
  expect(sum(h.nr_huge_pages_node)).toBe(h.nr_huge_pages);
  expect(sum(h.free_huge_pages_node)).toBe(h.free_huge_pages);
  expect(sum(h.surplus_huge_pages_node)).toBe(h.surplus_huge_pages);
  h.freelists.forEach((l, n) => expect(l.length).toBe(h.free_huge_pages_node[n]));
  for (let n = 0; n < h.nr_huge_pages_node.length; n++) expect(h.surplus_huge_pages_node[n]).toBeLessThanOrEqual(h.nr_huge_pages_node[n]!);
}

describe('hugetlb counters (libhugetlbfs counters.c, as a property)', () => {
  it('one node: every step matches the reference model', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        const { host, pools } = boot('', 4 * GiB, 1);
        const h = pools.hstates[0]!;
        const memFree0 = meminfo(host, 'MemFree');
        const ref = new Ref();
        let restored = false;
        const inUse: { pfn: number; reserved: boolean }[] = [];
        for (const o of ops) {
          switch (o.k) {
            case 'resize':
              procWrite(host, 'sys/vm/nr_hugepages', `${o.n}\n`);
              ref.resize(o.n);
              break;
            case 'overcommit':
              procWrite(host, 'sys/vm/nr_overcommit_hugepages', `${o.n}\n`);
              ref.over = o.n;
              break;
            case 'acct': {
              let ok = true;
              try {
                pools.hugetlb_acct_memory(h, o.d);
              } catch (e) {
                if (!isErrno(e, 'ENOMEM')) throw e;
                ok = false;
              }
              expect(ok).toBe(ref.acct(o.d));
              break;
            }
            case 'unacct': {
              const d = Math.min(o.d, ref.resv);
              if (d === 0) break;
              pools.hugetlb_acct_memory(h, -d);
              ref.unacct(d);
              break;
            }
            case 'alloc': {
              const reserved = o.reserved && ref.resv > 0;
              const pfn = pools.alloc_hugetlb_folio(h, { nid: 0 }, reserved);
              expect(pfn >= 0).toBe(ref.alloc(reserved));
              if (pfn >= 0) inUse.push({ pfn, reserved });
              break;
            }
            case 'free': {
              if (inUse.length === 0) break;
              const [p] = inUse.splice(o.i % inUse.length, 1);
              const restore = o.restore && p!.reserved;
              restored ||= restore;
              pools.free_huge_folio(p!.pfn, restore);
              ref.release(restore);
              break;
            }
          }
          checkInvariants(h, restored);
          expect([h.nr_huge_pages, h.free_huge_pages, h.resv_huge_pages, h.surplus_huge_pages]).toEqual([ref.total, ref.free, ref.resv, ref.surp]);
          expect(h.nr_huge_pages - h.free_huge_pages).toBe(inUse.length);
          expect(memFree0 - meminfo(host, 'MemFree')).toBe(h.nr_huge_pages * 2048);
          expect(meminfo(host, 'HugePages_Rsvd')).toBe(ref.resv);
          expect(sysRead(host, 'kernel/mm/hugepages/hugepages-2048kB/surplus_hugepages')).toBe(`${ref.surp}\n`);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('two nodes with per-node resizes: the invariants hold after every step', () => {
    const nodeOp = fc.record({ nid: fc.integer({ min: -1, max: 1 }), n: fc.integer({ min: 0, max: 12 }) });
    fc.assert(
      fc.property(fc.array(fc.oneof(op, nodeOp.map((x) => ({ k: 'node' as const, ...x }))), { minLength: 1, maxLength: 40 }), (ops) => {
        const { host, pools } = boot('', 4 * GiB, 2);
        const h = pools.hstates[0]!;
        const memFree0 = meminfo(host, 'MemFree');
        const inUse: { pfn: number; reserved: boolean }[] = [];
        let restored = false;
        for (const o of ops) {
          if (o.k === 'node') pools.set_max_huge_pages(h, o.n, o.nid, o.nid < 0 ? [0, 1] : [o.nid]);
          else if (o.k === 'resize') procWrite(host, 'sys/vm/nr_hugepages', String(o.n));
          else if (o.k === 'overcommit') h.nr_overcommit_huge_pages = o.n;
          else if (o.k === 'acct') {
            try {
              pools.hugetlb_acct_memory(h, o.d);
            } catch (e) {
              if (!isErrno(e, 'ENOMEM')) throw e;
            }
          } else if (o.k === 'unacct') {
            const d = Math.min(o.d, h.resv_huge_pages);
            if (d) pools.hugetlb_acct_memory(h, -d);
          } else if (o.k === 'alloc') {
            const reserved = o.reserved && h.resv_huge_pages > 0;
            const pfn = pools.alloc_hugetlb_folio(h, { nid: o.reserved ? 1 : 0 }, reserved);
            if (pfn >= 0) inUse.push({ pfn, reserved });
          } else if (inUse.length) {
            const [p] = inUse.splice(o.i % inUse.length, 1);
            restored ||= o.restore && p!.reserved;
            pools.free_huge_folio(p!.pfn, o.restore && p!.reserved);
          }
          checkInvariants(h, restored);
          expect(h.nr_huge_pages - h.free_huge_pages).toBe(inUse.length);
          expect(memFree0 - meminfo(host, 'MemFree')).toBe(h.nr_huge_pages * 2048);
        }
      }),
      { numRuns: 40 },
    );
  });
});

/**
 * Random alloc/free sequences (mixed orders, several zones and nodes) against a
 * naive per-frame reference, with the buddy invariants checked after every step:
 * no frame owned twice; free + allocated = managed for every zone and node;
 * every free block naturally aligned and inside its zone; no two free buddies of
 * the same order left uncoalesced; per-order counts match free_area.
 */
import { frag_show } from '../../src/kernel/proc/buddyinfo.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GFP_DMA32,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  MAX_PAGE_ORDER,
  NR_PAGE_ORDERS,
  PageAllocator,
  ZONE_DMA,
  ZONE_DMA32,
  ZONE_NORMAL,
  __GFP_THISNODE,
  type Zone,
} from '../../src/kernel/mm/page_alloc.ts';

/*
 * node 0: DMA [1, 1536) | DMA32 [1536, 6144)   (boundary inside a block)
 * node 1: Normal [6144, 12288) with a hole [8000, 8100) never released
 */
const END = 12288;

/** A cheap assertion for the per-frame loops (expect() per frame is too slow). */
function check(cond: boolean, msg: string): void {
  if (!cond) throw new Error(msg);
}
function host(): PageAllocator {
  const pa = new PageAllocator(2);
  pa.init_zone(0, ZONE_DMA, 1, 1536, 1535);
  pa.init_zone(0, ZONE_DMA32, 1536, 6144, 4608);
  pa.init_zone(1, ZONE_NORMAL, 6144, END, 6144 - 100);
  pa.memblock_free_pages(1, 8000);
  pa.memblock_free_pages(8100, END);
  return pa;
}

type Op =
  | { kind: 'alloc'; order: number; nid: number; gfp: number }
  | { kind: 'free'; pick: number; part: boolean }
  | { kind: 'contig'; blocks: number; nid: number }
  | { kind: 'poison'; pfn: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('alloc' as const),
      order: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: MAX_PAGE_ORDER })),
      nid: fc.integer({ min: 0, max: 1 }),
      gfp: fc.constantFrom(GFP_KERNEL, GFP_HIGHUSER_MOVABLE, GFP_DMA32, GFP_KERNEL | __GFP_THISNODE),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat(), part: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('contig' as const), blocks: fc.integer({ min: 1, max: 3 }), nid: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('poison' as const), pfn: fc.integer({ min: 0, max: END - 1 }) }) },
);

/** The reference: who owns each frame (0 = free in the buddy, -1 = never released, n = allocation id). */
class Reference {
  readonly owner = new Int32Array(END).fill(-1);
  readonly held = new Map<number, { pfn: number; nr: number }>();
  private next = 1;
  constructor(pa: PageAllocator) {
    for (const nid of [0, 1]) for (const z of pa.zones(nid)) z.forEachFreeBlock((p, o) => this.owner.fill(0, p, p + 2 ** o));
  }
  take(pfn: number, nr: number): void {
    for (let p = pfn; p < pfn + nr; p++) check(this.owner[p] === 0, `frame ${p} handed out while not free`);
    const id = this.next++;
    this.owner.fill(id, pfn, pfn + nr);
    this.held.set(id, { pfn, nr });
  }
  /** First zone of the list with a fully free aligned run of 2^order frames. */
  firstFit(zones: readonly Zone[], order: number): Zone | undefined {
    const n = 2 ** order;
    for (const z of zones) {
      // Length of the free run ending at each frame; an aligned run of n ends at p + n - 1.
      let run = 0;
      for (let q = z.zone_start_pfn; q < z.zone_end_pfn; q++) {
        run = this.owner[q] === 0 ? run + 1 : 0;
        if (run >= n && (q + 1) % n === 0) return z;
      }
    }
    return undefined;
  }
}

function checkInvariants(pa: PageAllocator, ref: Reference): void {
  const seen = new Int32Array(END);
  let totalFree = 0;
  let totalManaged = 0;
  for (const nid of [0, 1]) {
    let nodeFree = 0;
    for (const z of pa.zones(nid)) {
      const perOrder = new Array<number>(NR_PAGE_ORDERS).fill(0);
      const heads = new Map<number, number>();
      let free = 0;
      z.forEachFreeBlock((p, o) => {
        const n = 2 ** o;
        check(p % n === 0, `free block ${p} order ${o} misaligned`);
        check(p >= z.zone_start_pfn && p + n <= z.zone_end_pfn, `free block ${p} outside ${z.name}`);
        for (let q = p; q < p + n; q++) {
          check(seen[q] === 0, `frame ${q} in two free blocks`);
          seen[q] = 1;
          check(ref.owner[q] === 0, `frame ${q} free in buddy but owned by ${ref.owner[q]}`);
        }
        perOrder[o]!++;
        heads.set(p, o);
        free += n;
      });
      for (const [p, o] of heads) {
        if (o === MAX_PAGE_ORDER) continue;
        const buddy = p ^ (2 ** o);
        check(!(heads.get(buddy) === o && z.spans(buddy)), `buddies ${p}/${buddy} order ${o} not merged`);
      }
      expect(Array.from(z.nr_free)).toEqual(perOrder);
      expect(z.free_pages).toBe(free);
      let allocated = 0;
      for (let q = z.zone_start_pfn; q < z.zone_end_pfn; q++) if (ref.owner[q]! > 0) allocated++;
      expect(free + allocated).toBe(z.managed_pages);
      nodeFree += free;
      totalManaged += z.managed_pages;
    }
    expect(pa.node_free_pages(nid)).toBe(nodeFree);
    totalFree += nodeFree;
  }
  for (let q = 0; q < END; q++) if (ref.owner[q] === 0) check(seen[q] === 1, `frame ${q} lost`);
  expect(pa.nr_free_pages()).toBe(totalFree);
  expect(pa.totalram_pages()).toBe(totalManaged);
}

function run(ops: Op[]): void {
  const pa = host();
  const ref = new Reference(pa);
  checkInvariants(pa, ref);
  for (const op of ops) {
    if (op.kind === 'alloc') {
      const expectZone = ref.firstFit(pa.zonelist(op.gfp, op.nid), op.order);
      const p = pa.alloc_pages(op.gfp, op.order, op.nid);
      if (expectZone === undefined) {
        expect(p).toBe(-1);
      } else {
        expect(p).toBeGreaterThanOrEqual(0);
        expect(pa.zone_of(p)).toBe(expectZone);
        ref.take(p, 2 ** op.order);
      }
    } else if (op.kind === 'free') {
      if (ref.held.size === 0) continue;
      const ids = [...ref.held.keys()];
      const id = ids[op.pick % ids.length]!;
      const { pfn, nr } = ref.held.get(id)!;
      ref.held.delete(id);
      if (op.part && nr >= 1024 && nr > 1024) {
        // Give a multi-block contig range back in two uneven pieces.
        pa.free_contig_range(pfn + 1024, nr - 1024);
        pa.free_contig_range(pfn, 1024);
      } else if (op.part && nr > 1) {
        // Free the two halves separately, as split_page users do.
        const order = Math.log2(nr) - 1;
        pa.__free_pages(pfn + nr / 2, order);
        pa.__free_pages(pfn, order);
      } else if (nr >= 1024) {
        pa.free_contig_range(pfn, nr);
      } else {
        pa.__free_pages(pfn, Math.log2(nr));
      }
      ref.owner.fill(0, pfn, pfn + nr);
      expect(() => pa.__free_pages(pfn, 0)).toThrow(/double free/);
    } else if (op.kind === 'contig') {
      const p = pa.alloc_contig_pages(op.blocks * 1024, op.nid);
      if (p >= 0) ref.take(p, op.blocks * 1024);
    } else {
      const wasFree = ref.owner[op.pfn] === 0;
      expect(pa.take_page_off_buddy(op.pfn)).toBe(wasFree);
      if (wasFree) ref.take(op.pfn, 1);
    }
    checkInvariants(pa, ref);
  }
}

describe('buddy allocator against a per-frame reference', () => {
  it('keeps every invariant through random alloc/free sequences', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 120 }), (ops) => run(ops)),
      { numRuns: 300, seed: 20251125 },
    );
  });

  it('drains completely and merges back to the boot state', () => {
    const pa = host();
    const before = frag_show(pa);
    const got: number[] = [];
    for (let p = pa.alloc_pages(GFP_KERNEL, 0, 1); p >= 0; p = pa.alloc_pages(GFP_KERNEL, 0, 1)) got.push(p);
    expect(got.length).toBe(END - 1 - 100);
    expect(pa.nr_free_pages()).toBe(0);
    for (let i = got.length - 1; i >= 0; i -= 2) pa.__free_pages(got[i]!, 0);
    for (let i = got.length - 2; i >= 0; i -= 2) pa.__free_pages(got[i]!, 0);
    expect(frag_show(pa)).toBe(before);
  });
});

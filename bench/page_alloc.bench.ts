/**
 * Page allocator benchmark: boot release of a 16 TiB two-node host, then
 * order-0 alloc+free loops in the patterns the fault path produces.
 * Run: node bin/run-ts.mjs bench/page_alloc.bench.ts
 */
import { performance } from 'node:perf_hooks';
import { GiB, PAGE_SIZE, TiB } from '../src/lib/size.ts';
import {
  GFP_HIGHUSER_MOVABLE,
  PageAllocator,
  ZONE_DMA,
  ZONE_DMA32,
  ZONE_MOVABLE,
  ZONE_NORMAL,
} from '../src/kernel/mm/page_alloc.ts';

const pfn = (bytes: number): number => bytes / PAGE_SIZE;

/** A 16 TiB host: node 0 = DMA, DMA32, Normal up to 8 TiB; node 1 = Normal 8..16 TiB. */
function boot16T(): { pa: PageAllocator; ms: number } {
  const pa = new PageAllocator(2);
  const half = pfn(8 * TiB);
  const end = pfn(16 * TiB);
  pa.init_zone(0, ZONE_DMA, 1, pfn(16 * 1024 * 1024), pfn(16 * 1024 * 1024) - 1);
  pa.init_zone(0, ZONE_DMA32, pfn(16 * 1024 * 1024), pfn(4 * GiB), pfn(4 * GiB) - pfn(16 * 1024 * 1024));
  pa.init_zone(0, ZONE_NORMAL, pfn(4 * GiB), half, half - pfn(4 * GiB));
  pa.init_zone(0, ZONE_MOVABLE, 0, 0, 0);
  pa.init_zone(1, ZONE_NORMAL, half, end, end - half);
  const t0 = performance.now();
  pa.memblock_free_pages(1, 0x9f);
  pa.memblock_free_pages(0x100, pfn(2 * GiB) - 7);
  pa.memblock_free_pages(pfn(2 * GiB) + 13, end);
  pa.init_per_zone_wmark_min();
  return { pa, ms: performance.now() - t0 };
}

function rate(label: string, ops: number, fn: () => void): void {
  fn(); // warm up
  const t0 = performance.now();
  fn();
  const s = (performance.now() - t0) / 1000;
  console.log(`${label.padEnd(52)} ${(ops / s / 1e6).toFixed(2).padStart(7)} M ops/s`);
}

const { pa, ms } = boot16T();
console.log(`16 TiB boot release (2 nodes, 4 ranges) + watermarks: ${ms.toFixed(3)} ms; free ${pa.nr_free_pages()} pages`);

const N = 2_000_000;

// Steady state: one order-0 frame of a split block churned over and over.
const pin = pa.alloc_pages(GFP_HIGHUSER_MOVABLE, 0, 0);
rate('order-0 alloc+free 1:1, block already split (ops)', 2 * N, () => {
  for (let i = 0; i < N; i++) {
    const p = pa.alloc_pages(GFP_HIGHUSER_MOVABLE, 0, 0);
    pa.__free_pages(p, 0);
  }
});
pa.__free_pages(pin, 0);
// The worst case: every alloc splits an order-10 block, every free merges it back.
rate('order-0 alloc+free 1:1 from a merged pool (ops)', 2 * N, () => {
  for (let i = 0; i < N; i++) {
    const p = pa.alloc_pages(GFP_HIGHUSER_MOVABLE, 0, 0);
    pa.__free_pages(p, 0);
  }
});

const held = new Float64Array(N);
rate('order-0 alloc x2M, then free x2M ascending (ops)', 2 * N, () => {
  for (let i = 0; i < N; i++) held[i] = pa.alloc_pages(GFP_HIGHUSER_MOVABLE, 0, 1);
  for (let i = 0; i < N; i++) pa.__free_pages(held[i]!, 0);
});

rate('order-0 alloc x2M, then free x2M reversed (ops)', 2 * N, () => {
  for (let i = 0; i < N; i++) held[i] = pa.alloc_pages(GFP_HIGHUSER_MOVABLE, 0, 0);
  for (let i = N - 1; i >= 0; i--) pa.__free_pages(held[i]!, 0);
});

// Random order of frees: the coalescing worst case for list bookkeeping.
let x = 12345;
const perm = new Uint32Array(N);
for (let i = 0; i < N; i++) perm[i] = i;
for (let i = N - 1; i > 0; i--) {
  x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  const j = x % (i + 1);
  const t = perm[i]!;
  perm[i] = perm[j]!;
  perm[j] = t;
}
rate('order-0 alloc x2M, then free x2M shuffled (ops)', 2 * N, () => {
  for (let i = 0; i < N; i++) held[i] = pa.alloc_pages(GFP_HIGHUSER_MOVABLE, 0, 0);
  for (let i = 0; i < N; i++) pa.__free_pages(held[perm[i]!]!, 0);
});

const M = 200_000;
rate('order-9 (THP) alloc x200k then free (ops)', 2 * M, () => {
  for (let i = 0; i < M; i++) held[i] = pa.alloc_pages(GFP_HIGHUSER_MOVABLE, 9, 0);
  for (let i = 0; i < M; i++) pa.__free_pages(held[i]!, 9);
});

const G = 4096;
rate('1 GiB alloc_contig_pages x4096 + free_contig_range (ops)', 2 * G, () => {
  for (let i = 0; i < G; i++) held[i] = pa.alloc_contig_pages(262144, i & 1);
  for (let i = 0; i < G; i++) pa.free_contig_range(held[i]!, 262144);
});
console.log(`free after: ${pa.nr_free_pages()} pages (${pa.nr_free_pages() === pa.totalram_pages() ? 'all' : 'NOT all'} managed)`);

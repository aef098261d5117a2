/**
 * dmem pool benchmark: a 16 TiB reservation (two nodes, one 8 TiB region
 * each), allocation throughput at 4K, 2M and 1G dpages, and the pool's
 * metadata per TiB — what the kernel is charged (KernelAlloc, as the original
 * kzalloc/vzalloc'd it) and what the model holds in typed arrays.
 * Run: node bin/run-ts.mjs bench/dmem.bench.ts
 */
import { performance } from 'node:perf_hooks';
import type { KernelAlloc } from '../src/kernel/dmem/api.ts';
import { DmemPoolImpl } from '../src/kernel/dmem/pool.ts';
import { KernelLog } from '../src/kernel/printk.ts';
import { GiB, TiB, formatBytes } from '../src/lib/size.ts';

const kalloc: KernelAlloc = { kvzalloc: () => 1, kvfree: () => {} };
const log = new KernelLog(() => 0);
const pool = new DmemPoolImpl(2, log);
pool.dmem_region_register(0, 4 * GiB, 4 * GiB + 8 * TiB);
pool.dmem_region_register(1, 4 * GiB + 8 * TiB, 4 * GiB + 16 * TiB);
const distances = [
  [10, 20],
  [20, 10],
];
pool.dmem_late_init({ sparse: { first_pfn_with_struct_page: () => -1 }, kalloc, topo: { distances, cpus: [8, 8], hasMemory: [true, true] } });
const reservedTiB = pool.registeredBytes / TiB;

function rate(n: number, ms: number): string {
  return `${((n / ms) * 1000 / 1e6).toFixed(2)} M/s`;
}

const rows: string[][] = [['dpage', 'dpages', 'init ms', 'alloc 1 (each)', 'alloc run', 'refill after free', 'kernel meta/TiB', 'model meta/TiB', 'original/TiB']];
for (const [label, shift, count, run] of [
  ['4K', 12, 4_000_000, 512],
  ['2M', 21, 4_000_000, 64],
  ['1G', 30, 16_384, 16],
] as const) {
  let t = performance.now();
  pool.dmem_alloc_init(shift);
  const initMs = performance.now() - t;
  const total = pool.total_dpages();
  const n = Math.min(count, total);
  const got: number[] = [];
  t = performance.now();
  for (let i = 0; i < n; i++) got.push(pool.dmem_alloc_pages_nodemask(0, undefined, 1)!.phys);
  const singleMs = performance.now() - t;
  // Free every other dpage, then take them again: first fit walks back from the lowered hint.
  t = performance.now();
  for (let i = 0; i < n; i += 2) pool.dmem_free_pages(got[i]!, 1);
  for (let i = 0; i < n; i += 2) pool.dmem_alloc_pages_nodemask(0, undefined, 1);
  const refillMs = performance.now() - t;
  for (const p of got) pool.dmem_free_pages(p, 1);
  // Runs of `run` dpages (what dmemfs asks for with max_alloc_try_dpages).
  const runs = Math.min(Math.floor(n / run), Math.floor(total / run / 2));
  const runList: [number, number][] = [];
  t = performance.now();
  for (let i = 0; i < runs; i++) {
    const r = pool.dmem_alloc_pages_nodemask(1, undefined, run)!;
    runList.push([r.phys, r.nr]);
  }
  const runMs = performance.now() - t;
  const kernelPerTiB = pool.kernel_bytes / reservedTiB;
  const modelPerTiB = pool.model_bytes() / reservedTiB;
  const dpagesPerTiB = TiB / 2 ** shift;
  const original = dpagesPerTiB / 8 + TiB / 4096 / 8 + 4 * dpagesPerTiB;
  for (const [p, nr] of runList) pool.dmem_free_pages(p, nr);
  pool.dmem_alloc_uinit();
  rows.push([
    label,
    String(total),
    initMs.toFixed(1),
    `${rate(n, singleMs)} (${n})`,
    `${rate(runs * run, runMs)} dpages (${runs} x ${run})`,
    rate(n, refillMs),
    formatBytes(kernelPerTiB),
    formatBytes(modelPerTiB),
    formatBytes(original),
  ]);
}

const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
console.log(`dmem pool: ${formatBytes(pool.registeredBytes)} reserved on 2 nodes (one region each)`);
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
console.log('kernel meta = allocation bitmap + error bitmap (1 bit/4K) + 4 B/dpage refcount, as charged to KernelAlloc;');
console.log('model meta = typed arrays the model holds (error bitmap and refcounts materialise only where used).');

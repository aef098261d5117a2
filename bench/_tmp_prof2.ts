import { Zone, ZONE_NORMAL } from '../src/kernel/mm/mmzone.ts';
import { BlockRuns } from '../src/kernel/mm/buddy.ts';
const z = new Zone(0, ZONE_NORMAL);
z.zone_start_pfn = 0; z.spanned_pages = 1 << 22; z.present_pages = 1 << 22;
z.free_blocks(0, 4096);
const N = 10_000_000;
let sum = 0;
let t0 = performance.now();
for (let i = 0; i < N; i++) { const p = z.rmqueue(0); sum += p; z.free_one_page(p, 0); }
console.log('zone churn', ((performance.now() - t0) / N * 1e6).toFixed(1), 'ns/pair');
const r = new BlockRuns(); r.add(0, 4096);
t0 = performance.now();
for (let i = 0; i < N; i++) { const b = r.popLowest(); r.add(b, b + 1); }
console.log('runs pop/add', ((performance.now() - t0) / N * 1e6).toFixed(1), 'ns/pair');
const p = z.rmqueue(0);
t0 = performance.now();
for (let i = 0; i < N; i++) { const q = z.rmqueue(0); sum += q; z.free_one_page(q, 0); }
console.log('zone o0 list churn', ((performance.now() - t0) / N * 1e6).toFixed(1), 'ns/pair', p);
const m = new Map<number, number>(); m.set(5, 1);
t0 = performance.now();
for (let i = 0; i < N; i++) { sum += m.get(5)!; }
console.log('map.get', ((performance.now() - t0) / N * 1e6).toFixed(1), 'ns');

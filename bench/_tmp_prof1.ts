import { GFP_HIGHUSER_MOVABLE, PageAllocator, ZONE_NORMAL } from '../src/kernel/mm/page_alloc.ts';
const pa = new PageAllocator(1);
pa.init_zone(0, ZONE_NORMAL, 0, 1 << 22, 1 << 22);
pa.memblock_free_pages(0, 1 << 22);
const N = 10_000_000;
let sum = 0;
const t0 = performance.now();
for (let i = 0; i < N; i++) { const p = pa.alloc_pages(GFP_HIGHUSER_MOVABLE, 0, 0); sum += p; pa.__free_pages(p, 0); }
console.log(((performance.now() - t0) / N * 1e6).toFixed(1), 'ns/pair', sum, pa.buddyinfo());

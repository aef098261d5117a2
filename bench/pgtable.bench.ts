/**
 * Page-table and VMA-tree throughput: 4 KiB leaf installs and lookups over 1 GiB,
 * a simulated fault loop (find_vma + walk + set_leaf), zap, and find_vma over an mm
 * with 10,000 VMAs. Prints ops/s; run with `node bin/run-ts.mjs bench/pgtable.bench.ts`.
 */
import { GiB, PAGE_SIZE } from '../src/lib/size.ts';
import { PageTables, type PgtableAllocator, _PAGE_PRESENT, _PAGE_RW, _PAGE_USER, mk_entry } from '../src/kernel/mm/pgtable.ts';
import { VmaTree } from '../src/kernel/mm/vma_tree.ts';
import { VM_READ, VM_WRITE, VmArea } from '../src/kernel/mm/vm_area.ts';

/** A trivial table allocator: sequential pfns, a free list. */
function allocator(): PgtableAllocator {
  let next = 0x100000;
  const free: number[] = [];
  return { alloc_table: () => free.pop() ?? next++, free_table: (pfn) => void free.push(pfn) };
}

function rate(name: string, ops: number, fn: () => void): void {
  const t0 = process.hrtime.bigint();
  fn();
  const ns = Number(process.hrtime.bigint() - t0);
  const perSec = ops / (ns / 1e9);
  console.log(`${name.padEnd(44)} ${(perSec / 1e6).toFixed(1).padStart(7)} M ops/s  (${ops} ops, ${(ns / 1e6).toFixed(1)} ms)`);
}

const BASE = 0x7f0000000000;
const N = GiB / PAGE_SIZE;
const FLAGS = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER;

for (let round = 0; round < 3; round++) {
  console.log(`round ${round + 1}`);
  const pt = new PageTables(allocator());
  rate('set_leaf 4K sequential over 1 GiB', N, () => {
    for (let i = 0; i < N; i++) pt.set_leaf(BASE + i * PAGE_SIZE, 1, mk_entry(0x200000 + i, FLAGS));
  });
  let sum = 0;
  rate('walk 4K sequential over 1 GiB', N, () => {
    for (let i = 0; i < N; i++) sum += pt.walk(BASE + i * PAGE_SIZE);
  });
  if (sum === 0) throw new Error('unreachable');
  rate('zap_range 1 GiB (free tables)', N, () => pt.zap_range(BASE, BASE + GiB, null, true));

  const mm = new VmaTree();
  const pt2 = new PageTables(allocator());
  mm.insert(new VmArea(BASE, BASE + GiB, VM_READ | VM_WRITE, BASE / PAGE_SIZE, null));
  rate('fault loop: find_vma + walk + set_leaf', N, () => {
    for (let i = 0; i < N; i++) {
      const va = BASE + i * PAGE_SIZE;
      const vma = mm.find_vma(va);
      if (vma === null || vma.start > va) throw new Error('SIGSEGV');
      if (pt2.walk(va) === 0) pt2.set_leaf(va, 1, mk_entry(0x200000 + i, FLAGS));
    }
  });

  const big = new VmaTree();
  const M = 10_000;
  rate('mmap 10,000 VMAs (get_unmapped_area + insert)', M, () => {
    for (let i = 0; i < M; i++) {
      const len = PAGE_SIZE * (1 + (i % 3));
      const a = big.get_unmapped_area(len, 0, 0);
      // Alternate flags so neighbours never merge: 10,000 distinct VMAs.
      big.insert(new VmArea(a, a + len, i % 2 ? VM_READ : VM_READ | VM_WRITE, a / PAGE_SIZE, null));
    }
  });
  const lo = big.first()!.start;
  const hi = big.last()!.end;
  const L = 2_000_000;
  let hits = 0;
  rate('find_vma, 10,000 VMAs, strided addresses', L, () => {
    for (let i = 0; i < L; i++) {
      const va = lo + ((i * 7919 * PAGE_SIZE) % (hi - lo));
      if (big.find_vma(va) !== null) hits++;
    }
  });
  if (hits === 0) throw new Error('unreachable');
}

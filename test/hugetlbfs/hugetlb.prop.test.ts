/**
 * Random mmap/touch/munmap/truncate/punch/fallocate/fork/exit sequences over two
 * hugetlbfs files and up to four tasks. After every step the accounting is
 * recomputed from scratch and compared with the pool's counters:
 *  - HugePages_Free >= HugePages_Rsvd;
 *  - HugePages_Rsvd = outstanding reservations: every file's reserve-map entries
 *    without a page in its page cache, plus every private owner VMA's pages
 *    whose reservation is not consumed;
 *  - Total - Free = in-use folios; each folio's references = page cache (0/1) +
 *    mapcount, and its mapcount = the leaves mapping it in every task;
 *  - every mapped leaf points at an in-use hugetlb page, at a huge-page level;
 *  - bytes written through a shared mapping read back with pread.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Errno } from '../../src/lib/errno.ts';
import { MiB } from '../../src/lib/size.ts';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../../src/uapi/fcntl.ts';
import { MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { Signal } from '../../src/uapi/signal.ts';
import { HUGETLBFS_I } from '../../src/kernel/fs/hugetlbfs/index.ts';
import { hugetlbfs_of } from '../../src/kernel/host_hugetlbfs.ts';
import { hugetlb_vm_ops } from '../../src/kernel/mm/hugetlb_fault.ts';
import { vma_hugecache_offset, vma_private_resv } from '../../src/kernel/mm/hugetlb_resv.ts';
import { PMD_LEVEL, _PAGE_PRESENT, pte_flags, pte_pfn } from '../../src/kernel/mm/pgtable.ts';
import type { Task } from '../../src/kernel/process.ts';
import { openFile, setup } from './helpers.ts';

const H = 2 * MiB;

type Op =
  | { k: 'mmap'; t: number; f: number; kind: 0 | 1 | 2; pg: number; n: number }
  | { k: 'touch'; m: number; pg: number; w: boolean; v: number }
  | { k: 'munmap'; m: number }
  | { k: 'truncate'; f: number; n: number }
  | { k: 'punch'; f: number; pg: number; n: number }
  | { k: 'falloc'; f: number; pg: number }
  | { k: 'fork'; t: number }
  | { k: 'exit'; t: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('mmap' as const), t: fc.nat(3), f: fc.nat(1), kind: fc.constantFrom(0 as const, 1 as const, 2 as const), pg: fc.nat(2), n: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ k: fc.constant('touch' as const), m: fc.nat(7), pg: fc.nat(2), w: fc.boolean(), v: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ k: fc.constant('touch' as const), m: fc.nat(7), pg: fc.nat(2), w: fc.boolean(), v: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ k: fc.constant('munmap' as const), m: fc.nat(7) }),
  fc.record({ k: fc.constant('truncate' as const), f: fc.nat(1), n: fc.nat(5) }),
  fc.record({ k: fc.constant('punch' as const), f: fc.nat(1), pg: fc.nat(4), n: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ k: fc.constant('falloc' as const), f: fc.nat(1), pg: fc.nat(4) }),
  fc.record({ k: fc.constant('fork' as const), t: fc.nat(3) }),
  fc.record({ k: fc.constant('exit' as const), t: fc.nat(3) }),
);

interface Mapping {
  task: Task;
  addr: number;
  pages: number;
  f: number;
  shared: boolean;
}

function run(ops: Op[], double: boolean): void {
  const { host, task: root, h2m } = setup({ n2m: 10, double });
  root.mount('none', '/mnt/huge', 'hugetlbfs', 0, '');
  const env = hugetlbfs_of(host).env();
  const fds = [openFile(root, '/mnt/huge/a'), openFile(root, '/mnt/huge/b')];
  const inodes = fds.map((fd) => root.fget(fd).f_inode);
  root.ftruncate(fds[0]!, 3 * H);
  const tasks: Task[] = [root];
  let maps: Mapping[] = [];
  const alive = (t: Task) => t.state !== 'Z';
  const quiet = (fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof Errno) && !(e instanceof Signal)) throw e;
    }
  };

  const check = (): void => {
    expect(h2m.free_huge_pages).toBeGreaterThanOrEqual(h2m.resv_huge_pages);
    let outstanding = 0;
    for (const inode of inodes) {
      const hi = HUGETLBFS_I(inode);
      outstanding += hi.resv_map.region_count(0, Infinity);
      for (const idx of hi.cache.keys()) outstanding -= hi.resv_map.region_count(idx, idx + 1);
    }
    const mapcount = new Map<number, number>();
    for (const t of tasks) {
      if (!alive(t)) continue;
      for (const vma of t.mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)) {
        if (vma.vm_ops !== hugetlb_vm_ops) continue;
        const resv = vma_private_resv(vma);
        if (resv) {
          const s = vma_hugecache_offset(h2m, vma, vma.start);
          const e = vma_hugecache_offset(h2m, vma, vma.end);
          outstanding += e - s - resv.region_count(s, e);
        }
        t.mm.pgtables.for_each_leaf(vma.start, vma.end, (_va, level, entry) => {
          if (!(pte_flags(entry) & _PAGE_PRESENT)) return;
          expect(level).toBe(PMD_LEVEL);
          expect(env.folios.has(pte_pfn(entry))).toBe(true);
          mapcount.set(pte_pfn(entry), (mapcount.get(pte_pfn(entry)) ?? 0) + 1);
        });
      }
    }
    expect(h2m.resv_huge_pages).toBe(outstanding);
    expect(h2m.nr_huge_pages - h2m.free_huge_pages).toBe(env.folios.size);
    const cached = new Set<number>();
    for (const inode of inodes) for (const head of HUGETLBFS_I(inode).cache.values()) cached.add(head);
    for (const f of env.folios.values()) {
      expect(f.mapcount).toBe(mapcount.get(f.head) ?? 0);
      expect(f.refs).toBe(f.mapcount + (cached.has(f.head) ? 1 : 0));
    }
  };

  for (const op of ops) {
    switch (op.k) {
      case 'mmap': {
        const t = tasks[op.t % tasks.length]!;
        if (!alive(t)) break;
        const flags = op.kind === 0 ? MAP_SHARED : op.kind === 1 ? MAP_PRIVATE : MAP_SHARED | MAP_NORESERVE;
        quiet(() => {
          const addr = t.mmap(0, op.n * H, PROT_READ | PROT_WRITE, flags, fds[op.f]!, op.pg * H);
          maps.push({ task: t, addr, pages: op.n, f: op.f, shared: op.kind !== 1 });
        });
        break;
      }
      case 'touch': {
        const m = maps[op.m % Math.max(1, maps.length)];
        if (!m || !alive(m.task)) break;
        const at = m.addr + (op.pg % m.pages) * H + op.v;
        quiet(() => {
          if (op.w) m.task.store(at, new Uint8Array([op.v]));
          else m.task.load(at, 1);
        });
        if (op.w && m.shared && alive(m.task) && m.task.mm.pgtables.walk(at) !== 0) {
          const vma = m.task.mm.vmas.find_vma(at)!;
          const off = vma.pgoffOf(at) * 4096 + (at % 4096);
          expect(root.pread(fds[m.f]!, 1, off)[0]).toBe(op.v);
        }
        break;
      }
      case 'munmap': {
        const i = op.m % Math.max(1, maps.length);
        const m = maps[i];
        if (!m) break;
        if (alive(m.task)) m.task.munmap(m.addr, m.pages * H);
        maps.splice(i, 1);
        break;
      }
      case 'truncate':
        root.ftruncate(fds[op.f]!, op.n * H);
        break;
      case 'punch':
        root.fallocate(fds[op.f]!, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, op.pg * H, op.n * H);
        break;
      case 'falloc':
        quiet(() => root.fallocate(fds[op.f]!, 0, op.pg * H, 1));
        break;
      case 'fork': {
        const t = tasks[op.t % tasks.length]!;
        if (!alive(t) || tasks.length >= 4) break;
        const c = t.fork();
        tasks.push(c);
        maps = maps.concat(maps.filter((m) => m.task === t).map((m) => ({ ...m, task: c })));
        break;
      }
      case 'exit': {
        const t = tasks[op.t % tasks.length]!;
        if (t === root || !alive(t)) break;
        t.exit(0);
        maps = maps.filter((m) => m.task !== t);
        break;
      }
    }
    check();
  }
  // Everything goes back: unmap all, truncate both files.
  for (const t of tasks) if (t !== root && alive(t)) t.exit(0);
  for (const m of maps) if (m.task === root) root.munmap(m.addr, m.pages * H);
  for (const fd of fds) root.ftruncate(fd, 0);
  check();
  expect([h2m.free_huge_pages, h2m.resv_huge_pages, env.folios.size]).toEqual([10, 0, 0]);
}

describe('hugetlb accounting (property)', () => {
  it.each([
    ['the host pools', false],
    ['the TEST DOUBLE pools', true],
  ])('random sequences keep the pool, the reserve maps and the page tables consistent (%s)', (_name, double) => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => run(ops, double)),
      { numRuns: 120 },
    );
  });
});

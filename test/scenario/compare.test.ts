/**
 * dmemfs compare end to end on small hosts: the counters add up, the same
 * scenario gives the same result, and the model reproduces the figures of
 * reference/costs.md within 0.5%, measured from booted hosts.
 */
import { describe, expect, it } from 'vitest';
import { GiB, KiB, MiB, TiB } from '../../src/lib/size.ts';
import { machineFromFlags } from '../../src/kernel/boot/machine.ts';
import { Operator } from '../../src/scenario/operator.ts';
import { compare } from '../../src/scenario/runner.ts';
import { parseScenario } from '../../src/scenario/scenario.ts';
import type { BackendResult } from '../../src/scenario/result.ts';

const SMALL = parseScenario(`
host: {memory: 16G, nodes: 2, reserve: 4G}
fleet:
  shapes:
    - {name: a, memory: 2G, count: 2, touch: 16M, write: true}
    - {name: b, memory: 1G, fill: true, touch: 4M}
`);

function within(got: number, want: number, tol = 0.005): void {
  expect(Math.abs(got - want) / want, `${got} vs ${want}`).toBeLessThanOrEqual(tol);
}

/** Boot memmap of a freshly booted host, from /proc/vmstat. */
function bootMemmap(mem: number): number {
  const op = new Operator(machineFromFlags({ mem, nodes: 1 }), '');
  const v = op.vmstat();
  return ((v.get('nr_memmap_boot_pages') ?? 0) + (v.get('nr_memmap_pages') ?? 0)) * 4096;
}

describe('reference/costs.md, measured', () => {
  it('64 B of struct page per 4 KiB; about 5 GiB per 320 GiB; 16 GiB per TiB', () => {
    // The memmap covers whole present sections, holes included: within 0.5% of RAM/64.
    within(bootMemmap(320 * GiB) / (320 * GiB), 64 / 4096);
    within(bootMemmap(320 * GiB), 5 * GiB);
    within(bootMemmap(TiB), 16 * GiB);
  });
});

describe('compare on a 16 GiB host', () => {
  const ids = ['anon-4k', 'hugetlb-2m', 'hugetlb-2m-hvo', 'hugetlb-1g', 'hugetlb-1g-hvo', 'devdax-2m', 'devdax-1g', 'devdax-map0', 'dmemfs-2m'] as const;
  const res = compare(SMALL, { backends: [...ids], noProbes: true });
  const by = (id: string): BackendResult => res.results.find((r) => r.id === id)!;

  it('measures every backend, and the overhead adds up', () => {
    for (const r of res.results) {
      expect(r.error, r.id).toBeUndefined();
      const o = r.overhead;
      expect(o.total).toBe(o.structPages + o.backendMeta + o.hostPageTables + o.secPageTables);
      expect(r.density[0]!.fits, r.id).toBe(2);
      expect(r.density[1]!.fits, r.id).toBeGreaterThan(0);
      expect(r.density[1]!.failure, r.id).not.toBe('');
      expect(r.nodes.length).toBe(2);
      for (const n of r.nodes) expect(n.cells.length).toBeLessThanOrEqual(512);
    }
  });

  it('dmemfs has fewer struct pages than anonymous memory, and metadata of its own', () => {
    expect(by('dmemfs-2m').overhead.structPages).toBeLessThan(by('anon-4k').overhead.structPages);
    expect(by('dmemfs-2m').overhead.backendMeta).toBeGreaterThan(0);
  });

  it('4K guests need 4K leaves, 2M and 1G backends huge leaves', () => {
    expect(by('anon-4k').secondStage['4k']).toBeGreaterThan(0);
    expect(by('hugetlb-2m').secondStage['4k']).toBe(0);
    expect(by('hugetlb-1g').secondStage['1g']).toBeGreaterThan(0);
    expect(by('anon-4k').overhead.secPageTables).toBeGreaterThan(by('hugetlb-2m').overhead.secPageTables);
  });

  it('HVO frees 7 of 8 vmemmap pages per 2M page and 4095 of 4096 per 1G page', () => {
    // guestAvailable is read after setup, before any VM: the whole pool.
    const pool2m = by('hugetlb-2m-hvo').guestAvailable;
    const pool1g = by('hugetlb-1g-hvo').guestAvailable;
    const perGiB = (id: string, pool: number): number => (by('anon-4k').overhead.structPages - by(id).overhead.structPages) / (pool / GiB);
    // Saved per GiB of pool: 16 MiB - 2 MiB = 14 MiB (2M), 16 MiB - 4 KiB (1G).
    within(perGiB('hugetlb-2m-hvo', pool2m), 14 * MiB);
    within(perGiB('hugetlb-1g-hvo', pool1g), 16 * MiB - 4 * KiB);
  });

  it('device-dax vmemmap: 4 MiB per GiB at 2M align, 8 KiB at 1G, none with map=0', () => {
    const dev = (id: string): number => by(id).overhead.structPages - by('devdax-map0').overhead.structPages;
    within(dev('devdax-2m') / (by('devdax-2m').guestUsed / GiB), 4 * MiB);
    within(dev('devdax-1g') / (by('devdax-1g').guestUsed / GiB), 8 * KiB);
  });

  it('is deterministic: the same scenario and seed give the same JSON', () => {
    const a = compare(SMALL, { backends: ['thp', 'dmemfs-1g'] });
    const b = compare(SMALL, { backends: ['thp', 'dmemfs-1g'] });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});

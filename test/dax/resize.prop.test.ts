/**
 * dev_dax_resize against a small reference of its rules, in 2 MiB units over a
 * 64-unit region: grow first-fit in address order (the gap before the first
 * allocation, between allocations, after the last), extending the device's last
 * range in place when it is the allocation just before the gap (never for the
 * gap at the region's start), else appending a range; shrink drops whole ranges
 * from the last backwards and trims the survivor. Invariants after every step.
 */
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { MiB } from '../../src/lib/size.ts';
import { DaxBusImpl } from '../../src/kernel/dax/bus.ts';
import type { DevDaxImpl } from '../../src/kernel/dax/device.ts';
import { KernelLog } from '../../src/kernel/printk.ts';

const U = 2 * MiB;
const UNITS = 64;
const BASE = 0x400000000;

/** Reference: each device is a list of [startUnit, lenUnits] in page-offset order. */
type Ref = Map<string, [number, number][]>;

function refAllocs(ref: Ref): { dev: string; i: number; s: number; e: number }[] {
  const out: { dev: string; i: number; s: number; e: number }[] = [];
  for (const [dev, rs] of ref) rs.forEach(([s, l], i) => out.push({ dev, i, s, e: s + l }));
  return out.sort((a, b) => a.s - b.s);
}

function refResize(ref: Ref, dev: string, units: number): 'ok' | 'ENOSPC' {
  const rs = ref.get(dev)!;
  const cur = rs.reduce((n, [, l]) => n + l, 0);
  const used = refAllocs(ref).reduce((n, a) => n + a.e - a.s, 0);
  if (units > cur && units - cur > UNITS - used) return 'ENOSPC';
  if (units < cur) {
    let cut = cur - units;
    while (cut > 0) {
      const last = rs[rs.length - 1]!;
      if (last[1] <= cut) {
        cut -= last[1];
        rs.pop();
      } else {
        last[1] -= cut;
        cut = 0;
      }
    }
    return 'ok';
  }
  let need = units - cur;
  while (need > 0) {
    const all = refAllocs(ref);
    if (all.length === 0 || all[0]!.s > 0) {
      const gap = all.length ? all[0]!.s : UNITS;
      const take = Math.min(gap, need);
      rs.push([0, take]);
      need -= take;
      continue;
    }
    for (let k = 0; k < all.length; k++) {
      const a = all[k]!;
      const gapEnd = k + 1 < all.length ? all[k + 1]!.s : UNITS;
      const take = Math.min(gapEnd - a.e, need);
      if (take <= 0) continue;
      if (a.dev === dev && a.i === rs.length - 1) rs[rs.length - 1]![1] += take;
      else rs.push([a.e, take]);
      need -= take;
      break;
    }
  }
  return 'ok';
}

test('resize matches the first-fit / extend / shrink reference and keeps the invariants', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('create' as const) }),
    fc.record({ kind: fc.constant('resize' as const), dev: fc.nat(5), units: fc.nat(UNITS + 4) }),
    fc.record({ kind: fc.constant('delete' as const), dev: fc.nat(5) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const bus = new DaxBusImpl(new KernelLog(() => 0));
      const region = bus.alloc_dax_region(0, BASE, BASE + UNITS * U - 1, 0, U, 0, 'devices/platform/hmem.0')!;
      bus.devm_create_dev_dax(region, 0);
      const ref: Ref = new Map([['dax0.0', []]]);
      for (const o of ops) {
        const devs = bus.region_devices(region);
        if (o.kind === 'create') {
          if (region.avail_size() === 0) continue;
          bus.create_store(region, '1');
          const d = devs.length ? bus.region_devices(region).at(-1)! : null;
          if (d) ref.set(d.name, []);
        } else if (o.kind === 'delete') {
          const d = devs[o.dev % devs.length]!;
          try {
            bus.delete_store(region, d.name);
            ref.delete(d.name);
          } catch {
            expect(d.id === 0 || d.size > 0).toBe(true);
          }
        } else {
          const d = devs[o.dev % devs.length]!;
          const want = refResize(ref, d.name, o.units);
          let got = 'ok';
          try {
            bus.size_store(d, String(o.units * U));
          } catch (e) {
            got = (e as { code: string }).code;
          }
          expect(got).toBe(want);
        }
        check(region.start, bus.region_devices(region), region.avail_size(), ref);
      }
    }),
  );
});

function check(base: number, devs: DevDaxImpl[], avail: number, ref: Ref): void {
  const spans: [number, number][] = [];
  let allocated = 0;
  for (const d of devs) {
    const want = (ref.get(d.name) ?? []).map(([s, l]) => [base + s * U, base + (s + l) * U - 1]);
    expect(d.ranges.map((r) => [r.start, r.end])).toEqual(want);
    let pgoff = 0;
    for (const r of d.ranges) {
      expect(r.pgoff).toBe(pgoff); // page offsets monotonic, contiguous
      pgoff += (r.end - r.start + 1) / 4096;
      expect((r.end - r.start + 1) % U).toBe(0);
      expect(r.start >= base && r.end < base + UNITS * U).toBe(true);
      spans.push([r.start, r.end]);
      allocated += r.end - r.start + 1;
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThan(spans[i - 1]![1]);
  expect(avail).toBe(UNITS * U - allocated);
}

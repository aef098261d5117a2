/** Shared fixtures for the dmem tests: a counting KernelAlloc, a pool over given regions, a boot through boot_memory. */
import { KernelParams } from '../../src/kernel/boot/cmdline.ts';
import { machineFromFlags, type MachineDesc } from '../../src/kernel/boot/machine.ts';
import { boot_memory, type MemoryBoot } from '../../src/kernel/boot/setup.ts';
import type { KernelAlloc } from '../../src/kernel/dmem/api.ts';
import { DmemPoolImpl } from '../../src/kernel/dmem/pool.ts';
import { createDmem, type DmemBoot } from '../../src/kernel/dmem/reserve.ts';
import type { NodeTopology } from '../../src/kernel/dmem/node.ts';
import { KernelLog } from '../../src/kernel/printk.ts';

/** A KernelAlloc that counts live bytes and can be told to fail. */
export class FakeKalloc implements KernelAlloc {
  live = new Map<number, { bytes: number; nid: number }>();
  private next = 1;
  /** Fail allocations once this many bytes are live. */
  limit = Infinity;

  kvzalloc(bytes: number, nid: number): number {
    if (this.bytes() + bytes > this.limit) return -1;
    const h = this.next++;
    this.live.set(h, { bytes, nid });
    return h;
  }

  kvfree(handle: number): void {
    if (!this.live.delete(handle)) throw new Error(`kvfree of unknown handle ${handle}`);
  }

  bytes(): number {
    let n = 0;
    for (const v of this.live.values()) n += v.bytes;
    return n;
  }
}

/** A quiet log with a frozen clock. */
export function newLog(): KernelLog {
  return new KernelLog(() => 0);
}

/** The log's text lines. */
export function lines(log: KernelLog): string[] {
  return log.all().map((r) => r.text);
}

/** Topology: SLIT distances (default 10/20), CPUs per node (default 4), all nodes shared with the kernel. */
export function topo(n: number, o: { distances?: number[][]; cpus?: number[]; hasMemory?: boolean[] } = {}): NodeTopology {
  return {
    distances: o.distances ?? Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 10 : 20))),
    cpus: o.cpus ?? new Array<number>(n).fill(4),
    hasMemory: o.hasMemory ?? new Array<boolean>(n).fill(true),
  };
}

/** A pool over [start, end, nid] regions (registered in the given order), late-initialised. */
export function makePool(nrNodes: number, regions: [number, number, number][], t?: NodeTopology): { pool: DmemPoolImpl; kalloc: FakeKalloc; log: KernelLog } {
  const log = newLog();
  const pool = new DmemPoolImpl(nrNodes, log);
  for (const [s, e, nid] of regions) pool.dmem_region_register(nid, s, e);
  const kalloc = new FakeKalloc();
  const ret = pool.dmem_late_init({ sparse: { first_pfn_with_struct_page: () => -1 }, kalloc, topo: t ?? topo(nrNodes) });
  if (ret !== 0) throw new Error(`late init failed: ${ret}`);
  return { pool, kalloc, log };
}

/** Boot memory with dmem wired as the host will: early param, reserve hook, late init. */
export function bootDmem(cmdline: string, machine: MachineDesc = machineFromFlags({ mem: 64 * 2 ** 30, nodes: 2 })): {
  mem: MemoryBoot;
  dmem: DmemBoot;
  pool: DmemPoolImpl;
  log: KernelLog;
  kalloc: FakeKalloc;
} {
  const log = newLog();
  const params = new KernelParams();
  const dmem = createDmem(params, log);
  const mem = boot_memory(machine, params, cmdline, log, [dmem.reserveHook]);
  const kalloc = new FakeKalloc();
  const pool = dmem.lateInit({ sparse: mem.sparse, kalloc, machine, log });
  return { mem, dmem, pool, log, kalloc };
}

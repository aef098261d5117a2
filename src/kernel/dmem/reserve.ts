/**
 * dmem= and the boot-time reservation (the original series' mm/dmem_reserve.c,
 * called from arch/x86/kernel/setup.c setup_arch() after NUMA setup and before
 * paging_init(), so the reserved memory never gets struct pages), plus the
 * factory the host wires in: the early parameter, the ReserveHook, and the late
 * init that builds the pool (dmem_late_init, a late_initcall in the original).
 *
 * Differences from the original, all deliberate:
 *  - several dmem= are honoured, in command-line order (the original kept one
 *    struct dmem_param, so the last dmem= won);
 *  - a fixed range (SIZE@ADDR) must be wholly free memblock memory; otherwise
 *    the entry is ignored with a line naming it (the original took whatever
 *    free, aligned parts it found and logged the rest as "not reserved");
 *  - the shortfall line prints the missing amount (the original printed the
 *    requested size);
 *  - each region also appears in /proc/iomem as "dmem" (the original added no
 *    resource).
 */
import { alignDown, alignUp, hex, isPowerOf2, memparse } from '../../lib/size.ts';
import type { KernelParams } from '../boot/cmdline.ts';
import type { NodeRange } from '../boot/e820.ts';
import type { MachineDesc } from '../boot/machine.ts';
import type { ReserveHook } from '../boot/setup.ts';
import { NUMA_NO_NODE, type Memblock } from '../mm/memblock.ts';
import { SECTION_SIZE_BITS } from '../mm/mem_section.ts';
import type { KernelLog } from '../printk.ts';
import { Resource, type ResourceTree } from '../resource.ts';
import type { KernelAlloc } from './api.ts';
import { DmemPoolImpl, fmt_llx, type StructPageCheck } from './pool.ts';

const EINVAL = -22;

/** Default and minimum alignment of a reservation: one memory section (1 << SECTION_SIZE_BITS = 128 MiB). */
export const DMEM_MIN_ALIGN = 2 ** SECTION_SIZE_BITS;

/** struct dmem_param, plus the text it came from. */
export interface DmemParam {
  /** "dmem=..." as given. */
  raw: string;
  base: number;
  size: number;
  align: number;
  /** `!`: size is what the kernel keeps on each node; dmem takes the rest. */
  resv_kernel: boolean;
}

/** check_dmem_param(): alignment and range checks; returns the parameter or -EINVAL. */
function check_dmem_param(raw: string, resv_kernel: boolean, base: number, size: number, align: number, log: KernelLog): DmemParam | number {
  const min_align = DMEM_MIN_ALIGN;
  if (!align) align = min_align;
  // The reserved region should be aligned to memory section at least.
  if (align < min_align) {
    log.warn(`dmem: 'align' should be ${fmt_llx(min_align)} at least to be aligned to memory section.`);
    return EINVAL;
  }
  if (!isPowerOf2(align)) {
    log.warn("dmem: 'align' should be power of 2.");
    return EINVAL;
  }
  if (base % align !== 0) {
    log.warn("dmem: 'addr' is unaligned to 'align' in dmem=");
    return EINVAL;
  }
  if (size % align !== 0) {
    log.warn("dmem: 'size' is unaligned to 'align' in dmem=");
    return EINVAL;
  }
  // phys_addr_t overflow in C; here: beyond what x86-64 can address (52 bits).
  if (base + size > 2 ** 52) {
    log.warn("dmem: 'addr + size' overflow in dmem=");
    return EINVAL;
  }
  if (resv_kernel && base) {
    log.warn('dmem: take a certain base address for kernel is illegal');
    return EINVAL;
  }
  log.info(
    `dmem: parameter: base address ${fmt_llx(base)} size ${fmt_llx(size)} align ${fmt_llx(align)} resv_kernel ${resv_kernel ? 1 : 0}`,
  );
  return { raw, base, size, align, resv_kernel };
}

/**
 * parse_dmem(), the early_param("dmem") handler: `[!]SIZE[@ADDR][:ALIGN]` with
 * @ and : in either order. Returns the parameter or -EINVAL (the command-line
 * parser then reports "Malformed early option 'dmem'").
 */
export function parse_dmem(p: string | undefined, log: KernelLog): DmemParam | number {
  if (p === undefined) return EINVAL;
  const raw = `dmem=${p}`;
  let base = 0;
  let align = 0;
  let resv_kernel = false;
  if (p.startsWith('!')) {
    resv_kernel = true;
    p = p.slice(1);
  }
  const s = memparse(p);
  if (Number.isNaN(s.value)) return EINVAL;
  const size = s.value;
  if (!size) {
    log.warn("dmem: 'size' of 0 defined in dmem=, or {invalid} param");
    return EINVAL;
  }
  let rest = s.rest;
  while (rest.length) {
    const c = rest[0]!;
    if (c !== '@' && c !== ':') {
      log.warn(`dmem: unknown indicator: ${c} in dmem=`);
      return EINVAL;
    }
    // Some attribute had been specified multiple times. This is not allowed.
    if ((c === '@' ? base : align) !== 0) return EINVAL;
    const v = memparse(rest.slice(1));
    if (Number.isNaN(v.value)) return EINVAL;
    if (v.value === 0) {
      log.warn("dmem: 'addr' or 'align' should not be set to 0");
      return EINVAL;
    }
    if (c === '@') base = v.value;
    else align = v.value;
    rest = v.rest;
  }
  return check_dmem_param(raw, resv_kernel, base, size, align, log);
}

/** What the reservation works on (the ReserveHook context) and where it registers regions. */
interface ReserveCtx {
  memblock: Memblock;
  iomem: ResourceTree;
  log: KernelLog;
  pool: DmemPoolImpl;
}

/**
 * dmem_remove_memblock(): the range stops being memory. (The original reserved
 * it first so memblock_remove's array doubling could not land inside it; the
 * model's arrays are not in simulated memory.)
 */
function dmem_remove_memblock(c: ReserveCtx, base: number, size: number): void {
  c.memblock.remove(base, size);
  c.iomem.insert(new Resource('dmem', base, base + size - 1));
}

/**
 * The first free range, walking top-down, from which take(range) carves a
 * chunk; memblock must not change while its iterator runs, so the caller
 * removes the chunk and walks again ("We have dropped a memblock, so re-walk it").
 */
function next_chunk(mb: Memblock, take: (start: number, end: number, nid: number) => [number, number] | null): [number, number, number] | null {
  for (const r of mb.free_mem_ranges(NUMA_NO_NODE, true)) {
    const got = take(r.start, r.end, r.nid);
    if (got) return [got[0], got[1], r.nid];
  }
  return null;
}

/** dmem_reserve_size(): size (or all but size, with `!`) on every node, top-down, in aligned chunks. */
function dmem_reserve_size(c: ReserveCtx, size: number, align: number, resv_kernel: boolean): void {
  const req = new Map<number, number>();
  // Calculate available free memory on each node.
  for (const r of c.memblock.free_mem_ranges(NUMA_NO_NODE)) req.set(r.nid, (req.get(r.nid) ?? 0) + r.end - r.start);
  // Calculate memory size needed to reserve on each node for dmem.
  for (const [nid, free] of req) {
    const avail = alignUp(free, align);
    req.set(nid, !resv_kernel ? Math.min(size, avail) : avail > size ? avail - size : 0);
  }
  for (;;) {
    const chunk = next_chunk(c.memblock, (s, e, nid) => {
      const need = req.get(nid) ?? 0;
      // Well, we have got enough memory for this node.
      if (!need) return null;
      const start = alignUp(s, align);
      const end = alignDown(e, align);
      // Skip memblock_region which is too small.
      if (start >= end) return null;
      // Towards memory block at higher address.
      return [end - Math.min(end - start, need), end];
    });
    if (!chunk) break;
    const [start, end, nid] = chunk;
    // Not enough room in the region table: stop here.
    if (c.pool.dmem_region_register(nid, start, end) < 0) break;
    dmem_remove_memblock(c, start, end - start);
    req.set(nid, req.get(nid)! - (end - start));
  }
  for (const [nid, left] of [...req].sort((a, b) => a[0] - b[0])) {
    if (left) c.log.info(`dmem: ${fmt_llx(left)} size of memory is not reserved on node ${nid} due to misaligned regions.`);
  }
}

/** Bytes of [base, base+size) that memblock lists as memory. */
function memory_bytes_in(mb: Memblock, base: number, size: number): number {
  let n = 0;
  for (const r of mb.mem_ranges(NUMA_NO_NODE)) n += Math.max(0, Math.min(r.end, base + size) - Math.max(r.start, base));
  return n;
}

/** dmem_reserve_region(): the fixed range [base, base+size), split where nodes or holes split it. */
function dmem_reserve_region(c: ReserveCtx, p: DmemParam): void {
  const { base, align } = p;
  let size = p.size;
  const p_end = base + size;
  // Ours: the whole range must be free RAM (not a hole, not reserved, not an earlier dmem= region).
  if (memory_bytes_in(c.memblock, base, size) !== size || c.memblock.is_region_reserved(base, size)) {
    c.log.warn(`dmem: invalid parameter "${p.raw}": [mem ${hex(base, 16)}-${hex(p_end - 1, 16)}] is not free memory, ignored`);
    return;
  }
  for (;;) {
    const chunk = next_chunk(c.memblock, (s, e) => {
      // Find region located in user defined range.
      if (s >= p_end || e <= base) return null;
      const start = alignUp(Math.max(s, base), align);
      const end = alignDown(Math.min(e, p_end), align);
      return start < end ? [start, end] : null;
    });
    if (!chunk) break;
    const [start, end, nid] = chunk;
    if (c.pool.dmem_region_register(nid, start, end) < 0) break;
    dmem_remove_memblock(c, start, end - start);
    size -= end - start;
    if (!size) return;
  }
  c.log.info(
    `dmem: ${fmt_llx(size)} size of memory is not reserved for dmem due to holes and misaligned regions in [${fmt_llx(base)}, ${fmt_llx(base + size)}].`,
  );
}

/** dmem_reserve_init(): dmem_init(), then every dmem= in order. */
export function dmem_reserve_init(c: ReserveCtx, params: readonly DmemParam[]): void {
  c.pool.dmem_init();
  for (const p of params) {
    if (p.base) dmem_reserve_region(c, p);
    else dmem_reserve_size(c, p.size, p.align, p.resv_kernel);
  }
}

/** What dmem's late init needs from the booted host. */
export interface DmemLateInitCtx {
  /** The sparse memory model (SparseMem has first_pfn_with_struct_page). */
  sparse: StructPageCheck;
  /** Kernel memory for the error bitmaps now and the allocation bitmaps and memmaps at dmem_alloc_init. */
  kalloc: KernelAlloc;
  machine: MachineDesc;
  log: KernelLog;
}

/** dmem as the host wires it: the early parameter, the boot reservation, the late init. */
export interface DmemBoot {
  /** The dmem= entries accepted so far (in command-line order). */
  readonly params: readonly DmemParam[];
  /** Run by boot_memory after NUMA setup and before sparse_init. */
  readonly reserveHook: ReserveHook;
  /** dmem_late_init(): builds the fallback lists and error bitmaps, checks for struct pages, returns the pool. */
  lateInit(ctx: DmemLateInitCtx): DmemPoolImpl;
  /** The pool (null until the reserve hook or late init ran). */
  readonly pool: DmemPoolImpl | null;
}

/** Register early_param("dmem") on params and return the hook and the late init. */
export function createDmem(params: KernelParams, log: KernelLog): DmemBoot {
  const list: DmemParam[] = [];
  let pool: DmemPoolImpl | null = null;
  let hasMemory: boolean[] = [];
  params.early_param('dmem', (val) => {
    const r = parse_dmem(val, log);
    if (typeof r === 'number') return r;
    list.push(r);
    return 0;
  });
  const reserveHook: ReserveHook = (ctx: { memblock: Memblock; nodeRanges: readonly NodeRange[]; log: KernelLog; iomem: ResourceTree }) => {
    const nrNodes = Math.max(0, ...ctx.nodeRanges.map((r) => r.nid + 1));
    pool = new DmemPoolImpl(nrNodes, ctx.log);
    dmem_reserve_init({ memblock: ctx.memblock, iomem: ctx.iomem, log: ctx.log, pool }, list);
    // node_state(N_MEMORY) as late init will see it: the node kept some memory for the kernel.
    hasMemory = Array.from({ length: nrNodes }, (_, nid) => !ctx.memblock.mem_ranges(nid).next().done);
  };
  return {
    params: list,
    reserveHook,
    get pool() {
      return pool;
    },
    lateInit(ctx: DmemLateInitCtx): DmemPoolImpl {
      const m = ctx.machine;
      if (!pool) pool = new DmemPoolImpl(m.nodes.length, ctx.log);
      const topo = {
        distances: m.distances,
        cpus: m.nodes.map((n) => n.cpus),
        hasMemory: m.nodes.map((n) => hasMemory[n.id] ?? true),
      };
      pool.dmem_late_init({ sparse: ctx.sparse, kalloc: ctx.kalloc, topo });
      return pool;
    },
  };
}


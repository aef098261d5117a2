/**
 * Bringing up memory at boot, in Linux's order (init/main.c start_kernel,
 * arch/x86/kernel/setup.c setup_arch, arch/x86/mm/numa.c, mm/mm_init.c
 * free_area_init and mem_init, mm/memblock.c memblock_free_all):
 * firmware map → early parameters → memblock → kernel image and firmware
 * reservations → NUMA → boot-time carve-outs (hooks) → sparse memmap → zones →
 * release of free memory to the buddy allocator.
 */
import { GiB, MiB, PAGE_SIZE, alignUp, hex, pfnOf } from '../../lib/size.ts';
import { Memblock, NUMA_NO_NODE } from '../mm/memblock.ts';
import { PageAllocator, ZONE_DMA, ZONE_NORMAL, ZONE_NAMES } from '../mm/page_alloc.ts';
import { SparseMem } from '../mm/sparse.ts';
import type { KernelLog } from '../printk.ts';
import { Resource, ResourceTree } from '../resource.ts';
import type { KernelParams } from './cmdline.ts';
import {
  E820Table,
  E820_TYPE_PRAM,
  E820_TYPE_RAM,
  E820_TYPE_RESERVED,
  E820_TYPE_SOFT_RESERVED,
  buildE820,
  e820TypeName,
  e820__end_of_ram_pfn,
  e820__finish_early_params,
  e820__memblock_setup,
  e820__memory_setup,
  parse_memopt,
  type NodeRange,
} from './e820.ts';
import type { MachineDesc } from './machine.ts';

/** The kernel image as a 6.x distribution kernel lays it out (sizes from a typical x86-64 build). */
export const KERNEL_IMAGE = {
  start: 0x1000000, // CONFIG_PHYSICAL_START
  codeK: 16384,
  rodataK: 11408,
  rwdataK: 2660,
  initK: 4912,
  bssK: 5040,
} as const;

/** sizeof(pg_data_t) for one node's NODE_DATA on a typical x86-64 config. */
const NODE_DATA_SIZE = 0x2b000;
/** The swiotlb bounce buffer (IO_TLB_DEFAULT_SIZE). */
const SWIOTLB_SIZE = 64 * MiB;

/** Physical ranges of the kernel image's sections. */
export interface KernelLayout {
  text: [number, number];
  rodata: [number, number];
  data: [number, number];
  init: [number, number];
  bss: [number, number];
}

/** Work a boot-time subsystem does on memblock before the memmap is built (dmem=, gigantic hugetlb). */
export type ReserveHook = (ctx: { memblock: Memblock; nodeRanges: readonly NodeRange[]; log: KernelLog; iomem: ResourceTree }) => void;

/**
 * A firmware-map editor driven by early parameters (memmap=, efi_fake_mem=): it
 * registers its early_params against the e820 table before parse_early_param()
 * and may return work to run right after it (efi_fake_memmap_early).
 */
export type E820Hook = (ctx: { params: KernelParams; e820: E820Table; log: KernelLog }) => { afterEarlyParams?(): void } | void;

/** What memory bring-up produces. */
export interface MemoryBoot {
  e820: E820Table;
  firmwareE820: E820Table;
  nodeRanges: NodeRange[];
  memblock: Memblock;
  sparse: SparseMem;
  buddy: PageAllocator;
  iomem: ResourceTree;
  kernel: KernelLayout;
  maxPfn: number;
  /** Pages of RAM present (get_num_physpages). */
  physpages: number;
}

function kernelLayout(): KernelLayout {
  const k = KERNEL_IMAGE;
  const sec = (start: number, kb: number): [number, number] => [start, start + kb * 1024];
  // Sections start on 2 MiB boundaries so the kernel can map them with large pages.
  const text = sec(k.start, k.codeK);
  const rodata = sec(alignUp(text[1], 2 * MiB), k.rodataK);
  const data = sec(alignUp(rodata[1], 2 * MiB), k.rwdataK);
  const init = sec(alignUp(data[1], 2 * MiB), k.initK);
  const bss = sec(alignUp(init[1], PAGE_SIZE), k.bssK);
  return { text, rodata, data, init, bss };
}

function memRange(start: number, end: number): string {
  return `[mem ${hex(start, 16)}-${hex(end - 1, 16)}]`;
}

/** Bring up physical memory for `machine` and `cmdline` (the parameters must be registered already). */
export function boot_memory(
  machine: MachineDesc,
  params: KernelParams,
  cmdline: string,
  log: KernelLog,
  reserveHooks: readonly ReserveHook[],
  e820Hooks: readonly E820Hook[] = [],
): MemoryBoot {
  params.set_boot_command_line(cmdline);
  params.print_command_line(log);
  const { table: e820, nodeRanges } = buildE820(machine);
  const firmwareE820 = e820__memory_setup(e820, log);
  const memblock = new Memblock();
  params.early_param('mem', (arg) => parse_memopt(arg, e820, log));
  params.early_param('memblock', (arg) => memblock.early_memblock(arg));
  const afterEarly = e820Hooks.map((h) => h({ params, e820, log }));
  params.parse_early_param(log);
  for (const a of afterEarly) a?.afterEarlyParams?.();
  e820__finish_early_params(e820, log);
  // trim_bios_range(): page 0 is BIOS data; the legacy VGA/ROM window is never RAM.
  e820.rangeUpdate(0, PAGE_SIZE, E820_TYPE_RAM, E820_TYPE_RESERVED, log);
  e820.rangeRemove(0xa0000, 0x100000 - 0xa0000, E820_TYPE_RAM, true, log);
  e820.sanitize();
  const maxPfn = e820__end_of_ram_pfn(e820, log);

  const kernel = kernelLayout();
  memblock.reserve(kernel.text[0], kernel.bss[1] - kernel.text[0]);
  e820__memblock_setup(e820, memblock, log);
  // "reserve first 1MB": real-mode trampoline and BIOS corruption protection.
  memblock.reserve(0, MiB);

  // NUMA: assign nodes from the firmware's affinity ranges, then allocate NODE_DATA on each node.
  log.info(`NUMA: Initialized distance table, cnt=${machine.nodes.length}`);
  for (const r of nodeRanges) memblock.set_node(r.start, r.end - r.start, r.nid);
  for (const r of nodeRanges) {
    const nd = memblock.alloc_try_nid(NODE_DATA_SIZE, 64, 0, r.end, r.nid);
    if (nd) log.info(`NODE_DATA(${r.nid}) allocated ${memRange(nd, nd + NODE_DATA_SIZE)}`);
  }

  const iomem = new ResourceTree();
  const ctx = { memblock, nodeRanges, log, iomem };
  for (const hook of reserveHooks) hook(ctx);

  // swiotlb_init(): bounce buffers below 4 GiB when there is memory above it.
  if (maxPfn > pfnOf(4 * GiB)) {
    const tlb = memblock.alloc_try_nid(SWIOTLB_SIZE, PAGE_SIZE, 0, 4 * GiB, NUMA_NO_NODE);
    if (tlb) log.info(`software IO TLB: mapped ${memRange(tlb, tlb + SWIOTLB_SIZE)} (64MB)`);
  }

  // paging_init(): sparse memmap, then zones.
  const sparse = new SparseMem(maxPfn, log);
  sparse.sparse_init(memblock, log);
  const buddy = new PageAllocator(machine.nodes.length);
  const physpages = init_zones(buddy, memblock, nodeRanges, maxPfn, log);
  for (const n of machine.nodes) {
    const order = machine.nodes.map((m) => m.id).sort((a, b) => machine.distances[n.id]![a]! - machine.distances[n.id]![b]! || a - b);
    buddy.set_node_order(n.id, order);
  }
  buddy.build_all_zonelists();
  params.print_kernel_command_line(log);
  params.parse_args(log);

  // memblock_free_all(): every free memblock range goes to the buddy allocator.
  for (const r of memblock.free_mem_ranges(NUMA_NO_NODE)) {
    const s = Math.ceil(r.start / PAGE_SIZE);
    const e = Math.floor(r.end / PAGE_SIZE);
    if (e > s) buddy.memblock_free_pages(s, e);
  }
  buddy.init_per_zone_wmark_min();
  log.info(`Built ${machine.nodes.length} zonelists, mobility grouping on.  Total pages: ${buddy.totalram_pages()}`);
  buildIomem(iomem, e820, kernel);
  mem_init_print_info(buddy, physpages, kernel, log);
  return { e820, firmwareE820, nodeRanges, memblock, sparse, buddy, iomem, kernel, maxPfn, physpages };
}

/** free_area_init(): zone spans and present pages per node; prints the zone and node ranges. */
function init_zones(buddy: PageAllocator, memblock: Memblock, nodeRanges: readonly NodeRange[], maxPfn: number, log: KernelLog): number {
  const limits = [pfnOf(16 * MiB), pfnOf(4 * GiB), maxPfn];
  const firstPfn = Math.min(...[...memblock.mem_pfn_ranges(NUMA_NO_NODE)].map((r) => r.start));
  log.info('Zone ranges:');
  let lo = firstPfn;
  for (let z = ZONE_DMA; z <= ZONE_NORMAL; z++) {
    const hi = Math.min(limits[z]!, maxPfn);
    const name = ZONE_NAMES[z]!.padEnd(8);
    log.info(hi > lo ? `  ${name} ${memRange(lo * PAGE_SIZE, hi * PAGE_SIZE)}` : `  ${name} empty`);
    lo = Math.max(lo, hi);
  }
  log.info('  Device   empty');
  log.info('Movable zone start for each node');
  log.info('Early memory node ranges');
  const pfnRanges = [...memblock.mem_pfn_ranges(NUMA_NO_NODE)];
  for (const r of pfnRanges) log.info(`  node ${String(r.nid).padStart(3)}: ${memRange(r.start * PAGE_SIZE, r.end * PAGE_SIZE)}`);
  let physpages = 0;
  for (const nr of nodeRanges) {
    const mine = pfnRanges.filter((r) => r.nid === nr.nid);
    if (mine.length === 0) continue;
    const nodeStart = mine[0]!.start;
    const nodeEnd = mine[mine.length - 1]!.end;
    log.info(`Initmem setup node ${nr.nid} ${memRange(nodeStart * PAGE_SIZE, nodeEnd * PAGE_SIZE)}`);
    let zlo = 0;
    for (let z = ZONE_DMA; z <= ZONE_NORMAL; z++) {
      const zhi = limits[z]!;
      const s = Math.max(nodeStart, zlo);
      const e = Math.min(nodeEnd, zhi);
      zlo = zhi;
      if (e <= s) continue;
      let present = 0;
      for (const r of mine) present += Math.max(0, Math.min(r.end, e) - Math.max(r.start, s));
      buddy.init_zone(nr.nid, z, s, e, present);
      physpages += present;
      const holes = e - s - present;
      if (holes > 0) log.info(`On node ${nr.nid}, zone ${ZONE_NAMES[z]}: ${holes} pages in unavailable ranges`);
    }
  }
  return physpages;
}

/** e820_type_to_string(): the /proc/iomem name of a firmware range. */
function e820_type_to_string(type: number): string {
  if (type === E820_TYPE_RAM) return 'System RAM';
  if (type === E820_TYPE_RESERVED) return 'Reserved';
  if (type === E820_TYPE_PRAM) return 'Persistent Memory (legacy)';
  if (type === E820_TYPE_SOFT_RESERVED) return 'Soft Reserved';
  return e820TypeName(type);
}

/** The boot-time /proc/iomem: firmware ranges, System RAM, and the kernel's sections inside it. */
function buildIomem(iomem: ResourceTree, e820: E820Table, k: KernelLayout): void {
  for (const e of e820.entries) {
    const name = e820_type_to_string(e.type);
    iomem.insert(new Resource(name, e.addr, e.addr + e.size - 1));
  }
  const add = (name: string, [s, e]: [number, number]): void => void iomem.insert(new Resource(name, s, e - 1));
  add('Kernel code', k.text);
  add('Kernel rodata', k.rodata);
  add('Kernel data', k.data);
  add('Kernel bss', k.bss);
}

/** mem_init_print_info(): the `Memory: ...K/...K available (...)` line. */
function mem_init_print_info(buddy: PageAllocator, physpages: number, k: KernelLayout, log: KernelLog): void {
  const kb = (pages: number): number => pages * 4;
  const sz = ([s, e]: [number, number]): number => (e - s) / 1024;
  const reserved = kb(physpages - buddy.totalram_pages());
  log.info(
    `Memory: ${kb(buddy.nr_free_pages())}K/${kb(physpages)}K available (${sz(k.text)}K kernel code, ${sz(k.data)}K rwdata, ` +
      `${sz(k.rodata)}K rodata, ${sz(k.init)}K init, ${sz(k.bss)}K bss, ${reserved}K reserved, 0K cma-reserved)`,
  );
}

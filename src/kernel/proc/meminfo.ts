/**
 * /proc/meminfo and /sys/devices/system/node/nodeN/meminfo (fs/proc/meminfo.c
 * meminfo_proc_show, drivers/base/node.c node_read_meminfo,
 * mm/hugetlb.c hugetlb_report_meminfo). Every figure is read from the model's
 * counters; what the model does not have (swap, slab, page cache of disk
 * files) is reported as Linux reports an idle subsystem: 0.
 */
import { GiB, PAGE_SIZE, PMD_SIZE } from '../../lib/size.ts';
import {
  NR_ANON_MAPPED,
  NR_ANON_THPS,
  NR_FILE_MAPPED,
  NR_FILE_PAGES,
  NR_FILE_THPS,
  NR_KERNEL_STACK_KB,
  NR_PAGETABLE,
  NR_SECONDARY_PAGETABLE,
  NR_SHMEM,
  NR_SHMEM_THPS,
  NR_SLAB_UNRECLAIMABLE_B,
  NR_VMALLOC,
  type VmStat,
} from '../mm/vmstat.ts';
import type { PageAllocator } from '../mm/page_alloc.ts';

/** What the meminfo renderers read. */
export interface MeminfoSource {
  buddy: PageAllocator;
  vmstat: VmStat;
  /** RAM ranges as memblock knows them (page-aligned), for the DirectMap lines. */
  memRanges(): Iterable<{ start: number; end: number }>;
  /** Pages committed by VM_ACCOUNT mappings (vm_committed_as). */
  committedPages(): number;
  /** num_poisoned_pages (HardwareCorrupted). */
  poisonedPages(): number;
  /** hugetlb's report; zeros until hugetlb exists. */
  hugetlb(): { total: number; free: number; rsvd: number; surp: number; pageSize: number; totalBytes: number };
  /** hugetlb_report_node_meminfo: the default size's pages on one node. */
  hugetlbNode?(nid: number): { total: number; free: number; surp: number };
}

/** show_val_kb: a 16-column label and an 8-column value in kB. */
function kb(label: string, pages: number): string {
  return `${label.padEnd(16)}${String(Math.round((pages * PAGE_SIZE) / 1024)).padStart(8)} kB\n`;
}

function kbBytes(label: string, kbytes: number): string {
  return `${label.padEnd(16)}${String(kbytes).padStart(8)} kB\n`;
}

/**
 * The direct map's page sizes, as init_mem_mapping/split_mem_range map each
 * memblock memory range: 4K up to the first 2M boundary, 2M up to the first 1G
 * boundary, 1G pages, then 2M and 4K for the tail. The ISA range below 1 MiB is
 * always mapped with 4K pages.
 */
export function directMapSizes(ranges: Iterable<{ start: number; end: number }>): { k4: number; m2: number; g1: number } {
  const out = { k4: 0, m2: 0, g1: 0 };
  const up = (x: number, a: number): number => Math.ceil(x / a) * a;
  const down = (x: number, a: number): number => Math.floor(x / a) * a;
  const ISA_END = 0x100000;
  out.k4 += ISA_END;
  for (const r of ranges) {
    let s = Math.max(r.start, ISA_END);
    const end = r.end;
    if (end <= s) continue;
    const m2s = Math.min(up(s, PMD_SIZE), end);
    out.k4 += m2s - s;
    s = m2s;
    const g1s = Math.max(s, Math.min(up(s, GiB), down(end, PMD_SIZE)));
    out.m2 += g1s - s;
    s = g1s;
    const g1e = Math.max(s, down(end, GiB));
    out.g1 += g1e - s;
    s = g1e;
    const m2e = Math.max(s, down(end, PMD_SIZE));
    out.m2 += m2e - s;
    s = m2e;
    out.k4 += end - s;
  }
  return out;
}

/** Counter lookups for one node, or summed over all nodes (nid null). */
function reader(v: VmStat, nid: number | null): (item: number) => number {
  return nid === null ? (item) => v.global(item) : (item) => v.nodeValue(nid, item);
}

/**
 * The LRU lines both files print in the same order. Without reclaim the model
 * keeps every anonymous and shmem page on the active anon list.
 */
function lruLines(get: (item: number) => number): [string, number][] {
  const anonLru = get(NR_ANON_MAPPED) + get(NR_SHMEM);
  return [
    ['Active:', anonLru],
    ['Inactive:', 0],
    ['Active(anon):', anonLru],
    ['Inactive(anon):', 0],
    ['Active(file):', get(NR_FILE_PAGES) - get(NR_SHMEM)],
    ['Inactive(file):', 0],
    ['Unevictable:', 0],
    ['Mlocked:', 0],
  ];
}

/** The transparent-huge-page lines both files print in the same order. */
function thpLines(get: (item: number) => number): [string, number][] {
  return [
    ['AnonHugePages:', get(NR_ANON_THPS)],
    ['ShmemHugePages:', get(NR_SHMEM_THPS)],
    ['ShmemPmdMapped:', 0],
    ['FileHugePages:', get(NR_FILE_THPS)],
    ['FilePmdMapped:', 0],
  ];
}

/** The slab lines: the model's kmalloc'd kernel metadata is all unreclaimable. */
function slabLines(get: (item: number) => number): [string, number][] {
  const unreclaimable = get(NR_SLAB_UNRECLAIMABLE_B) / PAGE_SIZE;
  return [
    ['KReclaimable:', 0],
    ['Slab:', unreclaimable],
    ['SReclaimable:', 0],
    ['SUnreclaim:', unreclaimable],
  ];
}

/** The page-table and legacy-writeback lines both files print in the same order. */
function tableLines(get: (item: number) => number): [string, number][] {
  return [
    ['PageTables:', get(NR_PAGETABLE)],
    ['SecPageTables:', get(NR_SECONDARY_PAGETABLE)],
    ['NFS_Unstable:', 0],
    ['Bounce:', 0],
    ['WritebackTmp:', 0],
  ];
}

/** /proc/meminfo. */
export function meminfo_proc_show(src: MeminfoSource): string {
  const get = reader(src.vmstat, null);
  const b = src.buddy;
  const total = b.totalram_pages();
  const free = b.nr_free_pages();
  const ht = src.hugetlb();
  const dm = directMapSizes(src.memRanges());
  const pages: [string, number][] = [
    ['MemTotal:', total],
    ['MemFree:', free],
    ['MemAvailable:', Math.max(0, free - b.totalreserve_pages)],
    ['Buffers:', 0],
    ['Cached:', get(NR_FILE_PAGES)],
    ['SwapCached:', 0],
    ...lruLines(get),
    ['SwapTotal:', 0],
    ['SwapFree:', 0],
    ['Zswap:', 0],
    ['Zswapped:', 0],
    ['Dirty:', 0],
    ['Writeback:', 0],
    ['AnonPages:', get(NR_ANON_MAPPED)],
    ['Mapped:', get(NR_FILE_MAPPED)],
    ['Shmem:', get(NR_SHMEM)],
    ...slabLines(get),
  ];
  let s = pages.map(([l, n]) => kb(l, n)).join('');
  s += kbBytes('KernelStack:', get(NR_KERNEL_STACK_KB));
  s += tableLines(get).map(([l, n]) => kb(l, n)).join('');
  // vm_commit_limit() with overcommit_ratio 50 and no swap; hugetlb pages are excluded.
  s += kb('CommitLimit:', Math.floor(((total - ht.totalBytes / PAGE_SIZE) * 50) / 100));
  s += kb('Committed_AS:', src.committedPages());
  s += kbBytes('VmallocTotal:', 34359738367);
  s += kb('VmallocUsed:', get(NR_VMALLOC));
  s += kb('VmallocChunk:', 0);
  s += kb('Percpu:', 0);
  s += `HardwareCorrupted: ${String((src.poisonedPages() * PAGE_SIZE) / 1024).padStart(5)} kB\n`;
  s += thpLines(get).map(([l, n]) => kb(l, n)).join('');
  s += kb('CmaTotal:', 0);
  s += kb('CmaFree:', 0);
  s += `HugePages_Total:   ${String(ht.total).padStart(5)}\n`;
  s += `HugePages_Free:    ${String(ht.free).padStart(5)}\n`;
  s += `HugePages_Rsvd:    ${String(ht.rsvd).padStart(5)}\n`;
  s += `HugePages_Surp:    ${String(ht.surp).padStart(5)}\n`;
  s += kbBytes('Hugepagesize:', ht.pageSize / 1024);
  s += kbBytes('Hugetlb:', ht.totalBytes / 1024);
  s += kbBytes('DirectMap4k:', dm.k4 / 1024);
  s += kbBytes('DirectMap2M:', dm.m2 / 1024);
  s += kbBytes('DirectMap1G:', dm.g1 / 1024);
  return s;
}

/** /sys/devices/system/node/nodeN/meminfo. */
export function node_read_meminfo(src: MeminfoSource, nid: number): string {
  const get = reader(src.vmstat, nid);
  const total = src.buddy.node_managed_pages(nid);
  const free = src.buddy.node_free_pages(nid);
  const line = (label: string, pages: number): string => `Node ${nid} ${kb(label, pages)}`;
  const pages: [string, number][] = [
    ['MemTotal:', total],
    ['MemFree:', free],
    ['MemUsed:', total - free],
    ['SwapCached:', 0],
    ...lruLines(get),
    ['Dirty:', 0],
    ['Writeback:', 0],
    ['FilePages:', get(NR_FILE_PAGES)],
    ['Mapped:', get(NR_FILE_MAPPED)],
    ['AnonPages:', get(NR_ANON_MAPPED)],
    ['Shmem:', get(NR_SHMEM)],
  ];
  let s = pages.map(([l, n]) => line(l, n)).join('');
  s += `Node ${nid} ${kbBytes('KernelStack:', get(NR_KERNEL_STACK_KB))}`;
  s += [...tableLines(get), ...slabLines(get), ...thpLines(get)].map(([l, n]) => line(l, n)).join('');
  const ht = src.hugetlbNode?.(nid) ?? { total: 0, free: 0, surp: 0 };
  s += `Node ${nid} HugePages_Total: ${String(ht.total).padStart(5)}\n`;
  s += `Node ${nid} HugePages_Free:  ${String(ht.free).padStart(5)}\n`;
  s += `Node ${nid} HugePages_Surp:  ${String(ht.surp).padStart(5)}\n`;
  return s;
}

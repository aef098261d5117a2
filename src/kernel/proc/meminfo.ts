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
  /** hugetlb's report; zeros until hugetlb exists. */
  hugetlb(): { total: number; free: number; rsvd: number; surp: number; pageSize: number; totalBytes: number };
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

/** /proc/meminfo. */
export function meminfo_proc_show(src: MeminfoSource): string {
  const v = src.vmstat;
  const b = src.buddy;
  const total = b.totalram_pages();
  const free = b.nr_free_pages();
  const avail = Math.max(0, free - b.totalreserve_pages);
  const shmem = v.global(NR_SHMEM);
  const anon = v.global(NR_ANON_MAPPED);
  const filePages = v.global(NR_FILE_PAGES);
  const ht = src.hugetlb();
  const dm = directMapSizes(src.memRanges());
  let s = '';
  s += kb('MemTotal:', total);
  s += kb('MemFree:', free);
  s += kb('MemAvailable:', avail);
  s += kb('Buffers:', 0);
  s += kb('Cached:', filePages);
  s += kb('SwapCached:', 0);
  // Without reclaim the model keeps every anonymous and shmem page on the active anon list.
  s += kb('Active:', anon + shmem);
  s += kb('Inactive:', 0);
  s += kb('Active(anon):', anon + shmem);
  s += kb('Inactive(anon):', 0);
  s += kb('Active(file):', filePages - shmem);
  s += kb('Inactive(file):', 0);
  s += kb('Unevictable:', 0);
  s += kb('Mlocked:', 0);
  s += kb('SwapTotal:', 0);
  s += kb('SwapFree:', 0);
  s += kb('Zswap:', 0);
  s += kb('Zswapped:', 0);
  s += kb('Dirty:', 0);
  s += kb('Writeback:', 0);
  s += kb('AnonPages:', anon);
  s += kb('Mapped:', v.global(NR_FILE_MAPPED));
  s += kb('Shmem:', shmem);
  s += kb('KReclaimable:', 0);
  s += kb('Slab:', 0);
  s += kb('SReclaimable:', 0);
  s += kb('SUnreclaim:', 0);
  s += kbBytes('KernelStack:', v.global(NR_KERNEL_STACK_KB));
  s += kb('PageTables:', v.global(NR_PAGETABLE));
  s += kb('SecPageTables:', v.global(NR_SECONDARY_PAGETABLE));
  s += kb('NFS_Unstable:', 0);
  s += kb('Bounce:', 0);
  s += kb('WritebackTmp:', 0);
  // vm_commit_limit() with overcommit_ratio 50 and no swap; hugetlb pages are excluded.
  s += kb('CommitLimit:', Math.floor(((total - ht.totalBytes / PAGE_SIZE) * 50) / 100));
  s += kb('Committed_AS:', src.committedPages());
  s += kbBytes('VmallocTotal:', 34359738367);
  s += kb('VmallocUsed:', 0);
  s += kb('VmallocChunk:', 0);
  s += kb('Percpu:', 0);
  s += `HardwareCorrupted: ${String(0).padStart(5)} kB\n`;
  s += kb('AnonHugePages:', v.global(NR_ANON_THPS));
  s += kb('ShmemHugePages:', v.global(NR_SHMEM_THPS));
  s += kb('ShmemPmdMapped:', 0);
  s += kb('FileHugePages:', v.global(NR_FILE_THPS));
  s += kb('FilePmdMapped:', 0);
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
  const v = src.vmstat;
  const total = src.buddy.node_managed_pages(nid);
  const free = src.buddy.node_free_pages(nid);
  const anon = v.nodeValue(nid, NR_ANON_MAPPED);
  const shmem = v.nodeValue(nid, NR_SHMEM);
  const file = v.nodeValue(nid, NR_FILE_PAGES);
  const line = (label: string, pages: number): string =>
    `Node ${nid} ${label.padEnd(16)}${String(Math.round((pages * PAGE_SIZE) / 1024)).padStart(8)} kB\n`;
  let s = '';
  s += line('MemTotal:', total);
  s += line('MemFree:', free);
  s += line('MemUsed:', total - free);
  s += line('SwapCached:', 0);
  s += line('Active:', anon + shmem);
  s += line('Inactive:', 0);
  s += line('Active(anon):', anon + shmem);
  s += line('Inactive(anon):', 0);
  s += line('Active(file):', file - shmem);
  s += line('Inactive(file):', 0);
  s += line('Unevictable:', 0);
  s += line('Mlocked:', 0);
  s += line('Dirty:', 0);
  s += line('Writeback:', 0);
  s += line('FilePages:', file);
  s += line('Mapped:', v.nodeValue(nid, NR_FILE_MAPPED));
  s += line('AnonPages:', anon);
  s += line('Shmem:', shmem);
  s += `Node ${nid} ${'KernelStack:'.padEnd(16)}${String(v.nodeValue(nid, NR_KERNEL_STACK_KB)).padStart(8)} kB\n`;
  s += line('PageTables:', v.nodeValue(nid, NR_PAGETABLE));
  s += line('SecPageTables:', v.nodeValue(nid, NR_SECONDARY_PAGETABLE));
  s += line('NFS_Unstable:', 0);
  s += line('Bounce:', 0);
  s += line('WritebackTmp:', 0);
  s += line('KReclaimable:', 0);
  s += line('Slab:', 0);
  s += line('SReclaimable:', 0);
  s += line('SUnreclaim:', 0);
  s += line('AnonHugePages:', v.nodeValue(nid, NR_ANON_THPS));
  s += line('ShmemHugePages:', v.nodeValue(nid, NR_SHMEM_THPS));
  s += line('ShmemPmdMapped:', 0);
  s += line('FileHugePages:', v.nodeValue(nid, NR_FILE_THPS));
  s += line('FilePmdMapped:', 0);
  s += `Node ${nid} HugePages_Total: ${String(0).padStart(5)}\n`;
  s += `Node ${nid} HugePages_Free:  ${String(0).padStart(5)}\n`;
  s += `Node ${nid} HugePages_Surp:  ${String(0).padStart(5)}\n`;
  return s;
}

/**
 * /proc/vmstat (mm/vmstat.c vmstat_show, vmstat_text): zone counters, NUMA
 * counters, node counters, the memmap counters (nr_memmap_pages,
 * nr_memmap_boot_pages: mm/vmstat.c memmap_pages_add, Linux ≥ 6.11) and VM events, one `name value` per line, in the
 * kernel's order, for the counters the model keeps.
 */
import { NR_NUMA_STAT_ITEMS, type PageAllocator } from '../mm/page_alloc.ts';
import { NODE_STAT_NAMES, NR_VM_EVENT_ITEMS, VM_EVENT_NAMES, type VmStat } from '../mm/vmstat.ts';

const NUMA_NAMES = ['numa_hit', 'numa_miss', 'numa_foreign', 'numa_local', 'numa_other'];

/** Node items in enum node_stat_item order (include/linux/mmzone.h). */
const NODE_ORDER = [
  'nr_unevictable',
  'nr_slab_unreclaimable',
  'nr_anon_pages',
  'nr_mapped',
  'nr_file_pages',
  'nr_shmem',
  'nr_shmem_hugepages',
  'nr_file_hugepages',
  'nr_anon_transparent_hugepages',
  'nr_kernel_misc_reclaimable',
  'nr_kernel_stack',
  'nr_page_table_pages',
  'nr_sec_page_table_pages',
];

/** Pages of memmap (struct page / vmemmap) as vmstat counts them: boot memmap and memmap allocated later. */
export interface MemmapPages {
  /** NR_MEMMAP_PAGES: vmemmap allocated after boot (hotplug, device-dax), net of what was freed. */
  pages: number;
  /** NR_MEMMAP_BOOT_PAGES: the boot memmap still held (HVO frees from it). */
  bootPages: number;
}

/** The text of /proc/vmstat. */
export function vmstat_show(buddy: PageAllocator, vmstat: VmStat, memmap?: () => MemmapPages): string {
  const mlock = vmstat.global(NODE_STAT_NAMES.indexOf('nr_mlock'));
  const lines: string[] = [`nr_free_pages ${buddy.nr_free_pages()}`, `nr_mlock ${mlock}`];
  for (let i = 0; i < NR_NUMA_STAT_ITEMS; i++) {
    let s = 0;
    for (let nid = 0; nid < buddy.nr_node_ids; nid++) s += buddy.numa_stat[nid * NR_NUMA_STAT_ITEMS + i]!;
    lines.push(`${NUMA_NAMES[i]} ${s}`);
  }
  for (const name of NODE_ORDER) {
    const v = vmstat.global(NODE_STAT_NAMES.indexOf(name as (typeof NODE_STAT_NAMES)[number]));
    // Slab is counted in bytes (NR_SLAB_UNRECLAIMABLE_B); vmstat_start shows it in pages.
    lines.push(`${name} ${name === 'nr_slab_unreclaimable' ? Math.floor(v / 4096) : v}`);
  }
  if (memmap) {
    // The system-wide vm_stat_item counters (nr_dirty_threshold etc. are not modelled).
    const m = memmap();
    lines.push(`nr_memmap_pages ${m.pages}`, `nr_memmap_boot_pages ${m.bootPages}`);
  }
  for (let i = 0; i < NR_VM_EVENT_ITEMS; i++) lines.push(`${VM_EVENT_NAMES[i]} ${vmstat.event(i)}`);
  return lines.join('\n') + '\n';
}

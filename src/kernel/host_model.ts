/**
 * Counters the model adds for measurement, each visible through a file:
 *
 *   /proc/vmstat nr_memmap_pages, nr_memmap_boot_pages   (Linux ≥ 6.11, mm/vmstat.c:
 *       memmap_pages_add / memmap_boot_pages_add; computed here from the
 *       per-section memmap accounting of kernel/mm/sparse.ts)
 *   /sys/kernel/debug/model/bytes_zeroed, bytes_copied    (model-only, like
 *       /proc/PID/model_faults: Linux has no counter of clear_page work)
 *
 * and the overcommit policy's sysctls (kernel/mm/overcommit.ts), which need the
 * host's committed memory.
 */
import type { PseudoDir } from './fs/pseudo/index.ts';
import type { Host } from './host.ts';
import { PAGE_SIZE } from '../lib/size.ts';
import type { MemmapPages } from './proc/vmstat_show.ts';
import { Overcommit } from './mm/overcommit.ts';
import { VM_ACCOUNT } from './mm/vm_area.ts';
import { NR_SHMEM } from './mm/vmstat.ts';
import { hugetlb_report_meminfo } from './host_hugetlb.ts';

/** Boot memmap (early sections) and later vmemmap, in pages, as /proc/vmstat shows them. */
export function memmap_pages(host: Host): MemmapPages {
  const sp = host.mem.sparse;
  let boot = 0;
  let hot = 0;
  for (let nr = 0; nr <= sp.highest_present_section_nr; nr++) {
    const b = sp.section_memmap_bytes(nr);
    if (!b) continue;
    if (sp.early_section_nr(nr)) boot += b;
    else hot += b;
  }
  return { pages: Math.round(hot / PAGE_SIZE), bootPages: Math.round(boot / PAGE_SIZE) };
}

/** /sys/kernel/debug/model: the model's own work counters. */
export function register_model_debugfs(host: Host, debug: PseudoDir): void {
  const dir = debug.dir('model');
  dir.file('bytes_zeroed', { show: () => `${host.dram.bytesZeroed}\n` });
  dir.file('bytes_copied', { show: () => `${host.dram.bytesCopied}\n` });
}

/** vm_committed_as: pages of VM_ACCOUNT mappings of live tasks plus shmem (as /proc/meminfo's Committed_AS). */
function committed_pages(host: Host): number {
  let pages = 0;
  for (const t of host.tasks.values()) {
    if (t.state === 'Z') continue;
    for (const v of t.mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)) if (v.flags & VM_ACCOUNT) pages += v.size / PAGE_SIZE;
  }
  return pages + host.vmstat.global(NR_SHMEM);
}

/** /proc/sys/vm/overcommit_*, and the check do_mmap makes (Kmem.vm_enough_memory). */
export function init_overcommit(host: Host, proc: PseudoDir): void {
  const oc = new Overcommit({
    buddy: host.buddy,
    committed: () => committed_pages(host),
    hugetlbPages: () => hugetlb_report_meminfo(host).totalBytes / PAGE_SIZE,
  });
  oc.register(proc);
  host.kmem.vm_enough_memory = (pages) => oc.vm_enough_memory(pages);
}

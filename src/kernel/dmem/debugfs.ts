/**
 * /sys/kernel/debug/dmem (the original series' mm/dmem.c dmemfs_init_debugfs,
 * CONFIG_DMEM_DEBUG_FS): one read-only file per pool counter and a nodeN
 * directory per node that has regions, each a DEFINE_SIMPLE_ATTRIBUTE printing
 * "%llu\n". Values are read from the pool at every open, as the original read
 * the live struct fields.
 */
import type { PseudoDir } from '../fs/pseudo/index.ts';
import type { DmemPoolImpl } from './pool.ts';

/** "%llu\n". */
function llu(v: () => number): { show: () => string; mode: number } {
  return { show: () => `${v()}\n`, mode: 0o444 };
}

/**
 * dmemfs_init_debugfs(): create dmem/ under the debugfs root. Nothing is
 * created when dmem's late init failed (the original returned before it).
 * retired_dpages and poisoned_pages are ours (the original kept no such counts).
 */
export function register_dmem_debugfs(debugRoot: PseudoDir, pool: DmemPoolImpl): void {
  if (pool.late_init_failed) return;
  const d = debugRoot.dir('dmem');
  d.file('region_num', llu(() => pool.region_num))
    .file('registered_pages', llu(() => pool.registered_pages))
    .file('unaligned_pages', llu(() => pool.unaligned_pages))
    .file('dpage_shift', llu(() => pool.dpage_shift))
    .file('total_dpages', llu(() => pool.total_dpages()))
    .file('free_dpages', llu(() => pool.free_dpages()))
    .file('retired_dpages', llu(() => pool.retired_dpages()))
    .file('poisoned_pages', llu(() => pool.poisoned_pages()));
  for (const dnode of pool.nodes) {
    // Do not create debugfs files for the node where no memory is available.
    if (dnode.regions.length === 0) continue;
    d.dir(`node${dnode.nid}`)
      .file('total_dpages', llu(() => dnode.total_dpages))
      .file('free_dpages', llu(() => dnode.free_dpages));
  }
}

/**
 * Wiring the HugeTLB pools into a booted host (mm/hugetlb.c hugetlb_init,
 * hugetlb_bootmem_alloc; mm/hugetlb_sysfs.c, mm/hugetlb_sysctl.c): the boot
 * parameters and the memblock hook before memory bring-up, the pools at
 * subsys_initcall time, then their /sys and /proc/sys files once the pseudo
 * filesystems exist. Memory failure reaches the pools through hugetlbfs's hook
 * (host_hugetlbfs.ts), which calls HugetlbPools.hugetlb_memory_failure.
 */
import { MPOL_LOCAL } from '../uapi/mman.ts';
import type { KernelParams } from './boot/cmdline.ts';
import type { ReserveHook } from './boot/setup.ts';
import type { Host } from './host.ts';
import { HugetlbBoot } from './hugetlb/boot.ts';
import { hugetlb_meminfo, hugetlb_node_meminfo } from './hugetlb/hstate.ts';
import { HugetlbPoolsImpl } from './hugetlb/pool.ts';
import { hugetlb_sysctl_init } from './hugetlb/sysctl.ts';
import { hugetlb_sysfs_init } from './hugetlb/sysfs.ts';
import { HugetlbVmemmap } from './hugetlb/vmemmap.ts';
import type { KernelLog } from './printk.ts';

/** The boot half (before memory bring-up) and the init steps the host calls. */
export interface HugetlbSetup {
  readonly reserveHook: ReserveHook;
  /** hugetlb_init(): the pools, after the page allocator is up. */
  init(host: Host): HugetlbPoolsImpl;
  /** The sysfs and sysctl files (after init_filesystems). */
  registerFiles(host: Host): void;
}

/** Register hugepagesz=, hugepages=, default_hugepagesz=, hugetlb_free_vmemmap=. */
export function createHugetlb(params: KernelParams, log: KernelLog): HugetlbSetup {
  const boot = new HugetlbBoot(log);
  boot.register(params);
  let pools: HugetlbPoolsImpl | null = null;
  return {
    reserveHook: boot.reserveHook,
    init(host) {
      pools = new HugetlbPoolsImpl({
        buddy: host.buddy,
        vmemmap: new HugetlbVmemmap(host.mem.sparse, host.buddy),
        log: host.log,
        nrNodes: host.nrNodes,
        current_nid: () => host.current?.mm.homeNid ?? 0,
        current_policy_nodes: () => {
          const mm = host.current?.mm;
          if (!mm?.policy) return null;
          return mm.policy.mode === MPOL_LOCAL ? [mm.homeNid] : [...mm.policy.nodes].sort((a, b) => a - b);
        },
      });
      boot.hugetlb_init(pools, host.machine.nodes.reduce((n, nd) => n + nd.cpus, 0));
      return pools;
    },
    registerFiles(host) {
      if (!pools) throw new Error('BUG: hugetlb files before hugetlb_init');
      hugetlb_sysfs_init(pools, host.fs.pseudo.sys, host.machine.nodes.map((n) => n.id));
      hugetlb_sysctl_init(pools, host.fs.pseudo.proc);
    },
  };
}

/** /proc/meminfo's HugePages_* lines (hugetlb_report_meminfo). */
export function hugetlb_report_meminfo(host: Host): ReturnType<typeof hugetlb_meminfo> {
  const p = host.hugetlb as HugetlbPoolsImpl;
  return hugetlb_meminfo(p.hstates, p.default_hstate());
}

/** The per-node meminfo lines (hugetlb_report_node_meminfo). */
export function hugetlb_report_node_meminfo(host: Host, nid: number): { total: number; free: number; surp: number } {
  const p = host.hugetlb as HugetlbPoolsImpl;
  return hugetlb_node_meminfo(p.default_hstate(), nid);
}

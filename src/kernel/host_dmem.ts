/**
 * Wiring DMEMFS into a booted host: the dmemfs filesystem over the host's dmem
 * pool, its module parameter, the pool's debugfs files, and memory failure's
 * hook for frames in dmem regions (fs/dmemfs/inode.c dmemfs_init; the series'
 * "dmem: introduce mce handler").
 */
import { BUS_MCEERR_AO, SIGBUS } from '../uapi/signal.ts';
import { register_dmem_debugfs } from './dmem/debugfs.ts';
import { dmemfs_params_from_cmdline, register_dmemfs, registerDmemfsSysfs, type DmemfsSbInfo } from './fs/dmemfs/index.ts';
import { dmemfs_memory_failure } from './fs/dmemfs/mce.ts';
import type { PseudoFilesystems } from './fs/pseudo/index.ts';
import type { Vfs } from './fs/vfs/index.ts';
import type { Host } from './host.ts';

/** Register dmemfs and the dmem files, and give memory failure its dmem hook. */
export function init_dmemfs(host: Host, vfs: Vfs, pseudo: PseudoFilesystems): void {
  const params = dmemfs_params_from_cmdline(host.params, (m) => host.log.err(m));
  const mounts = new Set<DmemfsSbInfo>();
  const deps = { pool: host.dmem, dram: host.dram, params, current_mm: () => host.current?.mm ?? null, mounts };
  register_dmemfs(vfs, deps, (m) => host.log.warn(m));
  registerDmemfsSysfs(pseudo.sys, params);
  register_dmem_debugfs(pseudo.debug, host.dmem);
  host.mf.ownerClaims.push((pfn) => host.dmem.is_dmem_pfn(pfn));
  host.mf.ownerHooks.push((pfn) => dmem_memory_failure(host, mounts, pfn));
}

/**
 * memory_failure's dmem hook (the series' dmem_memory_failure + dmemfs's
 * handler): a free dpage is retired; every process that maps an allocated
 * one is sent SIGBUS BUS_MCEERR_AO (the error was found, not touched:
 * injection is not action-required), and the mappings stay. A task touching
 * the bad frame later takes a machine check: BUS_MCEERR_AR (kernel/mce.ts).
 */
function dmem_memory_failure(host: Host, mounts: Set<DmemfsSbInfo>, pfn: number): boolean {
  if (!host.dmem.is_dmem_pfn(pfn)) return false;
  const hex = `0x${pfn.toString(16)}`;
  if (host.dmem.dmem_memory_failure(pfn) !== 'in-use') {
    host.log.info(`Memory failure: ${hex}: recovery action for free dmem page: Recovered`);
    return true;
  }
  const mappers = dmemfs_memory_failure(mounts, pfn);
  for (const m of mappers) {
    for (const t of host.tasks.values()) {
      if (t.mm !== m.mm || t.state === 'Z') continue;
      host.log.err(`Memory failure: ${hex}: Sending SIGBUS to ${t.comm}:${t.pid} due to hardware memory corruption`);
      host.send_signal(t, SIGBUS, { code: BUS_MCEERR_AO, addr: m.addr, lsb: m.lsb });
    }
  }
  host.log.err(`Memory failure: ${hex}: recovery action for dmem page: ${mappers.length ? 'Recovered' : 'Delayed'}`);
  return true;
}

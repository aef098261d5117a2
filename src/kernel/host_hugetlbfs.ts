/**
 * Wiring hugetlbfs into a booted host: the "hugetlbfs" type over the host's
 * HugeTLB pools (host.hugetlb, a HugetlbPools), the files behind MAP_HUGETLB
 * and memfd_create(MFD_HUGETLB), and memory failure's hook for in-use huge
 * pages (fs/hugetlbfs/inode.c init_hugetlbfs_fs; mm/mmap.c ksys_mmap_pgoff;
 * mm/memfd.c; mm/memory-failure.c try_memory_failure_hugetlb).
 *
 * The pools are looked up when first needed, so the pools may be attached to
 * the host after the filesystems are set up.
 */
import { MAP_HUGETLB } from '../uapi/mman.ts';
import { kill_procs } from './mf_kill.ts';
import type { File } from './fs/vfs/file.ts';
import { Hugetlbfs, hugetlb_unmap_poisoned } from './fs/hugetlbfs/index.ts';
import type { Vfs } from './fs/vfs/index.ts';
import type { HugetlbPools } from './hugetlb/api.ts';
import type { Host } from './host.ts';
import type { HugetlbEnv } from './mm/hugetlb_folio.ts';

const perHost = new WeakMap<Host, Hugetlbfs>();

/** The host's HugeTLB pools, if wired (host.hugetlb). */
function host_pools(host: Host): HugetlbPools | null {
  return (host as unknown as { hugetlb?: HugetlbPools }).hugetlb ?? null;
}

/** Register hugetlbfs and memory failure's hugetlb hook. */
export function init_hugetlbfs(host: Host, vfs: Vfs): Hugetlbfs {
  let env: HugetlbEnv | null = null;
  const envOf = (): HugetlbEnv | null => {
    if (env) return env;
    const pools = host_pools(host);
    if (!pools) return null;
    env = {
      pools,
      dram: host.dram,
      current_mm: () => host.current?.mm ?? null,
      current_pid: () => host.current?.pid ?? 0,
      folios: new Map(),
      warn: (m) => host.log.warn(m),
    };
    return env;
  };
  const fs = new Hugetlbfs(vfs, envOf, (m) => host.log.err(m));
  perHost.set(host, fs);
  host.mf.ownerHooks.push((pfn) => hugetlb_memory_failure(host, envOf(), pfn));
  return fs;
}

/** The host's hugetlbfs (after init_filesystems). */
export function hugetlbfs_of(host: Host): Hugetlbfs {
  const fs = perHost.get(host);
  if (!fs) throw new Error('BUG: hugetlbfs is not initialised on this host');
  return fs;
}

/**
 * ksys_mmap_pgoff's hugetlb half: a hugetlbfs file's length is rounded up to
 * its huge page size; MAP_HUGETLB without a file gets an unlinked file on the
 * internal mount of the MAP_HUGE_* size (EINVAL for an unknown size), which the
 * mapping holds; our reference goes when do_mmap returns.
 */
export function ksys_mmap_hugetlb(host: Host, file: File | null, len: number, flags: number, mmap: (file: File | null, len: number) => number): number {
  if (file) {
    const hsize = Hugetlbfs.file_pagesize(file);
    return mmap(file, hsize ? Math.ceil(len / hsize) * hsize : len);
  }
  if (!(flags & MAP_HUGETLB)) return mmap(null, len);
  const { file: f, len: alen } = hugetlbfs_of(host).map_hugetlb_file(len, flags);
  try {
    return mmap(f, alen);
  } finally {
    f.fput();
  }
}

/**
 * memory_failure's hugetlb hook: a free huge page is dissolved by the pool and
 * only the bad frame is lost; an in-use one is unmapped from every process, and
 * each that asked for early kill (mf_kill.ts) gets SIGBUS BUS_MCEERR_AO with
 * si_addr_lsb = huge_page_shift.
 */
function hugetlb_memory_failure(host: Host, env: HugetlbEnv | null, pfn: number): boolean {
  if (!env || !env.pools.page_hstate(pfn)) return false;
  const hex = `0x${pfn.toString(16)}`;
  const r = env.pools.hugetlb_memory_failure(pfn);
  if (r === null) return false;
  if (r === 'dissolved') {
    host.log.info(`Memory failure: ${hex}: recovery action for free huge page: Recovered`);
    return true;
  }
  const live = [...host.tasks.values()].filter((t) => t.state !== 'Z');
  const mappers = hugetlb_unmap_poisoned(env, new Set(live.map((t) => t.mm)), pfn);
  // hwpoison_user_mappings → collect_procs(force_early = MF_ACTION_REQUIRED: not for an injection).
  kill_procs(host, mappers, pfn, false);
  host.log.err(`Memory failure: ${hex}: recovery action for huge page: Recovered`);
  return true;
}

/**
 * /proc/sys/vm hugetlb entries (mm/hugetlb_sysctl.c hugetlb_sysctl_handler,
 * hugetlb_mempolicy_sysctl_handler, hugetlb_overcommit_handler; mm/hugetlb_vmemmap.c
 * hugetlb_optimize_vmemmap with proc_dobool; kernel/sysctl.c
 * proc_doulongvec_minmax's parsing).
 */
import { Errno } from '../../lib/errno.ts';
import type { PseudoDir } from '../fs/pseudo/index.ts';
import { nr_hugepages_store } from './sysfs.ts';
import type { HugetlbPoolsImpl } from './pool.ts';
import { hugetlb_vmemmap_optimizable_size } from './vmemmap.ts';

const ULONG_MAX = 2n ** 64n - 1n;

/**
 * proc_get_long() for one value of proc_doulongvec_minmax / proc_dointvec: leading
 * white space, an unsigned number (base 0: 0x hex, 0 octal), then white space or
 * the end. A write with no number at all is EINVAL too (`if (write && first)
 * return -EINVAL`). `signed` allows '-'.
 */
export function proc_get_ulong(text: string, signed = false): number {
  const t = text.replace(/^[ \t\n]+/, '');
  if (t === '') throw new Errno('EINVAL');
  const m = /^(-?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)([ \t\n].*)?$/s.exec(t);
  if (!m || (m[1] && !signed)) throw new Errno('EINVAL');
  const v = BigInt(m[2]!.startsWith('0') && !/^0[xX]/.test(m[2]!) && m[2]!.length > 1 ? '0o' + m[2]!.slice(1) : m[2]!);
  if (v > ULONG_MAX) throw new Errno('EINVAL');
  return Number(m[1] ? -v : v);
}

/** register_sysctl_init("vm", hugetlb_table) and hugetlb_vmemmap_sysctls. */
export function hugetlb_sysctl_init(pool: HugetlbPoolsImpl, proc: PseudoDir): void {
  const vm = proc.dir('sys/vm');
  const nr = (obey: boolean): { show: () => string; store: (t: string) => void } => ({
    // The handlers read and write default_hstate.max_huge_pages, not nr_huge_pages.
    show: () => `${pool.default_hstate().max_huge_pages}\n`,
    store: (t) => {
      nr_hugepages_store(pool, pool.default_hstate(), -1, proc_get_ulong(t), obey);
    },
  });
  vm.file('nr_hugepages', nr(false));
  vm.file('nr_hugepages_mempolicy', nr(true));
  let shmGroup = 0;
  vm.file('hugetlb_shm_group', {
    show: () => `${shmGroup}\n`,
    store: (t) => {
      shmGroup = proc_get_ulong(t, true);
    },
  });
  vm.file('nr_overcommit_hugepages', {
    show: () => `${pool.default_hstate().nr_overcommit_huge_pages}\n`,
    store: (t) => {
      const h = pool.default_hstate();
      if (h.gigantic) throw new Errno('EINVAL', 'no overcommit of gigantic pages');
      h.nr_overcommit_huge_pages = proc_get_ulong(t);
    },
  });
  if (pool.hstates.some((h) => hugetlb_vmemmap_optimizable_size(h.order) > 0)) {
    vm.file('hugetlb_optimize_vmemmap', {
      show: () => `${pool.vmemmap.enabled ? 1 : 0}\n`,
      store: (t) => {
        // proc_dobool: an int, nonzero is true.
        pool.vmemmap.enabled = proc_get_ulong(t, true) !== 0;
      },
    });
  }
}

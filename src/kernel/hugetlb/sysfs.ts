/**
 * /sys/kernel/mm/hugepages/hugepages-SIZEkB and the per-node
 * /sys/devices/system/node/nodeN/hugepages/hugepages-SIZEkB directories
 * (mm/hugetlb_sysfs.c: nr_hugepages_show/store_common,
 * __nr_hugepages_store_common, nr_overcommit_hugepages_store, free/resv/
 * surplus_hugepages_show, demote_size_show, hugetlb_register_node), and
 * kstrtoul() as sysfs stores use it.
 */
import { Errno } from '../../lib/errno.ts';
import type { PseudoDir } from '../fs/pseudo/index.ts';
import type { HstateImpl } from './hstate.ts';
import type { HugetlbPoolsImpl } from './pool.ts';

const ULONG_MAX = 2n ** 64n - 1n;

/** kstrtoul(s, 10): digits (an optional '+'), at most one trailing newline; EINVAL/ERANGE. */
export function kstrtoul(s: string): number {
  const m = /^\+?(\d+)\n?$/.exec(s);
  if (!m) throw new Errno('EINVAL');
  if (BigInt(m[1]!) > ULONG_MAX) throw new Errno('ERANGE');
  return Number(m[1]);
}

/**
 * __nr_hugepages_store_common(): the global count (mempolicy nodes for the
 * _mempolicy variants, else every node with memory) or one node's count.
 */
export function nr_hugepages_store(pool: HugetlbPoolsImpl, h: HstateImpl, nid: number, count: number, obey_mempolicy: boolean): void {
  let nodes: readonly number[];
  if (nid < 0) {
    const pol = obey_mempolicy ? pool.deps.current_policy_nodes() : null;
    nodes = pol ?? pool.memoryNodes();
  } else {
    nodes = [nid];
  }
  pool.set_max_huge_pages(h, count, nid, nodes);
}

type Spec = { show: () => string; store?: (text: string) => void; mode?: number };

/** The attribute files of one hstate directory (global when nid < 0). */
function hstateAttrs(pool: HugetlbPoolsImpl, h: HstateImpl, nid: number): Record<string, Spec> {
  const pick = (all: number, perNode: readonly number[]): string => `${nid < 0 ? all : perNode[nid]}\n`;
  const nr: Spec = {
    show: () => pick(h.nr_huge_pages, h.nr_huge_pages_node),
    store: (t) => nr_hugepages_store(pool, h, nid, kstrtoul(t), false),
  };
  const free: Spec = { show: () => pick(h.free_huge_pages, h.free_huge_pages_node) };
  const surplus: Spec = { show: () => pick(h.surplus_huge_pages, h.surplus_huge_pages_node) };
  if (nid >= 0) return { nr_hugepages: nr, free_hugepages: free, surplus_hugepages: surplus };
  return {
    nr_hugepages: nr,
    nr_overcommit_hugepages: {
      show: () => `${h.nr_overcommit_huge_pages}\n`,
      store: (t) => {
        if (h.gigantic) throw new Errno('EINVAL', 'no overcommit of gigantic pages');
        h.nr_overcommit_huge_pages = kstrtoul(t);
      },
    },
    free_hugepages: free,
    resv_hugepages: { show: () => `${h.resv_huge_pages}\n` },
    surplus_hugepages: surplus,
    nr_hugepages_mempolicy: {
      show: () => `${h.nr_huge_pages}\n`,
      store: (t) => nr_hugepages_store(pool, h, -1, kstrtoul(t), true),
    },
  };
}

/** hugetlb_sysfs_init() and hugetlb_register_all_nodes(). */
export function hugetlb_sysfs_init(pool: HugetlbPoolsImpl, sys: PseudoDir, nodes: readonly number[]): void {
  const top = sys.dir('kernel/mm/hugepages');
  for (const h of pool.hstates) {
    const d = top.dir(h.name);
    for (const [name, spec] of Object.entries(hstateAttrs(pool, h, -1))) d.file(name, spec);
    if (h.demote_order) addDemote(pool, h, d, -1);
  }
  for (const nid of nodes) {
    const nd = sys.dir(`devices/system/node/node${nid}/hugepages`);
    for (const h of pool.hstates) {
      const d = nd.dir(h.name);
      for (const [name, spec] of Object.entries(hstateAttrs(pool, h, nid))) d.file(name, spec);
      if (h.demote_order) addDemote(pool, h, d, nid);
    }
  }
}

/**
 * demote_size and demote (hstate_demote_attr_group): split free pages of a
 * gigantic hstate into pages of the demote size, never eating reserved pages.
 */
function addDemote(pool: HugetlbPoolsImpl, h: HstateImpl, d: PseudoDir, nid: number): void {
  d.file('demote_size', {
    show: () => `${(4096 * 2 ** h.demote_order) / 1024}kB\n`,
    store: (t) => {
      const target = pool.hstates.find((x) => x.size === parseSizeArg(t));
      if (!target || target.order >= h.order) throw new Errno('EINVAL');
      h.demote_order = target.order;
    },
  });
  d.file('demote', {
    mode: 0o200,
    store: (t) => {
      let nr = kstrtoul(t);
      const target = pool.hstates.find((x) => x.order === h.demote_order)!;
      const nodes = nid >= 0 ? [nid] : pool.memoryNodes();
      while (nr > 0) {
        const avail = (nid >= 0 ? h.free_huge_pages_node[nid]! : h.free_huge_pages) - h.resv_huge_pages;
        if (avail <= 0) break;
        if (!pool.demote_pool_huge_page(h, target, nodes)) break;
        nr--;
      }
    },
  });
}

/** memparse() of a demote_size write ("2048kB", "2M"). */
function parseSizeArg(t: string): number {
  const m = /^\s*(\d+)\s*([kKmMgG]?)/.exec(t);
  if (!m) return 0;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}

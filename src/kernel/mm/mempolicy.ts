/**
 * NUMA memory policy: which node a page for a VMA comes from
 * (mm/mempolicy.c: get_vma_policy, policy_nodemask, interleave_nid, do_mbind,
 * do_set_mempolicy, mpol_new's checks).
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE, alignUp, isAligned } from '../../lib/size.ts';
import {
  MPOL_BIND,
  MPOL_DEFAULT,
  MPOL_INTERLEAVE,
  MPOL_LOCAL,
  MPOL_MF_MOVE,
  MPOL_MF_MOVE_ALL,
  MPOL_MF_STRICT,
  MPOL_PREFERRED,
} from '../../uapi/mman.ts';
import { vma_adjust_trans_huge } from './huge_memory.ts';
import type { MmStruct } from './mm_types.ts';
import type { MemPolicy, VmArea } from './vm_area.ts';

/** Where to allocate: the first node to try and, for MPOL_BIND, the only nodes allowed. */
export interface NodeChoice {
  nid: number;
  nodemask: readonly number[] | undefined;
}

/** The policy in force for an address: the VMA's, else the task's, else default. */
export function get_vma_policy(mm: MmStruct, vma: VmArea): MemPolicy | null {
  return vma.policy ?? mm.policy;
}

/** policy_node + policy_nodemask for an allocation of 2^order pages at addr. */
export function policy_node(mm: MmStruct, vma: VmArea, addr: number, order: number): NodeChoice {
  const pol = get_vma_policy(mm, vma);
  if (!pol || pol.mode === MPOL_DEFAULT || pol.mode === MPOL_LOCAL) return mm.localChoice;
  switch (pol.mode) {
    case MPOL_PREFERRED:
      return { nid: pol.nodes[0]!, nodemask: undefined };
    case MPOL_BIND:
      return { nid: pol.nodes.includes(mm.homeNid) ? mm.homeNid : pol.nodes[0]!, nodemask: pol.nodes };
    case MPOL_INTERLEAVE: {
      // interleave index: the VMA's page offset plus the distance into it, in units of the allocation.
      const unit = 4096 * 2 ** order;
      const ilx = Math.floor(vma.pgoff / 2 ** order) + Math.floor((addr - vma.start) / unit);
      return { nid: pol.nodes[ilx % pol.nodes.length]!, nodemask: undefined };
    }
    default:
      return { nid: mm.homeNid, nodemask: undefined };
  }
}

/** MAX_NUMNODES of a distribution kernel (CONFIG_NODES_SHIFT=10). */
export const MAX_NUMNODES = 1024;

/**
 * get_nodes + mpol_new + mpol_set_nodemask: validate a mode and node list and
 * build the policy (null for MPOL_DEFAULT). EINVAL for an unknown mode, a node
 * past MAX_NUMNODES, a mask given with MPOL_DEFAULT/MPOL_LOCAL, an empty mask
 * for MPOL_BIND/MPOL_INTERLEAVE, or a mask with no online node in it. Offline
 * nodes next to online ones are dropped silently (nodes_and with N_MEMORY), and
 * MPOL_PREFERRED with an empty mask means MPOL_LOCAL, as in Linux.
 */
export function mpol_new(mode: number, nodes: readonly number[], nrNodes: number): MemPolicy | null {
  // sanitize_mpol_flags
  if (!Number.isInteger(mode) || mode < MPOL_DEFAULT || mode > MPOL_LOCAL) throw new Errno('EINVAL', 'unknown mempolicy mode');
  // get_nodes: bits past MAX_NUMNODES must be clear
  for (const n of nodes) if (!Number.isInteger(n) || n < 0 || n >= MAX_NUMNODES) throw new Errno('EINVAL', `node ${n} out of range`);
  const sorted = [...new Set(nodes)].sort((a, b) => a - b);
  if (mode === MPOL_DEFAULT) {
    if (sorted.length) throw new Errno('EINVAL');
    return null;
  }
  if (mode === MPOL_PREFERRED && !sorted.length) return { mode: MPOL_LOCAL, nodes: [] };
  if (mode === MPOL_LOCAL) {
    if (sorted.length) throw new Errno('EINVAL');
    return { mode, nodes: [] };
  }
  if (!sorted.length) throw new Errno('EINVAL');
  // mpol_set_nodemask: only nodes with memory count; none left is EINVAL (mpol_new_nodemask/preferred).
  const online = sorted.filter((n) => n < nrNodes);
  if (!online.length) throw new Errno('EINVAL', 'no online node in the mask');
  // MPOL_PREFERRED keeps only the first node of the mask (first_node).
  return { mode, nodes: mode === MPOL_PREFERRED ? [online[0]!] : online };
}

/** True when two policies are equal for merging (mpol_equal). */
export function mpol_equal(a: MemPolicy | null, b: MemPolicy | null): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.mode === b.mode && a.nodes.length === b.nodes.length && a.nodes.every((n, i) => n === b.nodes[i]);
}

/**
 * do_mbind (with sanitize_mpol_flags and get_nodes' checks first): set the
 * policy of [addr, addr+length). A hole is EFAULT before anything changes, except
 * for MPOL_DEFAULT (MPOL_MF_DISCONTIG_OK), where only an all-hole range fails.
 */
export function do_mbind(mm: MmStruct, addr: number, length: number, mode: number, nodemask: readonly number[], flags: number, nrNodes: number): void {
  if (!Number.isInteger(mode) || mode < MPOL_DEFAULT || mode > MPOL_LOCAL) throw new Errno('EINVAL');
  if (flags & ~(MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)) throw new Errno('EINVAL');
  if (!isAligned(addr, PAGE_SIZE)) throw new Errno('EINVAL');
  const end = addr + alignUp(length, PAGE_SIZE);
  if (end < addr) throw new Errno('EINVAL');
  if (end === addr) return;
  const pol = mpol_new(mode, nodemask, nrNodes);
  const vmas = mm.vmas.vmas_in(addr, end);
  if (vmas.length === 0) throw new Errno('EFAULT');
  if (pol) {
    let cur = addr;
    for (const vma of vmas) {
      if (vma.start > cur) throw new Errno('EFAULT');
      cur = vma.end;
    }
    if (cur < end) throw new Errno('EFAULT');
  }
  // mbind_range, VMA by VMA by address (a merge may swallow the next VMA).
  for (let cur = addr; cur < end; ) {
    const vma = mm.vmas.find_vma(cur);
    if (!vma || vma.start >= end) break;
    const s = Math.max(cur, vma.start);
    const e = Math.min(end, vma.end);
    if (!mpol_equal(vma.policy, pol)) {
      // Splitting the VMA splits the huge entries across the new boundaries first.
      vma_adjust_trans_huge(mm, vma, s, e);
      mm.vmas.vma_modify(vma, s, e, { policy: pol });
    }
    cur = e;
  }
}

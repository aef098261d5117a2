/**
 * Per-node dmem state and the allocation fallback lists (struct dmem_node,
 * dmem_node_init, find_next_dmem_node, dmem_evaluate_node in the original
 * series' mm/dmem.c — a copy of mm/page_alloc.c's build_zonelists /
 * find_next_best_node with dmem's own penalties).
 */
import { PAGE_SHIFT } from '../../lib/size.ts';
import { MPOL_BIND, MPOL_INTERLEAVE, MPOL_PREFERRED } from '../../uapi/mman.ts';
import { MAX_NUMNODES } from '../mm/memblock.ts';
import { get_vma_policy } from '../mm/mempolicy.ts';
import type { MmStruct } from '../mm/mm_types.ts';
import type { VmArea } from '../mm/vm_area.ts';
import type { DmemRegion } from './region.ts';

/** mm/page_alloc.c: prefer headless (CPU-less) nodes. */
export const PENALTY_FOR_NODE_WITH_CPUS = 1;
/** mm/dmem.c: penalise a dmem node whose other memory the kernel manages (N_MEMORY). */
export const PENALTY_FOR_DMEM_SHARED_NODE = 1;

/** struct dmem_node. */
export class DmemNode {
  total_dpages = 0;
  free_dpages = 0;
  /** Fallback list for allocation, best first (the original's nodelist[MAX_NUMNODES], without the zero tail). */
  nodelist: number[] = [];
  /** Regions in registration order (list_add_tail), i.e. top-down by address for dmem=SIZE. */
  readonly regions: DmemRegion[] = [];

  constructor(readonly nid: number) {}
}

/** What the fallback-list builder needs to know about the machine. */
export interface NodeTopology {
  /** node_distance(a, b): the SLIT matrix. */
  distances: readonly (readonly number[])[];
  /** CPUs per node (cpumask_of_node(n) weight). */
  cpus: readonly number[];
  /** node_state(n, N_MEMORY): the kernel manages memory on n. */
  hasMemory: readonly boolean[];
}

/** dmem_evaluate_node(): lower is better. */
function dmem_evaluate_node(topo: NodeTopology, nodeload: number[], local: number, node: number): number {
  // Use the distance array to find the distance.
  let penalty = topo.distances[local]![node]!;
  // Penalize nodes under us ("prefer the next node").
  if (node < local) penalty += 1;
  // Give preference to headless and unused nodes.
  if (topo.cpus[node]! > 0) penalty += PENALTY_FOR_NODE_WITH_CPUS;
  // Penalize dmem-node shared with kernel.
  if (topo.hasMemory[node]) penalty += PENALTY_FOR_DMEM_SHARED_NODE;
  // Slight preference for less loaded node.
  penalty *= topo.distances.length * MAX_NUMNODES;
  return penalty + nodeload[node]!;
}

/** find_next_dmem_node(): the local node first, then the best unused node that has regions; -1 when done. */
function find_next_dmem_node(
  topo: NodeTopology,
  nodes: readonly DmemNode[],
  nodeload: number[],
  local: number,
  used: boolean[],
): number {
  if (!used[local]) {
    used[local] = true;
    return local;
  }
  let best = -1;
  let min = Infinity;
  for (const dnode of nodes) {
    if (dnode.regions.length === 0 || used[dnode.nid]) continue;
    const penalty = dmem_evaluate_node(topo, nodeload, local, dnode.nid);
    if (penalty < min) {
      min = penalty;
      best = dnode.nid;
    }
  }
  if (best >= 0) used[best] = true;
  return best;
}

/**
 * dmem_node_init() for every node, in node order. As in the original, the
 * load array is shared by all nodes (a static __initdata array): the first node
 * of each distance group gets a load that later lists see, which spreads equal
 * distances round-robin.
 */
export function dmem_build_nodelists(topo: NodeTopology, nodes: readonly DmemNode[]): void {
  const nodeload = new Array<number>(nodes.length).fill(0);
  for (const dnode of nodes) {
    const local = dnode.nid;
    const used = new Array<boolean>(nodes.length).fill(false);
    const list: number[] = [];
    let prev = local;
    let load = nodes.length; // nr_online_nodes
    for (let node = find_next_dmem_node(topo, nodes, nodeload, local, used); node >= 0; node = find_next_dmem_node(topo, nodes, nodeload, local, used)) {
      // We don't want to pressure a particular node: add a penalty to the first node in the same distance group.
      if (topo.distances[local]![node] !== topo.distances[local]![prev]) nodeload[node] = load;
      list.push(node);
      prev = node;
      load--;
    }
    dnode.nodelist = list;
  }
}

/**
 * get_mempolicy_nlist_and_nmask() with policy_nodelist() and
 * dmem_policy_nodemask(): the fallback list and node mask for a fault at addr.
 * Default and local policies start at the task's home node (numa_node_id());
 * preferred starts at its node; bind starts at the home node if the mask has
 * it, else at the mask's first node, and is restricted to the mask;
 * interleave picks the node from the address at dpage granularity
 * (interleave_nid with shift = dpage_shift), without a mask.
 */
export function get_mempolicy_nlist_and_nmask(
  nodes: readonly DmemNode[],
  dpage_shift: number,
  mm: MmStruct,
  vma: VmArea,
  addr: number,
): { nodelist: readonly number[]; nodemask: readonly number[] | null } {
  const pol = get_vma_policy(mm, vma);
  if (pol && pol.mode === MPOL_INTERLEAVE) {
    // We use dpage_shift to interleave numa nodes although multiple dpages may be allocated.
    const off = Math.floor(vma.pgoff / 2 ** (dpage_shift - PAGE_SHIFT)) + Math.floor((addr - vma.start) / 2 ** dpage_shift);
    return { nodelist: nodes[pol.nodes[off % pol.nodes.length]!]?.nodelist ?? [], nodemask: null };
  }
  let nd = mm.homeNid;
  if (pol && pol.mode === MPOL_PREFERRED) nd = pol.nodes[0]!;
  if (pol && pol.mode === MPOL_BIND && !pol.nodes.includes(nd)) nd = pol.nodes[0]!;
  const nodemask = pol && pol.mode === MPOL_BIND ? pol.nodes : null;
  return { nodelist: nodes[nd]?.nodelist ?? [], nodemask };
}

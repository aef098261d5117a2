/**
 * /sys/devices/system/node (drivers/base/node.c): online and possible node
 * masks, and each node's cpulist, distance and meminfo.
 */
import type { MachineDesc } from '../boot/machine.ts';

/** A node list in the kernel's %*pbl form: "0-3,8". */
export function format_cpulist(ids: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ids.length; ) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j]! + 1) j++;
    out.push(i === j ? `${ids[i]}` : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** CPUs of node nid: numbered consecutively node by node. */
export function node_cpus(m: MachineDesc, nid: number): number[] {
  let first = 0;
  for (const n of m.nodes) {
    if (n.id === nid) return Array.from({ length: n.cpus }, (_, i) => first + i);
    first += n.cpus;
  }
  return [];
}

/** nodeN/distance: the SLIT row. */
export function node_distance_show(m: MachineDesc, nid: number): string {
  return m.distances[nid]!.join(' ') + '\n';
}

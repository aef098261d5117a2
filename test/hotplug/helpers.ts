/** Test helpers for memory hotplug: a small host, sysfs paths, zone lookups. */
import { GiB, MiB } from '../../src/lib/size.ts';
import type { Host } from '../../src/kernel/host.ts';
import type { Task } from '../../src/kernel/process.ts';
import { boot, readFile } from '../kernel/helpers.ts';

export { errno, readFile } from '../kernel/helpers.ts';
export { get, ls, put } from '../dax/helpers.ts';

/** Where the tests hot-add memory: far above the 4 GiB host's RAM. */
export const HOT_BASE = 16 * GiB;
/** One memory block on a host below 64 GiB. */
export const BLOCK = 128 * MiB;
/** Pages per block. */
export const BLOCK_PAGES = BLOCK / 4096;

/** A 4 GiB, one-node host (128 MiB memory blocks). */
export function small(nodes = 1): { host: Host; task: Task } {
  const { host, task } = boot({ mem: 4 * GiB, nodes });
  return { host, task };
}

/** /sys/devices/system/memory/memoryN/<attr>. */
export const M = (id: number, attr: string): string => `/sys/devices/system/memory/memory${id}/${attr}`;

/** Block id of an address. */
export const blk = (addr: number, size = BLOCK): number => addr / size;

/** One meminfo field in kB. */
export function kB(task: Task, field: string, file = '/proc/meminfo'): number {
  const m = new RegExp(`^(?:Node \\d+ )?${field}:\\s+(\\d+)`, 'm').exec(readFile(task, file));
  if (!m) throw new Error(`no ${field} in ${file}`);
  return Number(m[1]);
}

/** Test helpers: a host with soft-reserved memory, and sysfs reads/writes through a task. */
import { GiB } from '../../src/lib/size.ts';
import type { Host } from '../../src/kernel/host.ts';
import type { Task } from '../../src/kernel/process.ts';
import { O_RDONLY, O_WRONLY } from '../../src/uapi/fcntl.ts';
import { boot, readFile } from '../kernel/helpers.ts';

export { errno, signal } from '../kernel/helpers.ts';

/** 64 GiB, 2 nodes, 16 GiB soft reserved at 16 GiB → region 0 (hmem.0), device dax0.0. */
export const FAKE_MEM = 'efi_fake_mem=16G@0x400000000:0x40000';

/** A booted host with a dax region (the cmdline's). */
export function bootDax(cmdline = FAKE_MEM, mem = 64 * GiB): { host: Host; task: Task } {
  const { host, task } = boot({ mem, nodes: 2, cmdline });
  return { host, task };
}

/** echo -n text > path (one write). */
export function put(task: Task, path: string, text: string): void {
  const fd = task.open(path, O_WRONLY);
  try {
    task.write(fd, text);
  } finally {
    task.close(fd);
  }
}

/** cat path, without the trailing newline. */
export function get(task: Task, path: string): string {
  return readFile(task, path).replace(/\n$/, '');
}

/** ls of a directory (without . and ..). */
export function ls(task: Task, path: string): string[] {
  const fd = task.open(path, O_RDONLY | 0o200000);
  try {
    return task
      .getdents(fd)
      .map((d) => d.name)
      .filter((n) => n !== '.' && n !== '..');
  } finally {
    task.close(fd);
  }
}

/** The region and device directories of region 0. */
export const R = '/sys/bus/dax/devices/dax0.0/../dax_region';
export const D = (n: string): string => `/sys/bus/dax/devices/${n}`;

/** Enable as devdax the way daxctl does (daxctl_bind): new_id, then bind (hmem regions match kmem by type). */
export function enable(task: Task, name: string): void {
  put(task, '/sys/bus/dax/drivers/device_dax/new_id', name);
  if (!ls(task, `/sys/bus/dax/devices/${name}`).includes('driver')) put(task, '/sys/bus/dax/drivers/device_dax/bind', name);
}

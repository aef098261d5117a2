/** Test helpers: a booted host with dmemfs registered over a fake pool. */
import { GiB } from '../../src/lib/size.ts';
import { O_CREAT, O_RDWR } from '../../src/uapi/fcntl.ts';
import { DmemfsParams, dmemfs_params_from_cmdline, register_dmemfs, registerDmemfsSysfs } from '../../src/kernel/fs/dmemfs/index.ts';
import type { FileSystemType } from '../../src/kernel/fs/vfs/index.ts';
import type { Host } from '../../src/kernel/host.ts';
import type { Task } from '../../src/kernel/process.ts';
import { boot } from '../kernel/helpers.ts';
import { FakeDmemPool } from './fake_pool.ts';

export { errno, readFile, signal } from '../kernel/helpers.ts';

/** Where the fake pool's memory lives: far above the host's RAM, 1 GiB aligned. */
export const POOL_BASE = 64 * GiB;

/** A booted host, a task, and dmemfs over a fake pool. */
export interface DmemfsHost {
  host: Host;
  task: Task;
  pool: FakeDmemPool;
  params: DmemfsParams;
  type: FileSystemType;
  warnings: string[];
}

/**
 * Boot a host and register dmemfs over a FakeDmemPool of `poolBytes` (replacing a
 * "dmemfs" the host may already register), with /sys/module/dmemfs and /mnt/dmem.
 */
export function setup(opts: { poolBytes?: number; cmdline?: string; poolBase?: number } = {}): DmemfsHost {
  const { host, task } = boot({ cmdline: opts.cmdline ?? '' });
  const pool = new FakeDmemPool(opts.poolBase ?? POOL_BASE, opts.poolBytes ?? 64 * 1024 * 1024);
  const warnings: string[] = [];
  const params = dmemfs_params_from_cmdline(host.params, (m) => warnings.push(m));
  const old = host.vfs.get_fs_type('dmemfs');
  if (old) host.vfs.unregister_filesystem(old);
  const type = register_dmemfs(host.vfs, { pool, dram: host.dram, params, current_mm: () => host.current?.mm ?? null }, (m) => warnings.push(m));
  // Replaces the attribute the host may have created, so it drives these params.
  registerDmemfsSysfs(host.fs.pseudo.sys, params);
  task.mkdir('/mnt/dmem', 0o755);
  return { host, task, pool, params, type, warnings };
}

/** mount -t dmemfs -o OPTS none DIR. */
export function mountDmemfs(task: Task, opts = '', dir = '/mnt/dmem'): void {
  task.mount('none', dir, 'dmemfs', 0, opts);
}

/** Create (or open) a file read-write and size it. */
export function createFile(task: Task, path: string, size: number): number {
  const fd = task.open(path, O_RDWR | O_CREAT, 0o600);
  if (size) task.ftruncate(fd, size);
  return fd;
}

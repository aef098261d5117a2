/** Test helpers: a booted host and a task on it. */
import { GiB } from '../../src/lib/size.ts';
import { machineFromFlags } from '../../src/kernel/boot/machine.ts';
import { Host } from '../../src/kernel/host.ts';
import type { Task } from '../../src/kernel/process.ts';
import { Signal } from '../../src/uapi/signal.ts';

/** A small booted host and a task with captured console output. */
export function boot(opts: { mem?: number; nodes?: number; cmdline?: string } = {}): { host: Host; task: Task; out: string[]; err: string[] } {
  const host = Host.boot({ machine: machineFromFlags({ mem: opts.mem ?? 4 * GiB, nodes: opts.nodes ?? 1 }), cmdline: opts.cmdline ?? '' });
  const out: string[] = [];
  const err: string[] = [];
  const task = host.spawnConsoleTask('test', { stdout: (s) => out.push(s), stderr: (s) => err.push(s) });
  return { host, task, out, err };
}

export { errno } from '../fs/helpers.ts';

/** The signal a call raises ('SIGBUS'/'SIGSEGV' with si_code), or 'ok'. */
export function signal(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof Signal) return `${e.signo === 7 ? 'SIGBUS' : e.signo === 11 ? 'SIGSEGV' : e.signo}/${e.code}`;
    throw e;
  }
}

/** Read a whole file on the host through the task. */
export function readFile(task: Task, path: string): string {
  const fd = task.open(path, 0);
  try {
    let s = '';
    for (;;) {
      const b = task.read(fd, 65536);
      if (b.length === 0) return s;
      s += new TextDecoder().decode(b);
    }
  } finally {
    task.close(fd);
  }
}

/** One /proc/meminfo field in kB. */
export function meminfo(task: Task, field: string): number {
  const m = new RegExp(`^${field.replace(/[()]/g, '\\$&')}:\\s+(\\d+)`, 'm').exec(readFile(task, '/proc/meminfo'));
  if (!m) throw new Error(`no ${field} in /proc/meminfo`);
  return Number(m[1]);
}

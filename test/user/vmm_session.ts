/** A booted host with a shell for the vmm tests: run scripts, read `vmm info`, find a VM's task. */
import { expect } from 'vitest';
import { GiB } from '../../src/lib/size.ts';
import type { Host } from '../../src/kernel/host.ts';
import type { Task } from '../../src/kernel/process.ts';
import { runShell } from '../../src/user/sh/index.ts';
import { boot, readFile } from '../kernel/helpers.ts';

/** A shell on a freshly booted host. */
export interface Session {
  host: Host;
  task: Task;
  /** Run a script; its status and what it printed. */
  sh(script: string): { status: number; out: string; err: string };
}

/** Boot a host (8 GiB, one node, no parameters unless told) and open a shell on it. */
export function session(opts: { mem?: number; nodes?: number; cmdline?: string } = {}): Session {
  const { host, task, out, err } = boot({ mem: opts.mem ?? 8 * GiB, nodes: opts.nodes ?? 1, cmdline: opts.cmdline ?? '' });
  return {
    host,
    task,
    sh(script) {
      out.length = 0;
      err.length = 0;
      const status = runShell(task, { script });
      return { status, out: out.join(''), err: err.join('') };
    },
  };
}

/** `vmm info NAME` as a map. */
export function info(s: Session, name: string): Map<string, string> {
  const r = s.sh(`vmm info ${name}`);
  expect(r.err).toBe('');
  return new Map(r.out.trimEnd().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]));
}

/** The pid of the process `vmm start NAME` became. */
export function vmPid(s: Session, name: string): number {
  return Number(readFile(s.task, `/run/vmm/${name}/pid`).trim());
}

/** The VM's task. */
export function vmTask(s: Session, name: string): Task {
  return s.host.tasks.get(vmPid(s, name))!;
}

/** Booting hosts for the hugetlb tests and reading their files. */
import { GiB } from '../../src/lib/size.ts';
import { machineFromFlags } from '../../src/kernel/boot/machine.ts';
import { Host } from '../../src/kernel/host.ts';
import type { HugetlbPoolsImpl } from '../../src/kernel/hugetlb/pool.ts';
import type { PseudoDir, PseudoFile } from '../../src/kernel/fs/pseudo/index.ts';

/** Boot a host with `mem` bytes on `nodes` nodes. */
export function boot(cmdline = '', mem = 64 * GiB, nodes = 2): { host: Host; pools: HugetlbPoolsImpl } {
  const host = Host.boot({ machine: machineFromFlags({ mem, nodes }), cmdline });
  return { host, pools: host.hugetlb as HugetlbPoolsImpl };
}

/** The kernel log lines containing `needle`. */
export function logLines(host: Host, needle: string): string[] {
  return host.log.all().map((r) => r.text).filter((t) => t.includes(needle));
}

function node(root: PseudoDir, path: string): PseudoFile {
  const n = root.resolve(path);
  if (!n || n.kind !== 'file') throw new Error(`no file ${path}`);
  return n;
}

/** Read a /sys file (path below /sys). */
export function sysRead(host: Host, path: string): string {
  return node(host.fs.pseudo.sys, path).show!();
}

/** Write a /sys file (one write() call). */
export function sysWrite(host: Host, path: string, text: string): void {
  node(host.fs.pseudo.sys, path).store!(text);
}

/** Read a /proc file (path below /proc). */
export function procRead(host: Host, path: string): string {
  return node(host.fs.pseudo.proc, path).show!();
}

/** Write a /proc file. */
export function procWrite(host: Host, path: string, text: string): void {
  node(host.fs.pseudo.proc, path).store!(text);
}

/** One /proc/meminfo field in kB (or pages for HugePages_*). */
export function meminfo(host: Host, field: string): number {
  const line = procRead(host, 'meminfo')
    .split('\n')
    .find((l) => l.startsWith(field + ':'));
  if (!line) throw new Error(`no ${field}`);
  return Number(line.split(/\s+/)[1]);
}

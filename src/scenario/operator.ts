/**
 * An operator at the console of one freshly booted host: every change of
 * state goes through the shell and the user programs (mount, vmm, daxctl,
 * echo > /sys/...), and every reading through /proc, /sys and debugfs files
 * (cat, or a pread of /proc/PID/pagemap). The runner sees only what those
 * show, as a person at a terminal would.
 */
import { Errno } from '../lib/errno.ts';
import { PAGE_SIZE } from '../lib/size.ts';
import { O_RDONLY } from '../uapi/fcntl.ts';
import type { MachineDesc } from '../kernel/boot/machine.ts';
import { Host } from '../kernel/host.ts';
import type { Task } from '../kernel/process.ts';
import { runShell } from '../user/sh/index.ts';

/** What one command printed and its exit status. */
export interface CmdResult {
  out: string;
  err: string;
  status: number;
}

/** A shell session on a booted host. */
export class Operator {
  readonly host: Host;
  private readonly console: Task;
  private out = '';
  private err = '';
  /** Every command typed, in order (the backend's setup is a slice of this). */
  readonly history: string[] = [];

  constructor(machine: MachineDesc, readonly cmdline: string) {
    this.host = Host.boot({ machine, cmdline });
    this.console = this.host.spawnConsoleTask('sh', { stdout: (s) => (this.out += s), stderr: (s) => (this.err += s) });
  }

  /** Run one shell command line; returns its output and status. */
  sh(cmd: string): CmdResult {
    this.history.push(cmd);
    this.out = '';
    this.err = '';
    const status = runShell(this.console, { script: cmd });
    return { out: this.out, err: this.err, status };
  }

  /** Run a command that must succeed; throws with its stderr otherwise. */
  must(cmd: string): string {
    const r = this.sh(cmd);
    if (r.status !== 0) throw new Error(`\`${cmd}\` failed (status ${r.status}): ${(r.err || r.out).trim()}`);
    return r.out;
  }

  /** `cat FILE` without recording it in the history (readings are not setup). */
  cat(path: string): string | null {
    this.out = '';
    this.err = '';
    const status = runShell(this.console, { script: `cat ${path}` });
    return status === 0 ? this.out : null;
  }

  /**
   * One entry of /proc/PID/pagemap (pagemap.rst), as a tool reads it with
   * pread at 8 × (address / 4K): the frame behind a present page, -1 when
   * the page is not present there (or the process is gone).
   */
  pagemapFrame(pid: number, addr: number): number {
    let fd = -1;
    try {
      fd = this.console.open(`/proc/${pid}/pagemap`, O_RDONLY);
      const b = this.console.pread(fd, 8, Math.floor(addr / PAGE_SIZE) * 8);
      if (b.length < 8) return -1;
      const dv = new DataView(b.buffer, b.byteOffset, 8);
      const hi = dv.getUint32(4, true);
      return hi >>> 31 ? (hi & 0x7fffff) * 2 ** 32 + dv.getUint32(0, true) : -1;
    } catch (e) {
      if (e instanceof Errno) return -1;
      throw e;
    } finally {
      if (fd >= 0) this.console.close(fd);
    }
  }

  /** A number read from a one-value file (debugfs/sysfs), 0 when absent. */
  num(path: string): number {
    const t = this.cat(path);
    return t === null ? 0 : Number(t.trim().split(/\s+/)[0]) || 0;
  }

  /** /proc/meminfo as name → bytes (kB lines) or counts (HugePages_*). */
  meminfo(path = '/proc/meminfo'): Map<string, number> {
    const m = new Map<string, number>();
    for (const line of (this.cat(path) ?? '').split('\n')) {
      const r = /^(?:Node \d+ )?([A-Za-z0-9_()]+):\s+(\d+)(\s+kB)?/.exec(line);
      if (r) m.set(r[1]!, Number(r[2]) * (r[3] ? 1024 : 1));
    }
    return m;
  }

  /** /proc/vmstat (or any `name value` file) as a map. */
  vmstat(path = '/proc/vmstat'): Map<string, number> {
    const m = new Map<string, number>();
    for (const line of (this.cat(path) ?? '').split('\n')) {
      const r = /^(\S+) (-?\d+)$/.exec(line);
      if (r) m.set(r[1]!, Number(r[2]));
    }
    return m;
  }
}

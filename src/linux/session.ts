/**
 * A Linux session: the pseudo-processes a `dmemfs sh --linux` runs on the real
 * kernel, the means of memory access they share, and everything the session
 * changed on the host that outlives a process — the hugetlb pool size
 * (/proc/sys/vm/nr_hugepages, mm/hugetlb_sysctl.c) and mounts.
 *
 * Memory and descriptors die with Node whatever ends it (the kernel's exit_mmap
 * and exit_files), but pool sizes and mounts do not. They are handed to a
 * watchdog: a small detached node process reading a pipe whose only write end
 * is ours. Every change is written to it synchronously before it is made; when
 * the pipe reaches end of file — normal exit, error, Ctrl-C's SIGINT, even
 * SIGKILL — it restores the pool and detaches the mounts still recorded. A
 * normal release does that itself first and tells the watchdog it is done.
 * Ctrl-C keeps Node's default action (a JS SIGINT handler would only run after
 * the synchronous shell finished, so it could not interrupt a long memtouch).
 */
import { spawn } from 'node:child_process';
import { Errno } from '../lib/errno.ts';
import * as libc from './libc.ts';
import { MemoryAccess } from './memory.ts';
import type { LinuxSyscalls } from './syscalls.ts';

/** Pseudo-pids start above PID_MAX_LIMIT (include/linux/threads.h) so they never name a real process. */
export const PSEUDO_PID_BASE = 4 * 1024 * 1024;

/** O_CLOEXEC. */
const O_CLOEXEC = 0o2000000;

/**
 * The watchdog: on end of file, takes back the `add PATH N` records left standing (a pool
 * grown by N shrinks by N, relative so that concurrent sessions do not undo each other)
 * and lazily unmounts the `umount DIR` records.
 */
const WATCHDOG = `
const fs = require('fs');
const adds = new Map(); const mounts = new Set();
const b = Buffer.alloc(4096); let text = '';
for (;;) {
  let n; try { n = fs.readSync(0, b, 0, b.length, null); } catch (e) { if (e.code === 'EAGAIN' || e.code === 'EINTR') continue; break; }
  if (!n) break;
  text += b.toString('utf8', 0, n);
  let i; while ((i = text.indexOf('\\n')) >= 0) {
    const [op, a, v] = text.slice(0, i).split(' '); text = text.slice(i + 1);
    if (op === 'add') adds.set(a, (adds.get(a) || 0) + Number(v)); else if (op === 'done') adds.delete(a);
    else if (op === 'umount') mounts.add(a); else if (op === 'unmounted') mounts.delete(a);
  }
}
const { execFileSync } = require('child_process');
for (const m of [...mounts].reverse()) { try { execFileSync('umount', ['-l', m], { stdio: 'ignore' }); } catch {} }
for (const [p, n] of adds) { try { const cur = Number(fs.readFileSync(p, 'utf8')); fs.writeFileSync(p, String(Math.max(0, cur - n))); } catch {} }
`;

/** Host-wide facts the banner and mmap need. */
export interface HugetlbInfo {
  /** Hugepagesize from /proc/meminfo, in bytes. */
  defaultSize: number;
  /** Pool sizes the kernel offers (/sys/kernel/mm/hugepages/hugepages-NkB). */
  sizes: number[];
  free: number;
  total: number;
}

/** Read the hugetlb facts from /proc/meminfo and sysfs (empty when hugetlb is absent). */
export function readHugetlbInfo(): HugetlbInfo {
  const meminfo = readText('/proc/meminfo');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? 0);
  const sizes: number[] = [];
  try {
    const fd = libc.open('/sys/kernel/mm/hugepages', 0o200000);
    try {
      const buf = Buffer.alloc(8192);
      const n = libc.getdents64(fd, buf);
      for (const m of buf.toString('latin1', 0, n).matchAll(/hugepages-(\d+)kB/g)) sizes.push(Number(m[1]) * 1024);
    } finally {
      libc.close(fd);
    }
  } catch {
    // no hugetlb in this kernel
  }
  return { defaultSize: kb('Hugepagesize') * 1024, sizes: sizes.sort((a, b) => a - b), free: kb('HugePages_Free'), total: kb('HugePages_Total') };
}

/** The whole text of a (small, real) file. */
export function readText(path: string): string {
  const fd = libc.open(path, O_CLOEXEC);
  try {
    const parts: Uint8Array[] = [];
    for (;;) {
      const c = libc.read(fd, 65536);
      if (c.length === 0) break;
      parts.push(c);
    }
    return Buffer.concat(parts).toString('utf8');
  } finally {
    libc.close(fd);
  }
}

/** Write a (small, real) file, e.g. a sysctl. */
export function writeText(path: string, text: string): void {
  const fd = libc.open(path, 1 | O_CLOEXEC);
  try {
    libc.write(fd, text);
  } finally {
    libc.close(fd);
  }
}

/** What a session owns on the host; `release()` gives it all back. */
export class LinuxSession {
  readonly access: MemoryAccess;
  readonly realPid: number;
  private nextPid = PSEUDO_PID_BASE;
  private watchdogFd = -1;
  /** Counters the session raised (nr_hugepages files), by how much. */
  private readonly added = new Map<string, number>();
  /** Mount points the session created, in order. */
  private readonly mounts: string[] = [];
  /** The pseudo-processes by pid, zombies included until reaped. */
  readonly tasks = new Map<number, LinuxSyscalls>();
  /** Release hooks of live pseudo-processes (their mappings and descriptors). */
  readonly live = new Set<{ release(): void }>();
  private released = false;

  constructor() {
    this.access = new MemoryAccess();
    this.realPid = libc.getpid();
  }

  /** A fresh pseudo-pid. */
  allocPid(): number {
    return ++this.nextPid;
  }

  /** Start the watchdog on the first change that outlives us. */
  private watchdog(line: string): void {
    if (this.watchdogFd < 0) {
      const [r, w] = libc.pipe2(O_CLOEXEC);
      const child = spawn(process.execPath, ['-e', WATCHDOG], { stdio: [r, 'ignore', 'ignore'], detached: true });
      child.unref();
      libc.close(r);
      this.watchdogFd = w;
    }
    libc.write(this.watchdogFd, line + '\n');
  }

  /**
   * Make `count` more hugetlb pages of `size` bytes available for the session (root only);
   * returns how many the kernel found. The watchdog learns of the increase before it is made.
   */
  reserveHugepages(size: number, count: number): number {
    const path = `/sys/kernel/mm/hugepages/hugepages-${size / 1024}kB/nr_hugepages`;
    this.watchdog(`add ${path} ${count}`);
    const have = Number(readText(path).trim());
    writeText(path, String(have + count));
    const got = Math.max(0, Number(readText(path).trim()) - have);
    // Tell the watchdog what was really added (the kernel may find fewer pages).
    if (got !== count) this.watchdog(`add ${path} ${got - count}`);
    this.added.set(path, (this.added.get(path) ?? 0) + got);
    return got;
  }

  /** Give back `count` pages reserveHugepages added (the user-space dmemfs at umount). */
  unreserveHugepages(size: number, count: number): void {
    if (count <= 0) return;
    const path = `/sys/kernel/mm/hugepages/hugepages-${size / 1024}kB/nr_hugepages`;
    writeText(path, String(Math.max(0, Number(readText(path).trim()) - count)));
    this.added.set(path, (this.added.get(path) ?? 0) - count);
    this.watchdog(`add ${path} ${-count}`);
  }

  /** Note a mount the session made (undone at release). */
  noteMount(dir: string): void {
    this.watchdog(`umount ${dir}`);
    this.mounts.push(dir);
  }

  /** Note that the session unmounted a directory itself. */
  noteUmount(dir: string): void {
    const i = this.mounts.lastIndexOf(dir);
    if (i < 0) return;
    this.mounts.splice(i, 1);
    this.watchdog(`unmounted ${dir}`);
  }

  /** Give back everything: pseudo-processes' memory and files, mounts, pool sizes. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    const errors: unknown[] = [];
    const attempt = (f: () => void): void => {
      try {
        f();
      } catch (e) {
        errors.push(e);
      }
    };
    for (const t of [...this.live].reverse()) attempt(() => t.release());
    for (const m of this.mounts.reverse()) attempt(() => libc.umount2(m, 2 /* MNT_DETACH */));
    for (const [p, n] of this.added) {
      attempt(() => writeText(p, String(Math.max(0, Number(readText(p).trim()) - n))));
      if (this.watchdogFd >= 0) attempt(() => libc.write(this.watchdogFd, `done ${p}\n`));
    }
    for (const m of this.mounts) if (this.watchdogFd >= 0) attempt(() => libc.write(this.watchdogFd, `unmounted ${m}\n`));
    if (this.watchdogFd >= 0) attempt(() => libc.close(this.watchdogFd));
    attempt(() => this.access.close());
    if (errors.length) throw errors[0] instanceof Errno ? errors[0] : new Error(`release: ${String(errors[0])}`);
  }
}

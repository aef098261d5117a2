/**
 * ps(1), procps-ng format, reading /proc the way procps does: getdents on
 * /proc for numeric names, then /proc/PID/stat (and /proc/PID/cmdline for -f).
 * Without options: processes on the caller's terminal. -e/-A all, -f full.
 */
import { Errno } from '../../lib/errno.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import type { Program } from '../program.ts';
import { attempt, getopt, out, readFile, usage, userName } from './common.ts';
import { listDir } from './rm.ts';

/** USER_HZ: /proc/PID/stat times are in clock ticks of 1/100 s. */
const CLK_TCK = 100;

/** The fields of /proc/PID/stat that ps shows. */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  ttyNr: number;
  utime: number;
  stime: number;
  starttime: number;
}

/** Parse one /proc/PID/stat line (comm may hold spaces and parentheses). */
export function parseProcStat(line: string): ProcStat | undefined {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const f = line.slice(close + 2).trim().split(/\s+/);
  const n = (i: number): number => Number(f[i - 3] ?? 0);
  return {
    pid: Number(line.slice(0, open).trim()),
    comm: line.slice(open + 1, close),
    state: f[0] ?? '?',
    ppid: n(4),
    ttyNr: n(7),
    utime: n(14),
    stime: n(15),
    starttime: n(22),
  };
}

/** procps's terminal name for a tty_nr: pts/N, ttyN, or `?`. */
export function ttyName(ttyNr: number): string {
  if (ttyNr === 0) return '?';
  const major = Math.floor(ttyNr / 256) % 4096;
  const minor = (ttyNr % 256) + (Math.floor(ttyNr / 1048576) % 4096) * 256;
  if (major >= 136 && major <= 143) return `pts/${(major - 136) * 256 + minor}`;
  if (major === 4 && minor < 64) return `tty${minor}`;
  return '?';
}

/** TIME column: cumulative CPU as [DD-]HH:MM:SS. */
function cpuTime(ticks: number): string {
  let s = Math.floor(ticks / CLK_TCK);
  const d = Math.floor(s / 86400);
  s %= 86400;
  const p = (n: number): string => String(n).padStart(2, '0');
  const hms = `${p(Math.floor(s / 3600))}:${p(Math.floor(s / 60) % 60)}:${p(s % 60)}`;
  return d ? `${d}-${hms}` : hms;
}

function readStat(sys: Syscalls, pid: number): ProcStat | undefined {
  const text = attempt(() => readFile(sys, `/proc/${pid}/stat`));
  return text instanceof Errno ? undefined : parseProcStat(text);
}

/** ps [-e|-A] [-f] */
export const ps: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'eAf');
  if ('error' in p) return usage(sys, 'ps', p.error);
  const all = p.opts.some(([c]) => c === 'e' || c === 'A');
  const full = p.opts.some(([c]) => c === 'f');
  const pids = listDir(sys, '/proc').filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
  const self = readStat(sys, sys.getpid());
  const procs = pids.map((pid) => readStat(sys, pid)).filter((s): s is ProcStat => s !== undefined);
  const shown = all ? procs : procs.filter((s) => s.ttyNr === (self?.ttyNr ?? 0));
  if (!full) {
    out(sys, '    PID TTY          TIME CMD\n');
    for (const s of shown) out(sys, `${String(s.pid).padStart(7)} ${ttyName(s.ttyNr).padEnd(8)} ${cpuTime(s.utime + s.stime).padStart(8)} ${s.comm}\n`);
    return 0;
  }
  const btime = bootTime(sys);
  out(sys, 'UID          PID    PPID  C STIME TTY          TIME CMD\n');
  for (const s of shown) {
    const cmdline = attempt(() => readFile(sys, `/proc/${s.pid}/cmdline`));
    const args = cmdline instanceof Errno ? '' : cmdline.split('\0').filter((a) => a).join(' ');
    const started = new Date((btime + Math.floor(s.starttime / CLK_TCK)) * 1000);
    const stime = `${String(started.getUTCHours()).padStart(2, '0')}:${String(started.getUTCMinutes()).padStart(2, '0')}`;
    out(
      sys,
      `${userName(0).padEnd(8)} ${String(s.pid).padStart(7)} ${String(s.ppid).padStart(7)}  0 ${stime} ` +
        `${ttyName(s.ttyNr).padEnd(8)} ${cpuTime(s.utime + s.stime).padStart(8)} ${args || `[${s.comm}]`}\n`,
    );
  }
  return 0;
};

/** btime from /proc/stat (0 when unavailable). */
function bootTime(sys: Syscalls): number {
  const text = attempt(() => readFile(sys, '/proc/stat'));
  if (text instanceof Errno) return 0;
  const m = /^btime\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

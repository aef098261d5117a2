/**
 * ls(1), GNU format, always one name per line (as when stdout is not a
 * terminal). -l long format with GNU's column widths, -a/-A, -d, -i, -h, and
 * sorting by name (C locale), -t, -S, -r. Exit 2 when an operand cannot be
 * accessed, as GNU ls does.
 */
import { Errno } from '../../lib/errno.ts';
import { S_IFBLK, S_IFCHR, S_IFLNK, S_IFMT, S_ISDIR, type Stat } from '../../uapi/fcntl.ts';
import { CLOCK_REALTIME } from '../../uapi/syscalls.ts';
import type { Program } from '../program.ts';
import { attempt, devMajor, devMinor, getopt, humanCeil, joinPath, modeString, out, quote, usage, userName, warn } from './common.ts';
import { listDir } from './rm.ts';
import { lsDate } from './timefmt.ts';

interface LsOpts {
  long: boolean;
  all: boolean;
  almostAll: boolean;
  dirsAsFiles: boolean;
  inode: boolean;
  human: boolean;
  sort: 'name' | 'time' | 'size';
  reverse: boolean;
}

interface Entry {
  name: string;
  st: Stat | undefined;
  /** A symlink's target, shown by -l as `NAME -> TARGET`. */
  target?: string;
}

/** ls [-laAdihtSr1] [FILE...] */
export const ls: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'laAdihtSr1', { all: 'a', 'almost-all': 'A', directory: 'd', inode: 'i', 'human-readable': 'h', reverse: 'r' });
  if ('error' in p) return usage(sys, 'ls', p.error, 2);
  const o: LsOpts = { long: false, all: false, almostAll: false, dirsAsFiles: false, inode: false, human: false, sort: 'name', reverse: false };
  for (const [c] of p.opts) {
    if (c === 'l') o.long = true;
    else if (c === 'a') o.all = true;
    else if (c === 'A') o.almostAll = true;
    else if (c === 'd') o.dirsAsFiles = true;
    else if (c === 'i') o.inode = true;
    else if (c === 'h') o.human = true;
    else if (c === 't') o.sort = 'time';
    else if (c === 'S') o.sort = 'size';
    else if (c === 'r') o.reverse = true;
  }
  const operands = p.operands.length ? p.operands : ['.'];
  let status = 0;
  const files: Entry[] = [];
  const dirs: Entry[] = [];
  // GNU: -l and -d never dereference a command-line symlink; otherwise one to a directory is listed.
  const derefNever = o.long || o.dirsAsFiles;
  for (const name of operands) {
    const st = attempt(() => (derefNever ? sys.lstat(name) : sys.stat(name)));
    if (st instanceof Errno) {
      warn(sys, 'ls', `cannot access ${quote(name)}: ${st.strerror}`);
      status = 2;
      continue;
    }
    if (o.long && (st.mode & S_IFMT) === S_IFLNK) {
      const target = attempt(() => sys.readlink(name));
      files.push(typeof target === 'string' ? { name, st, target } : { name, st });
      continue;
    }
    (S_ISDIR(st.mode) && !o.dirsAsFiles ? dirs : files).push({ name, st });
  }
  const now = sys.clock_gettime(CLOCK_REALTIME);
  let first = true;
  if (files.length) {
    out(sys, format(sortEntries(files, o), o, now));
    first = false;
  }
  const headers = operands.length > 1 || files.length > 0;
  for (const d of sortEntries(dirs, o)) {
    const names = attempt(() => listDir(sys, d.name));
    if (names instanceof Errno) {
      warn(sys, 'ls', `cannot open directory ${quote(d.name)}: ${names.strerror}`);
      status = 2;
      continue;
    }
    if (headers) {
      out(sys, `${first ? '' : '\n'}${d.name}:\n`);
      first = false;
    }
    const shown = (o.all ? ['.', '..', ...names] : names).filter((n) => o.all || (!n.startsWith('.') || (o.almostAll && n !== '.' && n !== '..')));
    const entries: Entry[] = shown.map((name) => {
      const needStat = o.long || o.inode || o.sort !== 'name';
      const st = needStat ? attempt(() => sys.lstat(joinPath(d.name, name))) : undefined;
      if (st instanceof Errno) {
        warn(sys, 'ls', `cannot access ${quote(joinPath(d.name, name))}: ${st.strerror}`);
        status = Math.max(status, 1);
        return { name, st: undefined };
      }
      if (o.long && st && (st.mode & S_IFMT) === S_IFLNK) {
        const target = attempt(() => sys.readlink(joinPath(d.name, name)));
        if (typeof target === 'string') return { name, st, target };
      }
      return { name, st };
    });
    if (o.long) out(sys, `total ${total(entries, o)}\n`);
    out(sys, format(sortEntries(entries, o), o, now));
    first = false;
  }
  return status;
};

function sortEntries(entries: Entry[], o: LsOpts): Entry[] {
  const byName = (a: Entry, b: Entry): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const cmp = (a: Entry, b: Entry): number => {
    if (o.sort === 'time') return (b.st?.mtimeNs ?? 0) - (a.st?.mtimeNs ?? 0) || byName(a, b);
    if (o.sort === 'size') return (b.st?.size ?? 0) - (a.st?.size ?? 0) || byName(a, b);
    return byName(a, b);
  };
  const sorted = [...entries].sort(cmp);
  return o.reverse ? sorted.reverse() : sorted;
}

/** `total`: allocated space in 1 KiB units, rounded up once over the sum (GNU). */
function total(entries: Entry[], o: LsOpts): string {
  const blocks512 = entries.reduce((s, e) => s + (e.st?.blocks ?? 0), 0);
  return o.human ? humanCeil(blocks512 * 512) : String(Math.ceil(blocks512 / 2));
}

function format(entries: Entry[], o: LsOpts, now: number): string {
  const inodes = entries.map((e) => (e.st ? String(e.st.ino) : '?'));
  const inoW = Math.max(0, ...inodes.map((s) => s.length));
  const prefix = (i: number): string => (o.inode ? `${inodes[i]!.padStart(inoW)} ` : '');
  if (!o.long) return entries.map((e, i) => `${prefix(i)}${e.name}\n`).join('');
  const rows = entries.map((e) => longFields(e, o, now));
  const w = (k: number): number => Math.max(0, ...rows.map((r) => r[k]!.length));
  const majW = Math.max(0, ...rows.map((r) => r[6]!.length));
  const minW = Math.max(0, ...rows.map((r) => r[7]!.length));
  const sizeW = Math.max(w(4), majW ? majW + 2 + minW : 0);
  return rows
    .map((r, i) => {
      const size = r[6] ? `${r[6].padStart(majW)}, ${r[7]!.padStart(minW)}`.padStart(sizeW) : r[4]!.padStart(sizeW);
      return `${prefix(i)}${r[0]} ${r[1]!.padStart(w(1))} ${r[2]!.padEnd(w(2))} ${r[3]!.padEnd(w(3))} ${size} ${r[5]} ${entries[i]!.name}${entries[i]!.target !== undefined ? ` -> ${entries[i]!.target}` : ''}\n`;
    })
    .join('');
}

/** mode, nlink, owner, group, size, date, device major, device minor. */
function longFields(e: Entry, o: LsOpts, now: number): string[] {
  const st = e.st;
  if (!st) return ['l?????????', '?', '?', '?', '?', '           ?', '', ''];
  const type = st.mode & S_IFMT;
  const isDev = type === S_IFCHR || type === S_IFBLK;
  return [
    modeString(st.mode),
    String(st.nlink),
    userName(st.uid),
    userName(st.gid),
    o.human ? humanCeil(st.size) : String(st.size),
    lsDate(st.mtimeNs, now),
    isDev ? String(devMajor(st.rdev)) : '',
    isDev ? String(devMinor(st.rdev)) : '',
  ];
}

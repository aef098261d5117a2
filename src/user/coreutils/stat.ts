/**
 * stat(1), coreutils 9 output: the default multi-line report and `-c FORMAT` /
 * `--printf FORMAT` with printf-style flags and widths on each directive.
 */
import { Errno } from '../../lib/errno.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, type Stat } from '../../uapi/fcntl.ts';
import type { Program } from '../program.ts';
import { attempt, devMajor, devMinor, getopt, modeString, out, quote, quotef, usage, userName, warn } from './common.ts';
import { echoEscapes } from './echo.ts';
import { statDate } from './timefmt.ts';

const DEFAULT_HEAD = '  File: %N\n  Size: %-10s\tBlocks: %-10b IO Block: %-6o %F\n';
const DEFAULT_DEV = 'Device: %Hd,%Ld\tInode: %-11i Links: %h\n';
const DEFAULT_DEV_SPECIAL = 'Device: %Hd,%Ld\tInode: %-11i Links: %-5h Device type: %Hr,%Lr\n';
const DEFAULT_TAIL =
  'Access: (%04a/%10.10A)  Uid: (%5u/%8U)   Gid: (%5g/%8G)\nAccess: %x\nModify: %y\nChange: %z\n Birth: %w\n';

/** stat [-L] [-c FORMAT | --printf FORMAT] FILE... */
export const stat: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'Lc:', { 'format=': 'c', 'printf=': 'P', dereference: 'L' });
  if ('error' in p) return usage(sys, 'stat', p.error);
  let fmt: string | undefined;
  let newline = true;
  let follow = false;
  for (const [c, v] of p.opts) {
    if (c === 'c') {
      fmt = v!;
      newline = true;
    } else if (c === 'P') {
      fmt = echoEscapes(v!).text;
      newline = false;
    } else if (c === 'L') follow = true;
  }
  if (p.operands.length === 0) return usage(sys, 'stat', 'missing operand');
  let status = 0;
  for (const name of p.operands) {
    const st = attempt(() => (follow ? sys.stat(name) : sys.lstat(name)));
    if (st instanceof Errno) {
      warn(sys, 'stat', `cannot statx ${quote(name)}: ${st.strerror}`);
      status = 1;
      continue;
    }
    const type = st.mode & S_IFMT;
    const special = type === S_IFCHR || type === S_IFBLK;
    const f = fmt ?? DEFAULT_HEAD + (special ? DEFAULT_DEV_SPECIAL : DEFAULT_DEV) + DEFAULT_TAIL;
    out(sys, formatStat(f, name, st) + (fmt !== undefined && newline ? '\n' : ''));
  }
  return status;
};

/** Expand stat's %-directives for one file. */
export function formatStat(fmt: string, name: string, st: Stat): string {
  return fmt.replace(/%([-#0 +']*)(\d*)(?:\.(\d+))?([HL]?[a-zA-Z%])/g, (_m, flags: string, width: string, prec: string | undefined, conv: string) => {
    if (conv === '%') return '%';
    const v = directive(conv, name, st);
    if (v === undefined) return `?`;
    return pad(v, flags, width ? Number(width) : 0, prec === undefined ? undefined : Number(prec));
  });
}

/** A directive's value: text, a decimal number, or a number shown in octal/hex. */
type Value = string | number | { n: number; radix: 8 | 16 };

function directive(conv: string, name: string, st: Stat): Value | undefined {
  switch (conv) {
    case 'a':
      return { n: st.mode % 0o10000, radix: 8 };
    case 'A':
      return modeString(st.mode);
    case 'b':
      return st.blocks;
    case 'B':
      return 512;
    case 'd':
      return st.dev;
    case 'D':
      return { n: st.dev, radix: 16 };
    case 'f':
      return { n: st.mode, radix: 16 };
    case 'F':
      return fileType(st);
    case 'g':
      return st.gid;
    case 'G':
      return userName(st.gid);
    case 'h':
      return st.nlink;
    case 'i':
      return st.ino;
    case 'n':
      return name;
    case 'N':
      return quotef(name);
    case 'o':
      return st.blksize;
    case 's':
      return st.size;
    case 't':
      return { n: devMajor(st.rdev), radix: 16 };
    case 'T':
      return { n: devMinor(st.rdev), radix: 16 };
    case 'u':
      return st.uid;
    case 'U':
      return userName(st.uid);
    case 'x':
      return statDate(st.atimeNs);
    case 'y':
      return statDate(st.mtimeNs);
    case 'z':
      return statDate(st.ctimeNs);
    case 'X':
      return Math.floor(st.atimeNs / 1e9);
    case 'Y':
      return Math.floor(st.mtimeNs / 1e9);
    case 'Z':
      return Math.floor(st.ctimeNs / 1e9);
    case 'w':
      return '-';
    case 'W':
      return 0;
    case 'Hd':
      return devMajor(st.dev);
    case 'Ld':
      return devMinor(st.dev);
    case 'Hr':
      return devMajor(st.rdev);
    case 'Lr':
      return devMinor(st.rdev);
    default:
      return undefined;
  }
}

/** printf-style flags, width and precision applied to one value. */
function pad(v: Value, flags: string, width: number, prec: number | undefined): string {
  let s: string;
  const numeric = typeof v !== 'string';
  if (typeof v === 'object') {
    s = v.n.toString(v.radix);
    if (flags.includes('#') && v.radix === 8 && s !== '0') s = '0' + s;
    if (flags.includes('#') && v.radix === 16) s = '0x' + s;
  } else s = String(v);
  if (!numeric && prec !== undefined) s = s.slice(0, prec);
  if (numeric && prec !== undefined) s = s.padStart(prec, '0');
  if (flags.includes('-')) return s.padEnd(width);
  if (numeric && flags.includes('0')) return s.padStart(width, '0');
  return s.padStart(width);
}

function fileType(st: Stat): string {
  switch (st.mode & S_IFMT) {
    case S_IFREG:
      return st.size === 0 ? 'regular empty file' : 'regular file';
    case S_IFDIR:
      return 'directory';
    case S_IFCHR:
      return 'character special file';
    case S_IFBLK:
      return 'block special file';
    case S_IFIFO:
      return 'fifo';
    case S_IFLNK:
      return 'symbolic link';
    case S_IFSOCK:
      return 'socket';
    default:
      return 'weird file';
  }
}

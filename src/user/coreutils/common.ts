/**
 * What the coreutils-style programs share: getopt with GNU's messages, GNU's
 * file-name quoting in diagnostics, reading whole files, and number formats.
 */
import { Errno } from '../../lib/errno.ts';
import { O_RDONLY, S_IFMT, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK } from '../../uapi/fcntl.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import { readAll, writeStr } from '../program.ts';

/** Write to stdout. */
export function out(sys: Syscalls, text: string): void {
  writeStr(sys, 1, text);
}

/** `PROG: MSG` on stderr. */
export function warn(sys: Syscalls, prog: string, msg: string): void {
  writeStr(sys, 2, `${prog}: ${msg}\n`);
}

/** A usage error: the message, GNU's "Try ... --help" line; returns `status`. */
export function usage(sys: Syscalls, prog: string, msg: string, status = 1): number {
  if (msg) warn(sys, prog, msg);
  writeStr(sys, 2, `Try '${prog} --help' for more information.\n`);
  return status;
}

/** Parsed command line. */
export interface Parsed {
  /** Options in order: letter and argument (if the option takes one). */
  opts: [string, string | undefined][];
  operands: string[];
}

/**
 * GNU getopt_long over short options (`spec` as in getopt: "ab:c") with option
 * permutation and `--`; `longs` maps long names (with `=` suffix when taking
 * an argument) to their short letter. Returns an error message on bad usage.
 */
export function getopt(
  argv: readonly string[],
  spec: string,
  longs: Readonly<Record<string, string>> = {},
  negativeNumbersAreOperands = false,
): Parsed | { error: string } {
  const takesArg = (c: string): boolean | undefined => {
    const i = spec.indexOf(c);
    return i < 0 || c === ':' ? undefined : spec[i + 1] === ':';
  };
  const opts: Parsed['opts'] = [];
  const operands: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const matches = Object.keys(longs).filter((k) => k.replace(/=$/, '').startsWith(name));
      const exact = matches.find((k) => k.replace(/=$/, '') === name);
      const key = exact ?? (matches.length === 1 ? matches[0] : undefined);
      if (key === undefined) {
        return { error: matches.length > 1 ? `option '${a}' is ambiguous` : `unrecognized option '${a}'` };
      }
      const letter = longs[key]!;
      if (key.endsWith('=')) {
        const val = eq >= 0 ? a.slice(eq + 1) : argv[++i];
        if (val === undefined) return { error: `option '--${key.slice(0, -1)}' requires an argument` };
        opts.push([letter, val]);
      } else {
        if (eq >= 0) return { error: `option '--${key}' doesn't allow an argument` };
        opts.push([letter, undefined]);
      }
      continue;
    }
    if (a.length < 2 || a[0] !== '-' || (negativeNumbersAreOperands && /^-\d/.test(a))) {
      operands.push(a);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      const t = takesArg(c);
      if (t === undefined) return { error: `invalid option -- '${c}'` };
      if (!t) {
        opts.push([c, undefined]);
        continue;
      }
      const val = j + 1 < a.length ? a.slice(j + 1) : argv[++i];
      if (val === undefined) return { error: `option requires an argument -- '${c}'` };
      opts.push([c, val]);
      break;
    }
  }
  return { opts, operands };
}

const SHELL_SAFE = /^[A-Za-z0-9_./:,+@%=-]+$/;

/** GNU `quote()` (shell-escape-always style): 'name', or "name" when it holds a quote. */
export function quote(s: string): string {
  if (!s.includes("'")) return `'${s}'`;
  if (!/["$`\\]/.test(s)) return `"${s}"`;
  return `'${s.replace(/'/g, "'\\''")}'`;
}

/** GNU `quotef()` (shell-escape style): quoted only when the name needs it. */
export function quotef(s: string): string {
  return SHELL_SAFE.test(s) ? s : quote(s);
}

/** Run `fn`; an Errno it throws is returned instead. */
export function attempt<T>(fn: () => T): T | Errno {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Errno) return e;
    throw e;
  }
}

/** Read a whole file as text (procfs files included). */
export function readFile(sys: Syscalls, path: string): string {
  const fd = sys.open(path, O_RDONLY);
  try {
    return readAll(sys, fd);
  } finally {
    sys.close(fd);
  }
}

/** `a/b` without doubling the slash. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** The last component, as basename(3) without suffix stripping. */
export function baseName(p: string): string {
  const t = p.replace(/\/+$/, '');
  if (t === '') return p.startsWith('/') ? '/' : '';
  return t.slice(t.lastIndexOf('/') + 1);
}

/** ls-style mode string: `drwxr-xr-x`. */
export function modeString(mode: number): string {
  const type: Record<number, string> = {
    [S_IFREG]: '-', [S_IFDIR]: 'd', [S_IFCHR]: 'c', [S_IFBLK]: 'b', [S_IFLNK]: 'l', [S_IFIFO]: 'p', [S_IFSOCK]: 's',
  };
  const bit = (m: number, c: string): string => ((mode & m) !== 0 ? c : '-');
  const x = (exec: number, special: number, set: string, unset: string): string => {
    const e = (mode & exec) !== 0;
    if ((mode & special) === 0) return e ? 'x' : '-';
    return e ? set : unset;
  };
  return (
    (type[mode & S_IFMT] ?? '?') +
    bit(0o400, 'r') + bit(0o200, 'w') + x(0o100, 0o4000, 's', 'S') +
    bit(0o40, 'r') + bit(0o20, 'w') + x(0o10, 0o2000, 's', 'S') +
    bit(0o4, 'r') + bit(0o2, 'w') + x(0o1, 0o1000, 't', 'T')
  );
}

/** Linux's dev_t split (new_decode_dev): major and minor numbers. */
export function devMajor(dev: number): number {
  return Math.floor(dev / 256) % 4096;
}

/** Minor number of a dev_t. */
export function devMinor(dev: number): number {
  const hi = Math.floor(dev / 4096) % 1048576;
  return (dev % 256) + hi - (hi % 256);
}

/** The owner name ls and stat print: root for 0, else the number (the model has no passwd). */
export function userName(uid: number): string {
  return uid === 0 ? 'root' : String(uid);
}

/**
 * gnulib human_readable with autoscale, ceiling rounding and powers of 1024, as
 * `ls -h` prints sizes: 512, 4.0K, 12K, 1.5M.
 */
export function humanCeil(n: number): string {
  const units = 'KMGTPEZY';
  if (n < 1024) return String(n);
  let v = n;
  let e = 0;
  while (v >= 1024 && e < units.length) {
    v /= 1024;
    e++;
  }
  if (v < 10) {
    const x = Math.ceil(v * 10) / 10;
    if (x < 10) return `${x.toFixed(1)}${units[e - 1]}`;
    return `10${units[e - 1]}`;
  }
  const x = Math.ceil(v);
  if (x >= 1024 && e < units.length) return `1.0${units[e]}`;
  return `${x}${units[e - 1]}`;
}

/**
 * df(1), after coreutils src/df.c: mounts from /proc/mounts, usage from
 * statfs, GNU's column widths (minimums 14/5/5/5/4, grown to fit), values
 * rounded up, Use% rounded up; pseudo file systems with 0 blocks and
 * duplicate devices are skipped unless named or -a is given.
 */
import { Errno } from '../../lib/errno.ts';
import type { Statfs } from '../../uapi/fcntl.ts';
import type { Program } from '../program.ts';
import { attempt, getopt, humanCeil, out, quote, quotef, usage, warn } from './common.ts';
import { readMounts, type MountEntry } from './mount.ts';

/** Parse -B's SIZE: value and whether its suffix asked for powers of 1024. */
export function parseBlockSize(spec: string): { size: number; base1024: boolean } | undefined {
  const m = /^(\d*)([KMGTPEZY])?(iB|B)?$/i.exec(spec);
  if (!m || (!m[1] && !m[2])) return undefined;
  const n = m[1] ? Number(m[1]) : 1;
  if (!m[2]) return n > 0 ? { size: n, base1024: false } : undefined;
  const power = 'KMGTPEZY'.indexOf(m[2].toUpperCase()) + 1;
  const base = m[3] === 'B' ? 1000 : 1024;
  return { size: n * base ** power, base1024: base === 1024 };
}

/** The size column's header: `1K-blocks`, `1M-blocks`, `1B-blocks`, `1kB-blocks`. */
export function blocksHeader(bs: number, base1024Hint: boolean): string {
  let q1000 = bs;
  let q1024 = bs;
  let d1000: boolean;
  let d1024: boolean;
  do {
    d1000 = q1000 % 1000 === 0;
    q1000 = Math.floor(q1000 / 1000);
    d1024 = q1024 % 1024 === 0;
    q1024 = Math.floor(q1024 / 1024);
  } while (d1000 && d1024);
  const base1024 = d1024 && !d1000 ? true : d1000 && !d1024 ? false : base1024Hint;
  const base = base1024 ? 1024 : 1000;
  let v = bs;
  let e = 0;
  while (v >= base && v % base === 0 && e < 8) {
    v /= base;
    e++;
  }
  const unit = e === 0 ? '' : base1024 ? 'KMGTPEZY'[e - 1]! : 'kMGTPEZY'[e - 1]!;
  return `${v}${unit}${base1024 ? '' : 'B'}-blocks`;
}

/** df [-h] [-k] [-a] [-T] [-B SIZE] [FILE...] */
export const df: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'aB:hkTm', { all: 'a', 'block-size=': 'B', 'human-readable': 'h', 'print-type': 'T' });
  if ('error' in p) return usage(sys, 'df', p.error);
  let bs = 1024;
  let base1024 = false;
  let human = false;
  let all = false;
  let showType = false;
  for (const [c, v] of p.opts) {
    if (c === 'a') all = true;
    else if (c === 'T') showType = true;
    else if (c === 'h') human = true;
    else if (c === 'k') bs = 1024;
    else if (c === 'm') bs = 1024 * 1024;
    else if (c === 'B') {
      const b = parseBlockSize(v!);
      if (!b) {
        warn(sys, 'df', `invalid --block-size argument ${quote(v!)}`);
        return 1;
      }
      ({ size: bs, base1024 } = b);
      human = false;
    }
  }
  let status = 0;
  const mounts = readMounts(sys);
  const rows: { m: MountEntry; fs: Statfs }[] = [];
  if (p.operands.length === 0) {
    const seen = new Map<number, number>();
    for (const m of mounts) {
      const fs = attempt(() => sys.statfs(m.target));
      if (fs instanceof Errno) continue;
      if (!all && fs.blocks === 0) continue;
      const st = attempt(() => sys.stat(m.target));
      if (!all && !(st instanceof Errno)) {
        const prev = seen.get(st.dev);
        if (prev !== undefined) {
          // GNU keeps the entry nearer the root (or overmounting the same directory).
          const old = rows[prev]!.m;
          if (m.target.length < old.target.length || m.target === old.target) rows[prev] = { m, fs };
          continue;
        }
        seen.set(st.dev, rows.length);
      }
      rows.push({ m, fs });
    }
  } else {
    const cwd = sys.getcwd();
    for (const f of p.operands) {
      const st = attempt(() => sys.stat(f));
      if (st instanceof Errno) {
        warn(sys, 'df', `${quotef(f)}: ${st.strerror}`);
        status = 1;
        continue;
      }
      const abs = normalize(f.startsWith('/') ? f : `${cwd}/${f}`);
      const m = bestMount(mounts, abs);
      const fs = m && attempt(() => sys.statfs(f));
      if (!m || !fs || fs instanceof Errno) {
        warn(sys, 'df', `${quotef(f)}: ${fs instanceof Errno ? fs.strerror : 'No such file or directory'}`);
        status = 1;
        continue;
      }
      rows.push({ m, fs });
    }
    if (rows.length === 0) return status;
  }
  const table = [['Filesystem', ...(showType ? ['Type'] : []), human ? 'Size' : blocksHeader(bs, base1024), 'Used', human ? 'Avail' : 'Available', 'Use%', 'Mounted on']];
  for (const { m, fs } of rows) {
    const unit = fs.frsize || fs.bsize;
    const used = fs.blocks - fs.bfree;
    const show = (n: number): string => (human ? humanCeil(n * unit) : String(Math.ceil((n * unit) / bs)));
    const pct = used + fs.bavail === 0 ? '-' : `${Math.ceil((used * 100) / (used + fs.bavail))}%`;
    table.push([m.source, ...(showType ? [m.fstype] : []), show(fs.blocks), show(used), show(fs.bavail), pct, m.target]);
  }
  const mins = [14, ...(showType ? [4] : []), 5, 5, 5, 4, 0];
  const left = new Set([0, ...(showType ? [1] : [])]);
  const widths = mins.map((min, c) => Math.max(min, ...table.map((r) => r[c]!.length)));
  for (const r of table) {
    const cells = r.map((cell, c) => (c === r.length - 1 ? cell : left.has(c) ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)));
    out(sys, cells.join(' ') + '\n');
  }
  return status;
};

function normalize(path: string): string {
  const parts: string[] = [];
  for (const c of path.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') parts.pop();
    else parts.push(c);
  }
  return '/' + parts.join('/');
}

/** The mount whose directory is the longest prefix of `abs` (the last one wins on ties, as overmounts). */
function bestMount(mounts: MountEntry[], abs: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    const t = m.target;
    if (t === '/' || abs === t || abs.startsWith(t + '/')) {
      if (!best || t.length >= best.target.length) best = m;
    }
  }
  return best;
}

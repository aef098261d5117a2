/**
 * truncate(1), after coreutils src/truncate.c: -s [+-<>/%]SIZE with coreutils
 * size suffixes, -c (do not create). Messages are GNU's, including
 * "failed to truncate 'F' at N bytes: STRERROR".
 */
import { Errno } from '../../lib/errno.ts';
import { parseSize } from '../../lib/size.ts';
import { O_CREAT, O_NONBLOCK, O_WRONLY } from '../../uapi/fcntl.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import type { Program } from '../program.ts';
import { attempt, getopt, quote, usage, warn } from './common.ts';

type Rel = 'abs' | 'rel' | 'max' | 'min' | 'rdn' | 'rup';

/** Parse truncate's SIZE argument; undefined when invalid. */
export function parseTruncateSize(arg: string): { rel: Rel; size: number } | undefined {
  let s = arg.trim();
  let rel: Rel = 'abs';
  const mod: Record<string, Rel> = { '<': 'max', '>': 'min', '/': 'rdn', '%': 'rup' };
  if (s[0]! in mod) {
    rel = mod[s[0]!]!;
    s = s.slice(1).trim();
  }
  let sign = 1;
  if (s[0] === '+' || s[0] === '-') {
    if (rel !== 'abs') return undefined;
    rel = 'rel';
    sign = s[0] === '-' ? -1 : 1;
    s = s.slice(1);
  }
  const n = parseSize(s);
  return n === undefined ? undefined : { rel, size: sign * n };
}

/** truncate [-c] -s SIZE FILE... */
export const truncate: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'cs:', { 'no-create': 'c', 'size=': 's' }, true);
  if ('error' in p) return usage(sys, 'truncate', p.error);
  let noCreate = false;
  let spec: { rel: Rel; size: number } | undefined;
  for (const [c, v] of p.opts) {
    if (c === 'c') noCreate = true;
    else {
      spec = parseTruncateSize(v!);
      if (!spec) {
        warn(sys, 'truncate', /^\s*[<>/%]\s*[+-]/.test(v!) ? 'multiple relative modifiers specified' : `Invalid number: ${quote(v!)}`);
        return 1;
      }
      if ((spec.rel === 'rdn' || spec.rel === 'rup') && spec.size === 0) {
        warn(sys, 'truncate', 'division by zero');
        return 1;
      }
    }
  }
  if (!spec) return usage(sys, 'truncate', "you must specify either '--size' or '--reference'");
  if (p.operands.length === 0) return usage(sys, 'truncate', 'missing file operand');
  let ok = true;
  for (const f of p.operands) {
    const fd = attempt(() => sys.open(f, O_WRONLY | O_NONBLOCK | (noCreate ? 0 : O_CREAT), 0o666));
    if (fd instanceof Errno) {
      if (!(noCreate && fd.code === 'ENOENT')) {
        warn(sys, 'truncate', `cannot open ${quote(f)} for writing: ${fd.strerror}`);
        ok = false;
      }
      continue;
    }
    ok = truncateFd(sys, fd, f, spec) && ok;
    sys.close(fd);
  }
  return ok ? 0 : 1;
};

function truncateFd(sys: Syscalls, fd: number, name: string, spec: { rel: Rel; size: number }): boolean {
  let nsize = spec.size;
  if (spec.rel !== 'abs') {
    const st = attempt(() => sys.fstat(fd));
    if (st instanceof Errno) {
      warn(sys, 'truncate', `cannot fstat ${quote(name)}: ${st.strerror}`);
      return false;
    }
    const fsize = st.size;
    const s = spec.size;
    if (spec.rel === 'min') nsize = Math.max(fsize, s);
    else if (spec.rel === 'max') nsize = Math.min(fsize, s);
    else if (spec.rel === 'rdn') nsize = fsize - (fsize % s);
    else if (spec.rel === 'rup') nsize = fsize % s === 0 ? fsize : fsize + s - (fsize % s);
    else nsize = fsize + s;
  }
  if (nsize < 0) nsize = 0;
  const r = attempt(() => sys.ftruncate(fd, nsize));
  if (r instanceof Errno) {
    warn(sys, 'truncate', `failed to truncate ${quote(name)} at ${nsize} bytes: ${r.strerror}`);
    return false;
  }
  return true;
}

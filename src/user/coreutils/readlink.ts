/**
 * readlink [-f] [-n] FILE... (GNU coreutils src/readlink.c; -f is
 * canonicalize_filename_mode with CAN_ALL_BUT_LAST: every component but the
 * last must exist, symlinks are followed, "." and ".." folded). Like GNU
 * without -v, a failure prints nothing and makes the status 1.
 */
import { Errno } from '../../lib/errno.ts';
import { S_IFDIR, S_IFLNK, S_IFMT } from '../../uapi/fcntl.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import type { Program } from '../program.ts';
import { attempt, getopt, out, usage } from './common.ts';

/** MAXSYMLINKS: symlinks followed before ELOOP. */
const MAXSYMLINKS = 40;

/** canonicalize_filename_mode(name, CAN_ALL_BUT_LAST): the absolute name with no symlink, ".", ".." or "//". */
export function canonicalize(sys: Syscalls, name: string): string {
  if (name === '') throw new Errno('ENOENT');
  let comps = (name.startsWith('/') ? name : `${sys.getcwd()}/${name}`).split('/');
  const resolved: string[] = [];
  let links = 0;
  while (comps.length) {
    const c = comps.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      resolved.pop();
      continue;
    }
    const path = `/${[...resolved, c].join('/')}`;
    const last = comps.every((x) => x === '' || x === '.');
    let mode: number;
    try {
      mode = sys.lstat(path).mode & S_IFMT;
    } catch (e) {
      if (e instanceof Errno && e.code === 'ENOENT' && last) {
        resolved.push(c);
        continue;
      }
      throw e;
    }
    if (mode === S_IFLNK) {
      if (++links > MAXSYMLINKS) throw new Errno('ELOOP');
      const target = sys.readlink(path);
      if (target.startsWith('/')) resolved.length = 0;
      comps = [...target.split('/'), ...comps];
      continue;
    }
    if (!last && mode !== S_IFDIR) throw new Errno('ENOTDIR');
    resolved.push(c);
  }
  return `/${resolved.join('/')}`;
}

/** readlink(1). */
export const readlink: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'fn', { canonicalize: 'f', 'no-newline': 'n' });
  if ('error' in p) return usage(sys, 'readlink', p.error);
  if (!p.operands.length) return usage(sys, 'readlink', 'missing operand');
  const canon = p.opts.some(([c]) => c === 'f');
  const nl = p.opts.some(([c]) => c === 'n') && p.operands.length === 1 ? '' : '\n';
  let status = 0;
  for (const name of p.operands) {
    const r = attempt(() => (canon ? canonicalize(sys, name) : sys.readlink(name)));
    if (r instanceof Errno) status = 1;
    else out(sys, `${r}${nl}`);
  }
  return status;
};

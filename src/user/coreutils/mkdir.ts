/** mkdir(1): mkdir [-p] [-v] [-m MODE] DIR... */
import { Errno } from '../../lib/errno.ts';
import { S_ISDIR } from '../../uapi/fcntl.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import type { Program } from '../program.ts';
import { attempt, getopt, out, quote, usage, warn } from './common.ts';

/** mkdir [-p] [-v] [-m MODE] DIR... */
export const mkdir: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'pvm:', { parents: 'p', verbose: 'v', 'mode=': 'm' });
  if ('error' in p) return usage(sys, 'mkdir', p.error);
  let parents = false;
  let verbose = false;
  let mode = 0o777;
  for (const [o, v] of p.opts) {
    if (o === 'p') parents = true;
    else if (o === 'v') verbose = true;
    else if (o === 'm') {
      if (!/^[0-7]{1,4}$/.test(v!)) {
        warn(sys, 'mkdir', `invalid mode ${quote(v!)}`);
        return 1;
      }
      mode = parseInt(v!, 8);
    }
  }
  if (p.operands.length === 0) return usage(sys, 'mkdir', 'missing operand');
  let status = 0;
  for (const dir of p.operands) {
    const err = parents ? mkdirParents(sys, dir, mode, verbose) : mkdirOne(sys, dir, mode, verbose);
    if (err) {
      warn(sys, 'mkdir', `cannot create directory ${quote(err.path)}: ${err.e.strerror}`);
      status = 1;
    }
  }
  return status;
};

function mkdirOne(sys: Syscalls, dir: string, mode: number, verbose: boolean): { path: string; e: Errno } | undefined {
  const r = attempt(() => sys.mkdir(dir, mode));
  if (r instanceof Errno) return { path: dir, e: r };
  if (verbose) out(sys, `mkdir: created directory ${quote(dir)}\n`);
  return undefined;
}

/** -p: create each missing ancestor; an existing directory is not an error. */
function mkdirParents(sys: Syscalls, dir: string, mode: number, verbose: boolean): { path: string; e: Errno } | undefined {
  const parts = dir.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    if (prefix === '' || prefix.endsWith('/') || parts[i - 1] === '' || parts[i - 1] === '.') continue;
    const r = attempt(() => sys.mkdir(prefix, i === parts.length ? mode : 0o777));
    if (!(r instanceof Errno)) {
      if (verbose) out(sys, `mkdir: created directory ${quote(prefix)}\n`);
      continue;
    }
    if (r.code !== 'EEXIST') return { path: prefix, e: r };
    const st = attempt(() => sys.stat(prefix));
    if (st instanceof Errno || !S_ISDIR(st.mode)) return { path: prefix, e: i === parts.length ? r : new Errno('ENOTDIR') };
  }
  return undefined;
}

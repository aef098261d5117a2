/** rm(1): remove files, and with -r whole trees. */
import { Errno } from '../../lib/errno.ts';
import { O_DIRECTORY, O_RDONLY, S_ISDIR } from '../../uapi/fcntl.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import type { Program } from '../program.ts';
import { attempt, baseName, getopt, joinPath, out, quote, usage, warn } from './common.ts';

interface RmOpts {
  force: boolean;
  recursive: boolean;
  dirs: boolean;
  verbose: boolean;
}

/** rm [-f] [-r|-R] [-d] [-v] FILE... */
export const rm: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'frRdvi', { force: 'f', recursive: 'r', dir: 'd', verbose: 'v' });
  if ('error' in p) return usage(sys, 'rm', p.error);
  const o: RmOpts = { force: false, recursive: false, dirs: false, verbose: false };
  for (const [c] of p.opts) {
    if (c === 'f') o.force = true;
    else if (c === 'r' || c === 'R') o.recursive = true;
    else if (c === 'd') o.dirs = true;
    else if (c === 'v') o.verbose = true;
  }
  if (p.operands.length === 0) return o.force ? 0 : usage(sys, 'rm', 'missing operand');
  let ok = true;
  for (const f of p.operands) {
    const base = baseName(f);
    if (base === '.' || base === '..') {
      warn(sys, 'rm', `refusing to remove '.' or '..' directory: skipping ${quote(f)}`);
      ok = false;
      continue;
    }
    if (o.recursive && /^\/+$/.test(f)) {
      warn(sys, 'rm', `it is dangerous to operate recursively on ${quote('/')}`);
      warn(sys, 'rm', 'use --no-preserve-root to override this failsafe');
      ok = false;
      continue;
    }
    ok = remove(sys, f, o) && ok;
  }
  return ok ? 0 : 1;
};

function remove(sys: Syscalls, path: string, o: RmOpts): boolean {
  const st = attempt(() => sys.lstat(path));
  if (st instanceof Errno) {
    if (o.force && st.code === 'ENOENT') return true;
    warn(sys, 'rm', `cannot remove ${quote(path)}: ${st.strerror}`);
    return false;
  }
  if (!S_ISDIR(st.mode)) return report(sys, path, o, () => sys.unlink(path), 'removed');
  if (!o.recursive) {
    if (o.dirs) return report(sys, path, o, () => sys.rmdir(path), 'removed directory');
    warn(sys, 'rm', `cannot remove ${quote(path)}: Is a directory`);
    return false;
  }
  const names = attempt(() => listDir(sys, path));
  if (names instanceof Errno) {
    warn(sys, 'rm', `cannot remove ${quote(path)}: ${names.strerror}`);
    return false;
  }
  let ok = true;
  for (const n of names) ok = remove(sys, joinPath(path, n), o) && ok;
  return ok && report(sys, path, o, () => sys.rmdir(path), 'removed directory');
}

function report(sys: Syscalls, path: string, o: RmOpts, op: () => void, what: string): boolean {
  const r = attempt(op);
  if (r instanceof Errno) {
    warn(sys, 'rm', `cannot remove ${quote(path)}: ${r.strerror}`);
    return false;
  }
  if (o.verbose) out(sys, `${what} ${quote(path)}\n`);
  return true;
}

/** A directory's entry names without `.` and `..`. */
export function listDir(sys: Syscalls, path: string): string[] {
  const fd = sys.open(path, O_RDONLY | O_DIRECTORY);
  const names: string[] = [];
  try {
    for (let batch = sys.getdents(fd); batch.length; batch = sys.getdents(fd)) {
      for (const d of batch) if (d.name !== '.' && d.name !== '..') names.push(d.name);
    }
  } finally {
    sys.close(fd);
  }
  return names;
}

/**
 * mv(1): rename(2), falling back to copy-and-unlink for regular files across
 * file systems (EXDEV), as GNU mv does.
 */
import { Errno } from '../../lib/errno.ts';
import { O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, S_ISDIR, S_ISREG } from '../../uapi/fcntl.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import type { Program } from '../program.ts';
import { attempt, baseName, getopt, joinPath, out, quote, usage, warn } from './common.ts';

/** mv [-f] [-v] SOURCE... DEST */
export const mv: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'fiv', { force: 'f', verbose: 'v' });
  if ('error' in p) return usage(sys, 'mv', p.error);
  const verbose = p.opts.some(([c]) => c === 'v');
  const ops = p.operands;
  if (ops.length === 0) return usage(sys, 'mv', 'missing file operand');
  if (ops.length === 1) return usage(sys, 'mv', `missing destination file operand after ${quote(ops[0]!)}`);
  const dest = ops[ops.length - 1]!;
  const dst = attempt(() => sys.stat(dest));
  const destIsDir = !(dst instanceof Errno) && S_ISDIR(dst.mode);
  if (ops.length > 2 && !destIsDir) {
    warn(sys, 'mv', `target ${quote(dest)} is not a directory`);
    return 1;
  }
  let status = 0;
  for (const src of ops.slice(0, -1)) {
    const target = destIsDir ? joinPath(dest, baseName(src)) : dest;
    const st = attempt(() => sys.lstat(src));
    if (st instanceof Errno) {
      warn(sys, 'mv', `cannot stat ${quote(src)}: ${st.strerror}`);
      status = 1;
      continue;
    }
    let r = attempt(() => sys.rename(src, target));
    if (r instanceof Errno && r.code === 'EXDEV' && S_ISREG(st.mode)) r = attempt(() => copyAndUnlink(sys, src, target));
    if (r instanceof Errno) {
      warn(sys, 'mv', `cannot move ${quote(src)} to ${quote(target)}: ${r.strerror}`);
      status = 1;
    } else if (verbose) out(sys, `renamed ${quote(src)} -> ${quote(target)}\n`);
  }
  return status;
};

function copyAndUnlink(sys: Syscalls, src: string, dst: string): void {
  const from = sys.open(src, O_RDONLY);
  try {
    const to = sys.open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0o666);
    try {
      for (let chunk = sys.read(from, 1 << 20); chunk.length; chunk = sys.read(from, 1 << 20)) sys.write(to, chunk);
    } finally {
      sys.close(to);
    }
  } finally {
    sys.close(from);
  }
  sys.unlink(src);
}

/** rmdir(1): remove empty directories. */
import { Errno } from '../../lib/errno.ts';
import type { Program } from '../program.ts';
import { attempt, getopt, out, quote, usage, warn } from './common.ts';

/** rmdir [-v] DIR... */
export const rmdir: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'v', { verbose: 'v' });
  if ('error' in p) return usage(sys, 'rmdir', p.error);
  if (p.operands.length === 0) return usage(sys, 'rmdir', 'missing operand');
  let status = 0;
  for (const d of p.operands) {
    const r = attempt(() => sys.rmdir(d));
    if (r instanceof Errno) {
      warn(sys, 'rmdir', `failed to remove ${quote(d)}: ${r.strerror}`);
      status = 1;
    } else if (p.opts.length) out(sys, `rmdir: removing directory, ${quote(d)}\n`);
  }
  return status;
};

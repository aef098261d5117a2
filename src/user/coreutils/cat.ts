/** cat(1): concatenate files (or stdin, `-`) to stdout. */
import { Errno } from '../../lib/errno.ts';
import { O_RDONLY } from '../../uapi/fcntl.ts';
import type { Program } from '../program.ts';
import { getopt, quotef, usage, warn } from './common.ts';

/** cat [-u] [FILE...]. */
export const cat: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'u');
  if ('error' in p) return usage(sys, 'cat', p.error);
  const files = p.operands.length ? p.operands : ['-'];
  let status = 0;
  for (const f of files) {
    let fd = 0;
    try {
      if (f !== '-') fd = sys.open(f, O_RDONLY);
      for (;;) {
        const chunk = sys.read(fd, 65536);
        if (chunk.length === 0) break;
        sys.write(1, chunk);
      }
    } catch (e) {
      if (!(e instanceof Errno)) throw e;
      warn(sys, 'cat', `${quotef(f)}: ${e.strerror}`);
      status = 1;
    } finally {
      if (fd !== 0) sys.close(fd);
    }
  }
  return status;
};

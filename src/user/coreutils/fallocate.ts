/**
 * fallocate(1), after util-linux sys-utils/fallocate.c: -o OFFSET, -l LENGTH
 * (util-linux size suffixes), -n/--keep-size, -p/--punch-hole (implies
 * keep-size), -z/--zero-range, -c/--collapse-range, -i/--insert-range, -x.
 */
import { Errno } from '../../lib/errno.ts';
import { parseSize } from '../../lib/size.ts';
import {
  FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE,
  O_CREAT, O_RDWR,
} from '../../uapi/fcntl.ts';
import type { Program } from '../program.ts';
import { getopt, usage, warn } from './common.ts';

/** util-linux strtosize: a number with optional K/KiB/KB... suffix. */
function sizeArg(s: string): number | undefined {
  return parseSize(s.replace(/^(\d+)([KMGTPE])i?B?$/i, (_m, n: string, u: string) => `${n}${u.toUpperCase()}`)) ?? parseSize(s);
}

/** fallocate [-n] [-p|-z|-c|-i] [-x] [-o OFFSET] -l LENGTH FILE */
export const fallocate: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'cdil:no:pzxv', {
    'collapse-range': 'c', 'dig-holes': 'd', 'insert-range': 'i', 'length=': 'l', 'keep-size': 'n',
    'offset=': 'o', 'punch-hole': 'p', 'zero-range': 'z', posix: 'x', verbose: 'v',
  });
  if ('error' in p) return usage(sys, 'fallocate', p.error);
  let mode = 0;
  let length: number | undefined;
  let offset = 0;
  for (const [c, v] of p.opts) {
    if (c === 'n') mode |= FALLOC_FL_KEEP_SIZE;
    else if (c === 'p') mode |= FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    else if (c === 'z') mode |= FALLOC_FL_ZERO_RANGE;
    else if (c === 'c') mode |= FALLOC_FL_COLLAPSE_RANGE;
    else if (c === 'i') mode |= FALLOC_FL_INSERT_RANGE;
    else if (c === 'd') {
      warn(sys, 'fallocate', '--dig-holes is not supported');
      return 1;
    } else if (c === 'l') {
      length = sizeArg(v!);
      if (length === undefined) {
        warn(sys, 'fallocate', `invalid length value specified: '${v}'`);
        return 1;
      }
    } else if (c === 'o') {
      const o = sizeArg(v!);
      if (o === undefined) {
        warn(sys, 'fallocate', `invalid offset value specified: '${v}'`);
        return 1;
      }
      offset = o;
    }
  }
  if (length === undefined) {
    warn(sys, 'fallocate', 'no length argument specified');
    return 1;
  }
  if (p.operands.length === 0) return usage(sys, 'fallocate', 'no filename specified');
  if (p.operands.length > 1) return usage(sys, 'fallocate', 'unexpected number of arguments');
  if (length <= 0) {
    warn(sys, 'fallocate', 'invalid length value specified');
    return 1;
  }
  const file = p.operands[0]!;
  // O_CREAT only makes sense when new space is allocated (mode 0 or keep-size).
  const create = (mode & ~FALLOC_FL_KEEP_SIZE) === 0 ? O_CREAT : 0;
  let fd: number;
  try {
    fd = sys.open(file, O_RDWR | create, 0o644);
  } catch (e) {
    if (!(e instanceof Errno)) throw e;
    warn(sys, 'fallocate', `cannot open ${file}: ${e.strerror}`);
    return 1;
  }
  try {
    sys.fallocate(fd, mode, offset, length);
  } catch (e) {
    if (!(e instanceof Errno)) throw e;
    const keepSize = (mode & FALLOC_FL_KEEP_SIZE) !== 0 && e.code === 'EOPNOTSUPP';
    warn(sys, 'fallocate', keepSize ? 'fallocate failed: keep size mode is unsupported' : `fallocate failed: ${e.strerror}`);
    return 1;
  } finally {
    sys.close(fd);
  }
  return 0;
};

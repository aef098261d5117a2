/** wc(1) with GNU's column widths (coreutils src/wc.c compute_number_width). */
import { Errno } from '../../lib/errno.ts';
import { O_RDONLY, S_ISREG } from '../../uapi/fcntl.ts';
import type { Program } from '../program.ts';
import { attempt, getopt, out, quotef, usage, warn } from './common.ts';

interface Counts {
  lines: number;
  words: number;
  chars: number;
  bytes: number;
}

/** wc [-l] [-w] [-m] [-c] [FILE...] */
export const wc: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'lwmc', { lines: 'l', words: 'w', chars: 'm', bytes: 'c' });
  if ('error' in p) return usage(sys, 'wc', p.error);
  const want = new Set(p.opts.map(([c]) => c));
  if (want.size === 0) ['l', 'w', 'c'].forEach((c) => want.add(c));
  const files = p.operands.length ? p.operands : ['-'];
  // Width: 1 when one count of one input; else digits of the regular files' total size (7 minimum with non-regular input).
  let width = 1;
  if (!(files.length === 1 && want.size === 1)) {
    let min = 1;
    let regular = 0;
    for (const f of files) {
      const st = attempt(() => (f === '-' ? sys.fstat(0) : sys.stat(f)));
      if (st instanceof Errno) continue;
      if (S_ISREG(st.mode)) regular += st.size;
      else min = 7;
    }
    width = Math.max(min, String(regular).length);
  }
  const total: Counts = { lines: 0, words: 0, chars: 0, bytes: 0 };
  let status = 0;
  const print = (c: Counts, name: string | undefined): void => {
    const cols: number[] = [];
    if (want.has('l')) cols.push(c.lines);
    if (want.has('w')) cols.push(c.words);
    if (want.has('m')) cols.push(c.chars);
    if (want.has('c')) cols.push(c.bytes);
    out(sys, cols.map((n) => String(n).padStart(width)).join(' ') + (name === undefined ? '' : ` ${name}`) + '\n');
  };
  for (const f of files) {
    const c = attempt(() => count(sys, f));
    if (c instanceof Errno) {
      warn(sys, 'wc', `${quotef(f)}: ${c.strerror}`);
      status = 1;
      continue;
    }
    for (const k of ['lines', 'words', 'chars', 'bytes'] as const) total[k] += c[k];
    print(c, f === '-' && p.operands.length === 0 ? undefined : f);
  }
  if (files.length > 1) print(total, 'total');
  return status;
};

function count(sys: Parameters<Program>[0]['sys'], f: string): Counts {
  const fd = f === '-' ? 0 : sys.open(f, O_RDONLY);
  const c: Counts = { lines: 0, words: 0, chars: 0, bytes: 0 };
  let inWord = false;
  const dec = new TextDecoder();
  try {
    for (let chunk = sys.read(fd, 65536); chunk.length; chunk = sys.read(fd, 65536)) {
      c.bytes += chunk.length;
      const text = dec.decode(chunk, { stream: true });
      for (const ch of text) {
        c.chars++;
        if (ch === '\n') c.lines++;
        const space = /\s/.test(ch);
        if (!space && !inWord) c.words++;
        inWord = !space;
      }
    }
  } finally {
    if (fd !== 0) sys.close(fd);
  }
  return c;
}

/**
 * grep(1), GNU behaviour for the common options: -E/-F/-G, -i, -v, -c, -o,
 * -q, -n, -l, -h/-H, -w, -x, -s, -e PATTERN. Exit 0 if a line matched, 1 if
 * none, 2 on error. Patterns go through regex.ts to JavaScript's engine.
 */
import { Errno } from '../../lib/errno.ts';
import { O_RDONLY } from '../../uapi/fcntl.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import type { Program } from '../program.ts';
import { readAll } from '../program.ts';
import { getopt, out, usage, warn } from './common.ts';
import { breToJs, ereToJs, fixedToJs } from './regex.ts';

interface GrepOpts {
  invert: boolean;
  count: boolean;
  only: boolean;
  quiet: boolean;
  number: boolean;
  list: boolean;
  names: boolean | undefined;
  silent: boolean;
}

/** grep [OPTION]... PATTERNS [FILE]... */
export const grep: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'EFGivcoqnlhHwxse:', {
    'extended-regexp': 'E', 'fixed-strings': 'F', 'basic-regexp': 'G', 'ignore-case': 'i', 'invert-match': 'v',
    count: 'c', 'only-matching': 'o', quiet: 'q', silent: 'q', 'line-number': 'n', 'files-with-matches': 'l',
    'no-filename': 'h', 'with-filename': 'H', 'word-regexp': 'w', 'line-regexp': 'x', 'no-messages': 's', 'regexp=': 'e',
  });
  if ('error' in p) return usage(sys, 'grep', p.error, 2);
  let syntax = 'G';
  let icase = false;
  let word = false;
  let line = false;
  const patterns: string[] = [];
  const o: GrepOpts = { invert: false, count: false, only: false, quiet: false, number: false, list: false, names: undefined, silent: false };
  for (const [c, v] of p.opts) {
    if (c === 'E' || c === 'F' || c === 'G') syntax = c;
    else if (c === 'i') icase = true;
    else if (c === 'v') o.invert = true;
    else if (c === 'c') o.count = true;
    else if (c === 'o') o.only = true;
    else if (c === 'q') o.quiet = true;
    else if (c === 'n') o.number = true;
    else if (c === 'l') o.list = true;
    else if (c === 'h') o.names = false;
    else if (c === 'H') o.names = true;
    else if (c === 'w') word = true;
    else if (c === 'x') line = true;
    else if (c === 's') o.silent = true;
    else if (c === 'e') patterns.push(...v!.split('\n'));
  }
  const operands = [...p.operands];
  if (patterns.length === 0) {
    if (operands.length === 0) return usage(sys, 'grep', '', 2);
    patterns.push(...operands.shift()!.split('\n'));
  }
  let re: RegExp;
  try {
    const toJs = syntax === 'E' ? ereToJs : syntax === 'F' ? fixedToJs : breToJs;
    let src = patterns.map((x) => `(?:${toJs(x)})`).join('|');
    if (word) src = `(?<![A-Za-z0-9_])(?:${src})(?![A-Za-z0-9_])`;
    if (line) src = `^(?:${src})$`;
    re = new RegExp(src, icase ? 'gi' : 'g');
  } catch (e) {
    warn(sys, 'grep', e instanceof Error ? e.message.replace(/^Invalid regular expression: /, '') : String(e));
    return 2;
  }
  const files = operands.length ? operands : ['-'];
  const names = o.names ?? files.length > 1;
  let matched = false;
  let error = false;
  for (const f of files) {
    let text: string;
    try {
      if (f === '-') text = readAll(sys, 0);
      else {
        const fd = sys.open(f, O_RDONLY);
        try {
          text = readAll(sys, fd);
        } finally {
          sys.close(fd);
        }
      }
    } catch (e) {
      if (!(e instanceof Errno)) throw e;
      if (!o.silent) warn(sys, 'grep', `${f}: ${e.strerror}`);
      error = true;
      continue;
    }
    const label = f === '-' ? '(standard input)' : f;
    if (grepText(sys, text, re, o, label, names)) {
      matched = true;
      if (o.quiet) return 0;
    }
  }
  return error && !(o.quiet && matched) ? 2 : matched ? 0 : 1;
};

/** Scan one file's text; returns whether any line was selected. */
function grepText(sys: Syscalls, text: string, re: RegExp, o: GrepOpts, label: string, names: boolean): boolean {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const prefix = names ? `${label}:` : '';
  let count = 0;
  let buf = '';
  lines.forEach((l, i) => {
    re.lastIndex = 0;
    const hit = re.test(l);
    if (hit === o.invert) return;
    count++;
    if (o.quiet || o.list || o.count) return;
    const num = o.number ? `${i + 1}:` : '';
    if (!o.only) {
      buf += `${prefix}${num}${l}\n`;
      return;
    }
    if (o.invert) return;
    re.lastIndex = 0;
    for (const m of l.matchAll(re)) if (m[0]) buf += `${prefix}${num}${m[0]}\n`;
  });
  if (o.quiet) return count > 0;
  if (o.list) {
    if (count > 0) out(sys, `${label}\n`);
  } else if (o.count) out(sys, `${prefix}${count}\n`);
  else out(sys, buf);
  return count > 0;
}

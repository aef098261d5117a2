/** tr(1): translate (-d delete, -s squeeze) characters from stdin; ranges, escapes and [:class:] sets. */
import type { Program } from '../program.ts';
import { readAll } from '../program.ts';
import { out, usage } from './common.ts';

const CLASSES: Record<string, string> = {
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  lower: 'abcdefghijklmnopqrstuvwxyz',
  digit: '0123456789',
  space: ' \t\n\v\f\r',
  blank: ' \t',
};
CLASSES.alpha = CLASSES.upper! + CLASSES.lower!;
CLASSES.alnum = CLASSES.alpha + CLASSES.digit!;

/** Expand a tr SET into its characters. */
export function expandSet(set: string): string[] {
  const chars: string[] = [];
  for (let i = 0; i < set.length; ) {
    const cls = /^\[:([a-z]+):\]/.exec(set.slice(i));
    if (cls && CLASSES[cls[1]!]) {
      chars.push(...CLASSES[cls[1]!]!);
      i += cls[0].length;
      continue;
    }
    let c = set[i]!;
    i++;
    if (c === '\\' && i < set.length) {
      const n = set[i++]!;
      c = ({ n: '\n', t: '\t', r: '\r', '\\': '\\' } as Record<string, string>)[n] ?? n;
    }
    if (set[i] === '-' && i + 1 < set.length) {
      const end = set[i + 1]!;
      for (let x = c.charCodeAt(0); x <= end.charCodeAt(0); x++) chars.push(String.fromCharCode(x));
      i += 2;
    } else chars.push(c);
  }
  return chars;
}

/** tr [-d] [-s] SET1 [SET2] */
export const tr: Program = ({ sys, argv }) => {
  let i = 1;
  let del = false;
  let squeeze = false;
  for (; i < argv.length && /^-[ds]+$/.test(argv[i]!); i++) {
    if (argv[i]!.includes('d')) del = true;
    if (argv[i]!.includes('s')) squeeze = true;
  }
  const sets = argv.slice(i);
  if (sets.length === 0) return usage(sys, 'tr', 'missing operand');
  if (!del && !squeeze && sets.length < 2) return usage(sys, 'tr', `missing operand after '${sets[0]}'`);
  const s1 = expandSet(sets[0]!);
  const s2 = sets[1] === undefined ? [] : expandSet(sets[1]);
  const input = readAll(sys, 0);
  let result = '';
  const squeezeSet = new Set(del || s2.length === 0 ? s1 : s2);
  for (const ch of input) {
    let c: string | undefined = ch;
    const idx = s1.indexOf(ch);
    if (del) {
      if (idx >= 0) continue;
    } else if (idx >= 0 && s2.length) c = s2[Math.min(idx, s2.length - 1)];
    if (squeeze && squeezeSet.has(c!) && result.endsWith(c!)) continue;
    result += c;
  }
  out(sys, result);
  return 0;
};

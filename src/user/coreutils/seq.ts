/** seq(1): seq [-s SEP] [-w] [FIRST [INCREMENT]] LAST, printing with the arguments' largest precision. */
import type { Program } from '../program.ts';
import { getopt, out, quote, usage, warn } from './common.ts';

/** seq [-s SEP] [-w] [FIRST [INCR]] LAST */
export const seq: Program = ({ sys, argv }) => {
  const p = getopt(argv, 's:w', { 'separator=': 's', 'equal-width': 'w' }, true);
  if ('error' in p) return usage(sys, 'seq', p.error);
  let sep = '\n';
  let equal = false;
  for (const [c, v] of p.opts) {
    if (c === 's') sep = v!;
    else equal = true;
  }
  const a = p.operands;
  if (a.length === 0) return usage(sys, 'seq', 'missing operand');
  if (a.length > 3) return usage(sys, 'seq', `extra operand ${quote(a[3]!)}`);
  for (const x of a) {
    if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(x)) return usage(sys, 'seq', `invalid floating point argument: ${quote(x)}`);
  }
  const nums = a.map(Number);
  const [first, incr, last] = a.length === 1 ? [1, 1, nums[0]!] : a.length === 2 ? [nums[0]!, 1, nums[1]!] : [nums[0]!, nums[1]!, nums[2]!];
  if (incr === 0) {
    warn(sys, 'seq', `invalid Zero increment value: ${quote(a[1]!)}`);
    return usage(sys, 'seq', '');
  }
  const decimals = Math.max(0, ...a.slice(0, a.length === 3 ? 2 : 1).map((x) => (x.includes('.') ? x.length - x.indexOf('.') - 1 : 0)));
  const items: string[] = [];
  for (let i = 0; ; i++) {
    const v = first + i * incr;
    if (incr > 0 ? v > last + 1e-12 : v < last - 1e-12) break;
    items.push(v.toFixed(decimals));
  }
  const width = Math.max(0, ...items.map((s) => s.length));
  const shown = equal ? items.map((s) => (s.startsWith('-') ? '-' + s.slice(1).padStart(width - 1, '0') : s.padStart(width, '0'))) : items;
  if (shown.length) out(sys, shown.join(sep) + '\n');
  return 0;
};

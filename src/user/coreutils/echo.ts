/** echo(1), GNU and bash-builtin behaviour: -n, -e, -E, and backslash escapes with -e. */
import type { Program } from '../program.ts';
import { out } from './common.ts';

/** Expand echo -e escapes; `stop` is true when \c ended the output. */
export function echoEscapes(s: string): { text: string; stop: boolean } {
  let text = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) {
      text += c;
      continue;
    }
    const n = s[++i]!;
    const simple: Record<string, string> = { a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
    if (n in simple) text += simple[n];
    else if (n === 'c') return { text, stop: true };
    else if (n === '0') {
      const m = /^[0-7]{0,3}/.exec(s.slice(i + 1))![0];
      text += String.fromCharCode(parseInt(m || '0', 8) % 256);
      i += m.length;
    } else if (n === 'x' && /^[0-9a-fA-F]/.test(s[i + 1] ?? '')) {
      const m = /^[0-9a-fA-F]{1,2}/.exec(s.slice(i + 1))![0];
      text += String.fromCharCode(parseInt(m, 16));
      i += m.length;
    } else text += '\\' + n;
  }
  return { text, stop: false };
}

/** echo [-neE] [STRING...]. */
export const echo: Program = ({ sys, argv }) => {
  let i = 1;
  let newline = true;
  let escapes = false;
  while (i < argv.length && /^-[neE]+$/.test(argv[i]!)) {
    for (const c of argv[i]!.slice(1)) {
      if (c === 'n') newline = false;
      else escapes = c === 'e';
    }
    i++;
  }
  let text = argv.slice(i).join(' ');
  if (escapes) {
    const r = echoEscapes(text);
    text = r.text;
    if (r.stop) newline = false;
  }
  out(sys, newline ? text + '\n' : text);
  return 0;
};

/**
 * POSIX regular expressions (GNU dialect) translated to JavaScript RegExp
 * source: basic (BRE, with GNU's `\|`, `\(`, `\)`, `\{`, `\}`, `\+`, `\?`) and
 * extended (ERE). Bracket expressions with [:class:] are rewritten for both.
 */

const CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z', digit: '0-9', alnum: 'a-zA-Z0-9', upper: 'A-Z', lower: 'a-z', space: ' \\t\\n\\v\\f\\r',
  blank: ' \\t', punct: '!-\\/:-@\\[-`{-~', print: ' -~', graph: '!-~', cntrl: '\\x00-\\x1f\\x7f', xdigit: '0-9A-Fa-f',
};

/** Translate a bracket expression starting at p[i] === '['; returns JS source and the index after `]`. */
function bracket(p: string, i: number): [string, number] {
  let out = '[';
  i++;
  if (p[i] === '^') {
    out += '^';
    i++;
  }
  if (p[i] === ']') {
    out += '\\]';
    i++;
  }
  while (i < p.length && p[i] !== ']') {
    const m = /^\[:([a-z]+):\]/.exec(p.slice(i));
    if (m && CLASSES[m[1]!] !== undefined) {
      out += CLASSES[m[1]!];
      i += m[0].length;
      continue;
    }
    const c = p[i]!;
    out += c === '\\' || c === '[' ? `\\${c}` : c;
    i++;
  }
  if (i >= p.length) throw new SyntaxError('Unmatched [, [^, [:, [., or [=');
  return [out + ']', i + 1];
}

/** BRE → JS. */
export function breToJs(p: string): string {
  let out = '';
  let atStart = true; // where `*` is literal and `^` is an anchor
  for (let i = 0; i < p.length; ) {
    const c = p[i]!;
    if (c === '\\' && i + 1 < p.length) {
      const n = p[i + 1]!;
      i += 2;
      if ('|(){}+?'.includes(n)) {
        out += n;
        atStart = n === '(' || n === '|';
        continue;
      }
      if (n === '<') out += '\\b(?=\\w)';
      else if (n === '>') out += '\\b(?<=\\w)';
      else if (/[1-9wWsSbB]/.test(n)) out += `\\${n}`;
      else out += n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      atStart = false;
      continue;
    }
    if (c === '[') {
      const [s, j] = bracket(p, i);
      out += s;
      i = j;
      atStart = false;
      continue;
    }
    if ('|(){}+?/'.includes(c)) out += `\\${c}`;
    else if (c === '*' && atStart) out += '\\*';
    else if (c === '^' && !atStart) out += '\\^';
    else if (c === '$' && !(i === p.length - 1 || p.startsWith('\\)', i + 1) || p.startsWith('\\|', i + 1))) out += '\\$';
    else out += c;
    atStart = c === '^' && atStart;
    i++;
  }
  return out;
}

/** ERE → JS (brackets and a leading `*` differ; the rest is shared syntax). */
export function ereToJs(p: string): string {
  let out = '';
  for (let i = 0; i < p.length; ) {
    const c = p[i]!;
    if (c === '\\' && i + 1 < p.length) {
      const n = p[i + 1]!;
      out += n === '<' ? '\\b(?=\\w)' : n === '>' ? '\\b(?<=\\w)' : `\\${n}`;
      i += 2;
    } else if (c === '[') {
      const [s, j] = bracket(p, i);
      out += s;
      i = j;
    } else {
      out += c === '*' && (out === '' || out.endsWith('(') || out.endsWith('|')) ? '\\*' : c === '/' ? '\\/' : c;
      i++;
    }
  }
  return out;
}

/** A fixed string → JS. */
export function fixedToJs(p: string): string {
  return p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

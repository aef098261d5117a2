/**
 * Word expansion: tilde, parameters (`$VAR`, `${VAR}`, `$?`, `$$`, `$@`, ...),
 * command substitution, then field splitting of unquoted expansion results on
 * blanks (the default IFS). There is no pathname expansion (globbing).
 */
import type { Word, WordPart } from './lexer.ts';

/** What expansion needs from the shell: parameter values and command substitution. */
export interface ExpandHost {
  /** A parameter's value, or undefined when unset. */
  param(name: string): string | undefined;
  /** The positional parameters, for `$@`. */
  positional(): readonly string[];
  /** Run `source` in a subshell and return its output minus trailing newlines. */
  commandSubst(source: string, line: number): string;
}

const BLANKS = /[ \t\n]+/;

/** Expand words into fields, as for a command's arguments or a `for` list. */
export function expandWords(words: readonly Word[], host: ExpandHost): string[] {
  const out: string[] = [];
  for (const w of words) out.push(...expandFields(w, host));
  return out;
}

/** Expand one word into zero or more fields. */
export function expandFields(word: Word, host: ExpandHost): string[] {
  if (isQuotedAtOnly(word) && host.positional().length === 0) return [];
  const fields: string[] = [];
  let cur = '';
  let has = false;
  const split = (value: string): void => {
    const pieces = value.split(BLANKS);
    pieces.forEach((piece, i) => {
      if (i > 0) {
        if (has) fields.push(cur);
        cur = '';
        has = false;
      }
      if (piece) {
        cur += piece;
        has = true;
      }
    });
  };
  word.parts.forEach((part, i) => {
    if (part.kind === 'lit') {
      cur += i === 0 ? tilde(part, host) : part.text;
      has = has || part.quoted || part.text.length > 0;
      return;
    }
    if (part.kind === 'param' && part.name === '@' && part.quoted) {
      // "$@": one field per positional parameter, the first and last joined to the text around them.
      host.positional().forEach((p, j) => {
        if (j > 0) {
          fields.push(cur);
          cur = '';
        }
        cur += p;
        has = true;
      });
      return;
    }
    const value = valueOf(part, host);
    if (part.quoted) {
      cur += value;
      has = true;
    } else split(value);
  });
  if (has) fields.push(cur);
  return fields;
}

/** Expand a word to a single string without field splitting (assignments, redirection targets). */
export function expandWord(word: Word, host: ExpandHost): string {
  return word.parts.map((part, i) => (part.kind === 'lit' ? (i === 0 ? tilde(part, host) : part.text) : valueOf(part, host))).join('');
}

function valueOf(part: Exclude<WordPart, { kind: 'lit' }>, host: ExpandHost): string {
  if (part.kind === 'cmdsub') return host.commandSubst(part.source, part.line);
  if (part.name === '@' || part.name === '*') return host.positional().join(' ');
  return host.param(part.name) ?? '';
}

/** `~` and `~/...` at the start of an unquoted word name $HOME. */
function tilde(part: WordPart & { kind: 'lit' }, host: ExpandHost): string {
  if (part.quoted || !part.text.startsWith('~')) return part.text;
  if (part.text.length > 1 && part.text[1] !== '/') return part.text;
  return (host.param('HOME') ?? '/') + part.text.slice(1);
}

/** True for a word like `"$@"`: only quoted empty text around a quoted `$@`. */
function isQuotedAtOnly(word: Word): boolean {
  let at = false;
  for (const p of word.parts) {
    if (p.kind === 'param' && p.name === '@' && p.quoted) at = true;
    else if (!(p.kind === 'lit' && p.quoted && p.text === '')) return false;
  }
  return at;
}

/**
 * Recursive-descent parser for the POSIX shell grammar subset we run: lists,
 * and-or lists, pipelines with `!`, simple commands with assignments and
 * redirections, and the compound commands if/while/until/for/{ }/( ).
 * `parseNext` returns one complete command at a time so that a script runs
 * line by line, as bash does, up to the first syntax error.
 */
import type { AndOr, Assign, Command, List, Pipeline, Redir, SimpleCommand } from './ast.ts';
import { isBare, Lexer, ShSyntaxError, type Token, type Word } from './lexer.ts';

const ASSIGN = /^([A-Za-z_][A-Za-z0-9_]*)=/;
/** Words that end a compound list when they appear in command position. */
const CLOSERS = new Set(['then', 'elif', 'else', 'fi', 'do', 'done', '}']);

/** Parses shell source, one complete command (a list ending at a newline) at a time. */
export class Parser {
  private readonly lx: Lexer;

  constructor(src: string, firstLine = 1) {
    this.lx = new Lexer(src, 0, firstLine);
  }

  /** The next complete command, or undefined at end of input. Throws ShSyntaxError. */
  parseNext(): List | undefined {
    this.skipNewlines();
    if (this.lx.peek().type === 'eof') return undefined;
    const list = this.list(false);
    const t = this.lx.peek();
    if (t.type === 'newline') this.lx.next();
    else if (t.type !== 'eof') this.unexpected(t);
    return list;
  }

  /** Every command of the input (used for `$(...)` bodies and to check interactive input). */
  parseAll(): List {
    const all: List = [];
    for (let l = this.parseNext(); l; l = this.parseNext()) all.push(...l);
    return all;
  }

  /**
   * A list. At top level it stops at a newline; inside a compound command
   * (`compound`) newlines separate items and it stops at a closing word or `)`.
   */
  private list(compound: boolean): List {
    const items: List = [];
    for (;;) {
      if (compound) {
        this.skipNewlines();
        if (this.atListEnd()) break;
      }
      const andOr = this.andOr();
      const t = this.lx.peek();
      if (t.type === 'op' && (t.op === ';' || t.op === '&') && t.fd === undefined) {
        this.lx.next();
        items.push({ andOr, background: t.op === '&' });
        if (!compound) {
          const n = this.lx.peek();
          if (n.type === 'newline' || n.type === 'eof' || (n.type === 'op' && n.op === ')')) break;
        }
        continue;
      }
      items.push({ andOr, background: false });
      if (!compound || t.type !== 'newline') break;
    }
    if (compound && items.length === 0) this.unexpected(this.lx.peek());
    return items;
  }

  private atListEnd(): boolean {
    const t = this.lx.peek();
    if (t.type === 'eof') return true;
    if (t.type === 'op') return t.op === ')';
    return t.type === 'word' && [...CLOSERS].some((w) => isBare(t.word, w));
  }

  private andOr(): AndOr {
    const first = this.pipeline();
    const rest: AndOr['rest'] = [];
    for (;;) {
      const t = this.lx.peek();
      if (t.type !== 'op' || (t.op !== '&&' && t.op !== '||')) break;
      this.lx.next();
      this.skipNewlines();
      rest.push({ op: t.op, pipeline: this.pipeline() });
    }
    return { first, rest };
  }

  private pipeline(): Pipeline {
    let negate = false;
    const t = this.lx.peek();
    if (t.type === 'word' && isBare(t.word, '!')) {
      this.lx.next();
      negate = true;
    }
    const cmds: Command[] = [this.command()];
    for (;;) {
      const p = this.lx.peek();
      if (p.type !== 'op' || p.op !== '|') break;
      this.lx.next();
      this.skipNewlines();
      cmds.push(this.command());
    }
    return { negate, cmds };
  }

  private command(): Command {
    const t = this.lx.peek();
    if (t.type === 'eof') this.endOfFile();
    if (t.type === 'op' && t.op === '(') {
      this.lx.next();
      const body = this.list(true);
      this.expectOp(')');
      return { type: 'subshell', line: t.line, body, redirs: this.redirects() };
    }
    if (t.type === 'word') {
      const w = t.word;
      if (isBare(w, 'if')) return this.ifCommand(t.line);
      if (isBare(w, 'while') || isBare(w, 'until')) return this.loop(t.line, isBare(w, 'while') ? 'while' : 'until');
      if (isBare(w, 'for')) return this.forCommand(t.line);
      if (isBare(w, '{')) {
        this.lx.next();
        const body = this.list(true);
        this.expectWord('}');
        return { type: 'group', line: t.line, body, redirs: this.redirects() };
      }
      if (CLOSERS.has(w.raw) && isBare(w, w.raw)) this.unexpected(t);
    }
    return this.simple();
  }

  private simple(): SimpleCommand {
    const line = this.lx.peek().line;
    const cmd: SimpleCommand = { type: 'simple', line, assigns: [], words: [], redirs: [] };
    for (;;) {
      const t = this.lx.peek();
      if (t.type === 'op' && isRedirOp(t.op)) {
        cmd.redirs.push(this.redirect());
        continue;
      }
      if (t.type !== 'word') break;
      this.lx.next();
      const a = cmd.words.length === 0 ? asAssignment(t.word) : undefined;
      if (a) cmd.assigns.push(a);
      else cmd.words.push(t.word);
    }
    if (cmd.words.length === 0 && cmd.assigns.length === 0 && cmd.redirs.length === 0) {
      this.unexpected(this.lx.peek());
    }
    return cmd;
  }

  private redirects(): Redir[] {
    const out: Redir[] = [];
    for (;;) {
      const t = this.lx.peek();
      if (t.type !== 'op' || !isRedirOp(t.op)) return out;
      out.push(this.redirect());
    }
  }

  private redirect(): Redir {
    const t = this.lx.next() as Token & { type: 'op' };
    const target = this.lx.next();
    if (target.type !== 'word') this.unexpected(target);
    const op = t.op as Redir['op'];
    const fd = t.fd ?? (op === '<' || op === '<&' ? 0 : 1);
    return { fd, op, target: target.word };
  }

  private ifCommand(line: number): Command {
    this.lx.next();
    const clauses: { cond: List; body: List }[] = [];
    let elseBody: List | undefined;
    for (;;) {
      const cond = this.list(true);
      this.expectWord('then');
      const body = this.list(true);
      clauses.push({ cond, body });
      const t = this.lx.next();
      if (t.type === 'word' && isBare(t.word, 'elif')) continue;
      if (t.type === 'word' && isBare(t.word, 'else')) {
        elseBody = this.list(true);
        this.expectWord('fi');
        break;
      }
      if (t.type === 'word' && isBare(t.word, 'fi')) break;
      this.unexpected(t);
    }
    return { type: 'if', line, clauses, elseBody, redirs: this.redirects() };
  }

  private loop(line: number, type: 'while' | 'until'): Command {
    this.lx.next();
    const cond = this.list(true);
    this.expectWord('do');
    const body = this.list(true);
    this.expectWord('done');
    return { type, line, cond, body, redirs: this.redirects() };
  }

  private forCommand(line: number): Command {
    this.lx.next();
    const n = this.lx.next();
    if (n.type !== 'word' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(n.word.raw)) {
      if (n.type === 'word') throw new ShSyntaxError(`\`${n.word.raw}': not a valid identifier`, n.line, false);
      this.unexpected(n);
    }
    let words: Word[] | undefined;
    this.skipNewlines();
    const t = this.lx.peek();
    if (t.type === 'word' && isBare(t.word, 'in')) {
      this.lx.next();
      words = [];
      for (let w = this.lx.peek(); w.type === 'word'; w = this.lx.peek()) {
        words.push(w.word);
        this.lx.next();
      }
    }
    const sep = this.lx.peek();
    if (sep.type === 'op' && sep.op === ';') this.lx.next();
    this.skipNewlines();
    this.expectWord('do');
    const body = this.list(true);
    this.expectWord('done');
    return { type: 'for', line, name: n.word.raw, words, body, redirs: this.redirects() };
  }

  private expectWord(word: string): void {
    const t = this.lx.next();
    if (t.type === 'word' && isBare(t.word, word)) return;
    this.unexpected(t);
  }

  private expectOp(op: string): void {
    const t = this.lx.next();
    if (t.type === 'op' && t.op === op) return;
    this.unexpected(t);
  }

  private skipNewlines(): void {
    while (this.lx.peek().type === 'newline') this.lx.next();
  }

  private endOfFile(): never {
    throw new ShSyntaxError('syntax error: unexpected end of file', this.lx.line, true);
  }

  private unexpected(t: Token): never {
    if (t.type === 'eof') this.endOfFile();
    const text = t.type === 'newline' ? 'newline' : t.type === 'op' ? t.raw : t.word.raw;
    throw new ShSyntaxError(`syntax error near unexpected token \`${text}'`, t.line, false, text);
  }
}

function isRedirOp(op: string): boolean {
  return op === '>' || op === '>>' || op === '<' || op === '>&' || op === '<&' || op === '>|' || op === '&>';
}

/** `NAME=...` as an assignment: the name must be unquoted literal text. */
function asAssignment(word: Word): Assign | undefined {
  const first = word.parts[0];
  if (!first || first.kind !== 'lit' || first.quoted) return undefined;
  const m = ASSIGN.exec(first.text);
  if (!m) return undefined;
  const rest = first.text.slice(m[0].length);
  const parts = [...(rest ? [{ ...first, text: rest }] : []), ...word.parts.slice(1)];
  return { name: m[1]!, value: { parts, raw: word.raw.slice(m[0].length) } };
}

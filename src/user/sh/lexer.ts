/**
 * The shell's tokenizer: bash's quoting rules (single quotes, double quotes,
 * backslash), `#` comments, operators and IO numbers (`2>`). It is pulled one
 * token at a time by the parser so that, as in bash, a script runs up to the
 * command before a lexical error.
 */

/** One piece of a word, remembering whether it was quoted (quoted text is not field-split). */
export type WordPart =
  | { kind: 'lit'; text: string; quoted: boolean }
  | { kind: 'param'; name: string; quoted: boolean }
  | { kind: 'cmdsub'; source: string; line: number; quoted: boolean };

/** A shell word: its parts and its source text (for messages). */
export interface Word {
  parts: WordPart[];
  raw: string;
}

/** Control and redirection operators. */
export type Op =
  | '&&' | '||' | '|' | ';' | ';;' | '&' | '(' | ')'
  | '>' | '>>' | '<' | '>&' | '<&' | '>|' | '&>';

/** A token with the line it starts on. */
export type Token =
  | { type: 'word'; word: Word; line: number }
  | { type: 'op'; op: Op; fd?: number; raw: string; line: number }
  | { type: 'newline'; line: number }
  | { type: 'eof'; line: number };

/**
 * A syntax error. `incomplete` marks input that ended too early (an open quote,
 * a trailing `&&`), which an interactive shell answers by reading another line.
 */
export class ShSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly incomplete: boolean,
    /** The token bash quotes in "near unexpected token", when there is one. */
    readonly token?: string,
  ) {
    super(message);
    this.name = 'ShSyntaxError';
  }
}

const OPERATORS: readonly Op[] = ['&&', '||', ';;', '>>', '>&', '<&', '>|', '&>', '|', ';', '&', '(', ')', '>', '<'];
const META = new Set([' ', '\t', '\n', ';', '&', '|', '<', '>', '(', ')']);
const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;
const SPECIAL_PARAMS = new Set(['?', '$', '#', '!', '@', '*', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

/** Tokenizes shell source on demand. */
export class Lexer {
  private pos: number;
  private lineNo: number;
  private peeked: Token | undefined;

  constructor(
    readonly src: string,
    start = 0,
    line = 1,
  ) {
    this.pos = start;
    this.lineNo = line;
  }

  /** The current line number (for end-of-file messages). */
  get line(): number {
    return this.lineNo;
  }

  /** The next token without consuming it. */
  peek(): Token {
    if (!this.peeked) this.peeked = this.scan();
    return this.peeked;
  }

  /** Consume and return the next token. */
  next(): Token {
    const t = this.peek();
    this.peeked = undefined;
    return t;
  }

  private scan(): Token {
    this.skipBlanks();
    const line = this.lineNo;
    if (this.pos >= this.src.length) return { type: 'eof', line };
    const c = this.src[this.pos]!;
    if (c === '\n') {
      this.pos++;
      this.lineNo++;
      return { type: 'newline', line };
    }
    const io = /^\d+(?=[<>])/.exec(this.src.slice(this.pos, this.pos + 12));
    if (io) {
      this.pos += io[0].length;
      const op = this.scanOp()!;
      return { ...op, fd: Number(io[0]), raw: io[0] + op.raw };
    }
    const op = this.scanOp();
    if (op) return op;
    return { type: 'word', word: this.scanWord(), line };
  }

  private skipBlanks(): void {
    for (;;) {
      const c = this.src[this.pos];
      if (c === ' ' || c === '\t') this.pos++;
      else if (c === '\\' && this.src[this.pos + 1] === '\n') {
        this.pos += 2;
        this.lineNo++;
      } else if (c === '#') {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
      } else return;
    }
  }

  private scanOp(): (Token & { type: 'op' }) | undefined {
    for (const op of OPERATORS) {
      if (this.src.startsWith(op, this.pos)) {
        this.pos += op.length;
        return { type: 'op', op, raw: op, line: this.lineNo };
      }
    }
    return undefined;
  }

  private scanWord(): Word {
    const start = this.pos;
    const parts: WordPart[] = [];
    const lit = (text: string, quoted: boolean): void => {
      const last = parts[parts.length - 1];
      if (last && last.kind === 'lit' && last.quoted === quoted) last.text += text;
      else parts.push({ kind: 'lit', text, quoted });
    };
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (META.has(c)) break;
      if (c === '\\') {
        const n = this.src[this.pos + 1];
        this.pos += 2;
        if (n === undefined) lit('\\', false);
        else if (n === '\n') this.lineNo++;
        else lit(n, true);
      } else if (c === "'") {
        const end = this.src.indexOf("'", this.pos + 1);
        if (end < 0) this.eofIn("'");
        const text = this.src.slice(this.pos + 1, end);
        this.countLines(text);
        // An empty '' still makes the word exist, so keep a zero-length quoted part.
        parts.push({ kind: 'lit', text, quoted: true });
        this.pos = end + 1;
      } else if (c === '"') {
        this.pos++;
        this.scanDoubleQuoted(parts);
      } else if (c === '$') {
        this.scanDollar(parts, false, lit);
      } else {
        lit(c, false);
        this.pos++;
      }
    }
    return { parts, raw: this.src.slice(start, this.pos) };
  }

  private scanDoubleQuoted(parts: WordPart[]): void {
    parts.push({ kind: 'lit', text: '', quoted: true });
    const lit = (text: string): void => {
      const last = parts[parts.length - 1];
      if (last && last.kind === 'lit' && last.quoted) last.text += text;
      else parts.push({ kind: 'lit', text, quoted: true });
    };
    for (;;) {
      if (this.pos >= this.src.length) this.eofIn('"');
      const c = this.src[this.pos]!;
      if (c === '"') {
        this.pos++;
        return;
      }
      if (c === '\\') {
        const n = this.src[this.pos + 1];
        if (n === '\n') {
          this.pos += 2;
          this.lineNo++;
        } else if (n !== undefined && '$`"\\'.includes(n)) {
          lit(n);
          this.pos += 2;
        } else {
          lit('\\');
          this.pos++;
        }
      } else if (c === '$') {
        this.scanDollar(parts, true, (t) => lit(t));
      } else {
        if (c === '\n') this.lineNo++;
        lit(c);
        this.pos++;
      }
    }
  }

  /** `$name`, `${name}`, `$?`, `$(...)`; a `$` that starts none of these is literal. */
  private scanDollar(parts: WordPart[], quoted: boolean, lit: (t: string, q: boolean) => void): void {
    const n = this.src[this.pos + 1];
    if (n === '(') {
      const line = this.lineNo;
      const source = this.scanCmdSub();
      parts.push({ kind: 'cmdsub', source, line, quoted });
      return;
    }
    if (n === '{') {
      const end = this.src.indexOf('}', this.pos + 2);
      if (end < 0) this.eofIn('}');
      const name = this.src.slice(this.pos + 2, end);
      if (!/^([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?$#!@*-])$/.test(name)) {
        throw new ShSyntaxError(`\${${name}}: bad substitution`, this.lineNo, false);
      }
      parts.push({ kind: 'param', name, quoted });
      this.pos = end + 1;
      return;
    }
    if (n !== undefined && SPECIAL_PARAMS.has(n)) {
      parts.push({ kind: 'param', name: n, quoted });
      this.pos += 2;
      return;
    }
    if (n !== undefined && NAME_START.test(n)) {
      let end = this.pos + 1;
      while (end < this.src.length && NAME_CHAR.test(this.src[end]!)) end++;
      parts.push({ kind: 'param', name: this.src.slice(this.pos + 1, end), quoted });
      this.pos = end;
      return;
    }
    lit('$', quoted);
    this.pos++;
  }

  /** Find the `)` closing `$(` by lexing the inside, so quotes and nesting are honoured. */
  private scanCmdSub(): string {
    const inner = new Lexer(this.src, this.pos + 2, this.lineNo);
    let depth = 0;
    for (;;) {
      const t = inner.next();
      if (t.type === 'eof') this.eofIn(')');
      if (t.type !== 'op') continue;
      if (t.op === '(') depth++;
      else if (t.op === ')') {
        if (depth === 0) break;
        depth--;
      }
    }
    const end = inner.pos - 1;
    const source = this.src.slice(this.pos + 2, end);
    this.lineNo = inner.lineNo;
    this.pos = inner.pos;
    return source;
  }

  private countLines(text: string): void {
    for (const ch of text) if (ch === '\n') this.lineNo++;
  }

  private eofIn(close: string): never {
    this.countLines(this.src.slice(this.pos));
    this.pos = this.src.length;
    throw new ShSyntaxError(`unexpected EOF while looking for matching \`${close}'`, this.lineNo, true);
  }
}

/** True when a word is an unquoted literal equal to `text` (how reserved words are recognised). */
export function isBare(word: Word, text: string): boolean {
  return word.parts.length === 1 && word.parts[0]!.kind === 'lit' && !word.parts[0]!.quoted && word.parts[0]!.text === text;
}

import { describe, expect, it } from 'vitest';
import { Lexer, ShSyntaxError, type Token } from '../../src/user/sh/lexer.ts';

function tokens(src: string): Token[] {
  const lx = new Lexer(src);
  const out: Token[] = [];
  for (;;) {
    const t = lx.next();
    out.push(t);
    if (t.type === 'eof') return out;
  }
}

function show(src: string): string[] {
  return tokens(src).map((t) => (t.type === 'word' ? `W(${t.word.raw})` : t.type === 'op' ? `O(${t.raw})` : t.type === 'newline' ? 'NL' : 'EOF'));
}

describe('lexer', () => {
  it('splits words and operators', () => {
    expect(show('a b;c&&d||e|f')).toEqual(['W(a)', 'W(b)', 'O(;)', 'W(c)', 'O(&&)', 'W(d)', 'O(||)', 'W(e)', 'O(|)', 'W(f)', 'EOF']);
  });

  it('recognises redirections and IO numbers', () => {
    expect(show('x >f >>g <h 2>e 2>&1 3<in')).toEqual(['W(x)', 'O(>)', 'W(f)', 'O(>>)', 'W(g)', 'O(<)', 'W(h)', 'O(2>)', 'W(e)', 'O(2>&)', 'W(1)', 'O(3<)', 'W(in)', 'EOF']);
    const t = tokens('cmd 2>err')[1]!;
    expect(t).toMatchObject({ type: 'op', op: '>', fd: 2 });
  });

  it('a number not followed by < or > is a word', () => {
    expect(show('echo 12 a2>x')).toEqual(['W(echo)', 'W(12)', 'W(a2)', 'O(>)', 'W(x)', 'EOF']);
  });

  it('skips comments but not # inside a word', () => {
    expect(show('echo a#b # comment\nls')).toEqual(['W(echo)', 'W(a#b)', 'NL', 'W(ls)', 'EOF']);
  });

  it('keeps quoting information in word parts', () => {
    const w = tokens(`a'b c'"d $X e"\\ f$Y`)[0]!;
    expect(w.type).toBe('word');
    if (w.type !== 'word') return;
    expect(w.word.parts).toEqual([
      { kind: 'lit', text: 'a', quoted: false },
      { kind: 'lit', text: 'b c', quoted: true },
      { kind: 'lit', text: 'd ', quoted: true },
      { kind: 'param', name: 'X', quoted: true },
      { kind: 'lit', text: ' e ', quoted: true },
      { kind: 'lit', text: 'f', quoted: false },
      { kind: 'param', name: 'Y', quoted: false },
    ]);
  });

  it('backslash-newline continues a line', () => {
    expect(show('echo a \\\n b')).toEqual(['W(echo)', 'W(a)', 'W(b)', 'EOF']);
  });

  it('lexes $(...) by matching parentheses through quotes and nesting', () => {
    const w = tokens(`x$(echo ")" $(ls a) 'q)')y`)[0]!;
    if (w.type !== 'word') throw new Error('not a word');
    expect(w.word.parts).toEqual([
      { kind: 'lit', text: 'x', quoted: false },
      { kind: 'cmdsub', source: `echo ")" $(ls a) 'q)'`, line: 1, quoted: false },
      { kind: 'lit', text: 'y', quoted: false },
    ]);
  });

  it('special parameters and ${NAME}', () => {
    const w = tokens('$?$$${HOME}x$1')[0]!;
    if (w.type !== 'word') throw new Error('not a word');
    expect(w.word.parts.map((p) => (p.kind === 'param' ? p.name : p.kind === 'lit' ? p.text : ''))).toEqual(['?', '$', 'HOME', 'x', '1']);
  });

  it('a lone $ is literal', () => {
    const w = tokens('a$ $')[0]!;
    if (w.type !== 'word') throw new Error('not a word');
    expect(w.word.parts).toEqual([{ kind: 'lit', text: 'a$', quoted: false }]);
  });

  it('an unterminated quote is an incomplete-input error', () => {
    expect(() => tokens("echo 'abc")).toThrow(ShSyntaxError);
    try {
      tokens('echo "abc\n');
    } catch (e) {
      expect(e).toMatchObject({ message: "unexpected EOF while looking for matching `\"'", incomplete: true });
    }
  });

  it('counts lines', () => {
    const ts = tokens("a\n'b\nc'\nd");
    expect(ts.map((t) => t.line)).toEqual([1, 1, 2, 3, 4, 4]);
  });
});

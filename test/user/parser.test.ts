import { describe, expect, it } from 'vitest';
import type { Command, List } from '../../src/user/sh/ast.ts';
import { ShSyntaxError } from '../../src/user/sh/lexer.ts';
import { Parser } from '../../src/user/sh/parser.ts';

/** A compact rendering of a list, for readable expectations. */
function render(list: List): string {
  return list
    .map((item) => {
      const ao = [item.andOr.first, ...item.andOr.rest.map((r) => r.pipeline)]
        .map((p, i) => `${i > 0 ? ` ${item.andOr.rest[i - 1]!.op} ` : ''}${p.negate ? '! ' : ''}${p.cmds.map(cmd).join(' | ')}`)
        .join('');
      return ao + (item.background ? ' &' : ';');
    })
    .join(' ');
}

function cmd(c: Command): string {
  switch (c.type) {
    case 'simple': {
      const parts = [...c.assigns.map((a) => `${a.name}=${a.value.raw}`), ...c.words.map((w) => w.raw), ...c.redirs.map((r) => `${r.fd}${r.op}${r.target.raw}`)];
      return `[${parts.join(' ')}]`;
    }
    case 'if':
      return `if(${c.clauses.map((cl) => `${render(cl.cond)} then ${render(cl.body)}`).join(' elif ')}${c.elseBody ? ` else ${render(c.elseBody)}` : ''})`;
    case 'while':
    case 'until':
      return `${c.type}(${render(c.cond)} do ${render(c.body)})`;
    case 'for':
      return `for(${c.name} in ${c.words?.map((w) => w.raw).join(' ')} do ${render(c.body)})`;
    default:
      return `${c.type === 'group' ? '{' : '('}${render(c.body)}${c.type === 'group' ? '}' : ')'}`;
  }
}

function parse(src: string): string[] {
  const p = new Parser(src);
  const out: string[] = [];
  for (let l = p.parseNext(); l; l = p.parseNext()) out.push(render(l));
  return out;
}

function syntaxError(src: string): ShSyntaxError {
  try {
    parse(src);
  } catch (e) {
    if (e instanceof ShSyntaxError) return e;
    throw e;
  }
  throw new Error('no syntax error');
}

describe('parser', () => {
  it('one complete command per line', () => {
    expect(parse('a; b\nc &&\n d\n\n')).toEqual(['[a]; [b];', '[c] && [d];']);
  });

  it('and-or lists and pipelines with !', () => {
    expect(parse('! a | b && c || d')).toEqual(['! [a] | [b] && [c] || [d];']);
  });

  it('assignments only before the command name', () => {
    expect(parse('A=1 B=$x cmd C=2')).toEqual(['[A=1 B=$x cmd C=2];']);
    const l = new Parser('A=1 cmd C=2').parseNext()!;
    const c = l[0]!.andOr.first.cmds[0]!;
    expect(c.type === 'simple' && c.assigns.map((a) => a.name)).toEqual(['A']);
  });

  it('redirections anywhere in a simple command', () => {
    expect(parse('>out cmd 2>&1 arg <in')).toEqual(['[cmd arg 1>out 2>&1 0<in];']);
  });

  it('background jobs', () => {
    expect(parse('a & b')).toEqual(['[a] & [b];']);
  });

  it('compound commands', () => {
    expect(parse('if a; then b; elif c; then d; else e; fi')).toEqual(['if([a]; then [b]; elif [c]; then [d]; else [e];);']);
    expect(parse('while a\ndo\n b\ndone')).toEqual(['while([a]; do [b];);']);
    expect(parse('for i in 1 2; do echo $i; done')).toEqual(['for(i in 1 2 do [echo $i];);']);
    expect(parse('{ a; b; } >f; (c)')).toEqual(['{[a]; [b];}; ([c];);']);
  });

  it('reports bash-style syntax errors', () => {
    expect(syntaxError('echo a ;; b').message).toBe("syntax error near unexpected token `;;'");
    expect(syntaxError('| a').message).toBe("syntax error near unexpected token `|'");
    expect(syntaxError('fi').message).toBe("syntax error near unexpected token `fi'");
    expect(syntaxError('echo >').message).toBe('syntax error: unexpected end of file');
    expect(syntaxError('a &&').incomplete).toBe(true);
    expect(syntaxError('if true; then').incomplete).toBe(true);
    expect(syntaxError('a\nb )').line).toBe(2);
  });

  it('parses lines before a later error', () => {
    const p = new Parser('echo ok\necho ;;');
    expect(p.parseNext()).toBeDefined();
    expect(() => p.parseNext()).toThrow(ShSyntaxError);
  });
});

/** The shell's syntax tree, shaped after the POSIX grammar's productions. */
import type { Word } from './lexer.ts';

/** A redirection `[fd]op target`; `fd` is already defaulted (0 for `<`, 1 for `>`). */
export interface Redir {
  fd: number;
  op: '>' | '>>' | '<' | '>&' | '<&' | '>|' | '&>';
  target: Word;
}

/** `NAME=value` before a command (or alone). */
export interface Assign {
  name: string;
  value: Word;
}

/** A simple command: assignments, words, redirections, and the line it starts on. */
export interface SimpleCommand {
  type: 'simple';
  line: number;
  assigns: Assign[];
  words: Word[];
  redirs: Redir[];
}

/** `if ...; then ...; [elif ...; then ...;] [else ...;] fi`. */
export interface IfCommand {
  type: 'if';
  line: number;
  clauses: { cond: List; body: List }[];
  elseBody: List | undefined;
  redirs: Redir[];
}

/** `while`/`until` loops. */
export interface LoopCommand {
  type: 'while' | 'until';
  line: number;
  cond: List;
  body: List;
  redirs: Redir[];
}

/** `for NAME [in WORDS]; do ...; done`; words undefined means "$@". */
export interface ForCommand {
  type: 'for';
  line: number;
  name: string;
  words: Word[] | undefined;
  body: List;
  redirs: Redir[];
}

/** `{ ...; }` runs in this shell; `( ... )` in a forked subshell. */
export interface GroupCommand {
  type: 'group' | 'subshell';
  line: number;
  body: List;
  redirs: Redir[];
}

/** Any command that can be a pipeline stage. */
export type Command = SimpleCommand | IfCommand | LoopCommand | ForCommand | GroupCommand;

/** `[!] cmd | cmd ...`. */
export interface Pipeline {
  negate: boolean;
  cmds: Command[];
}

/** `pipeline && pipeline || pipeline ...`. */
export interface AndOr {
  first: Pipeline;
  rest: { op: '&&' | '||'; pipeline: Pipeline }[];
}

/** One element of a list: an and-or list, run in the background when followed by `&`. */
export interface ListItem {
  andOr: AndOr;
  background: boolean;
}

/** A sequence of and-or lists separated by `;`, `&` or newlines. */
export type List = ListItem[];

/**
 * Driving the interpreter: a script runs one complete command at a time (so a
 * syntax error stops it only when reached, with status 2, as in bash); an
 * interactive session prompts, reads lines, and asks for more (`> `) while a
 * command is incomplete. Also the `sh` program itself (`sh -c`, `sh FILE`).
 */
import { Errno } from '../../lib/errno.ts';
import { O_RDONLY } from '../../uapi/fcntl.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import { readAll, writeStr, type Program } from '../program.ts';
import type { List } from './ast.ts';
import { ExitShell } from './control.ts';
import { Shell } from './interp.ts';
import { ShSyntaxError } from './lexer.ts';
import { Parser } from './parser.ts';

/** How to run a shell session. */
export interface ShellOptions {
  /** Script text (non-interactive). */
  script?: string;
  /** Prompt and read lines with readLine until it returns null. */
  interactive?: boolean;
  readLine?: () => string | null;
  /** PS1; `# ` by default (we are root). */
  prompt?: string;
  /** Initial (exported) environment. */
  env?: ReadonlyMap<string, string>;
  /** Positional parameters $1...; */
  args?: readonly string[];
  /** Start with `set -e` / `set -x`. */
  errexit?: boolean;
  xtrace?: boolean;
}

const DEFAULT_ENV: [string, string][] = [
  ['HOME', '/root'],
  ['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
];

/** Run a shell session on `sys` with the programs in `bin`; returns its exit status. */
export function runShellWith(sys: Syscalls, bin: ReadonlyMap<string, Program>, opts: ShellOptions): number {
  const interactive = opts.interactive ?? false;
  const sh = new Shell(sys, { name: 'sh', interactive, bin, pid: sys.getpid() });
  for (const [k, v] of [...DEFAULT_ENV, ...(opts.env ?? [])]) {
    sh.vars.set(k, v);
    sh.exported.add(k);
  }
  try {
    sh.vars.set('PWD', sys.getcwd());
    sh.exported.add('PWD');
  } catch {
    // no cwd to report
  }
  sh.positionalParams = [...(opts.args ?? [])];
  sh.errexit = opts.errexit ?? false;
  sh.xtrace = opts.xtrace ?? false;
  try {
    return interactive ? interactiveLoop(sh, opts) : runScript(sh, opts.script ?? '');
  } catch (e) {
    if (e instanceof ExitShell) return e.status;
    throw e;
  }
}

function runScript(sh: Shell, script: string): number {
  const parser = new Parser(script);
  for (;;) {
    let list: List | undefined;
    try {
      list = parser.parseNext();
    } catch (e) {
      if (!(e instanceof ShSyntaxError)) throw e;
      reportSyntax(sh, e, script);
      return 2;
    }
    if (!list) return sh.status;
    sh.runList(list);
  }
}

function interactiveLoop(sh: Shell, opts: ShellOptions): number {
  const readLine = opts.readLine ?? (() => null);
  const ps1 = opts.prompt ?? '# ';
  let buf = '';
  for (;;) {
    writeStr(sh.sys, 1, buf ? '> ' : ps1);
    const line = readLine();
    if (line === null) {
      if (buf) {
        reportSyntax(sh, new ShSyntaxError('syntax error: unexpected end of file', 0, true), buf);
      }
      writeStr(sh.sys, 2, 'exit\n');
      return sh.status;
    }
    buf += line + '\n';
    let list: List;
    try {
      list = new Parser(buf).parseAll();
    } catch (e) {
      if (!(e instanceof ShSyntaxError)) throw e;
      if (e.incomplete) continue;
      reportSyntax(sh, e, buf);
      sh.status = 2;
      buf = '';
      continue;
    }
    buf = '';
    sh.runList(list);
  }
}

/** bash's syntax error report: the message, and in scripts the offending line quoted. */
function reportSyntax(sh: Shell, e: ShSyntaxError, src: string): void {
  sh.lineno = e.line;
  sh.err(e.message);
  if (!sh.cfg.interactive && e.token !== undefined) {
    sh.err(`\`${src.split('\n')[e.line - 1] ?? ''}'`);
  }
}

/** The `sh` program: `sh [-ex] [-c CMD [NAME [ARG...]] | FILE [ARG...]]`, or a script on stdin. */
export function makeShProgram(bin: ReadonlyMap<string, Program>): Program {
  return ({ sys, argv, env }) => {
    const opts: ShellOptions = { env };
    let i = 1;
    let command: string | undefined;
    for (; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '--') {
        i++;
        break;
      }
      if (!/^-[a-z]+$/.test(a)) break;
      for (const c of a.slice(1)) {
        if (c === 'e') opts.errexit = true;
        else if (c === 'x') opts.xtrace = true;
        else if (c === 'c') command = '';
        else {
          writeStr(sys, 2, `sh: -${c}: invalid option\n`);
          return 2;
        }
      }
    }
    if (command !== undefined) {
      if (i >= argv.length) {
        writeStr(sys, 2, 'sh: -c: option requires an argument\n');
        return 2;
      }
      return runShellWith(sys, bin, { ...opts, script: argv[i]!, args: argv.slice(i + 2) });
    }
    const file = argv[i];
    if (file === undefined) return runShellWith(sys, bin, { ...opts, script: readAll(sys, 0) });
    let script: string;
    try {
      const fd = sys.open(file, O_RDONLY);
      script = readAll(sys, fd);
      sys.close(fd);
    } catch (e) {
      if (!(e instanceof Errno)) throw e;
      writeStr(sys, 2, `sh: ${file}: ${e.strerror}\n`);
      return 127;
    }
    return runShellWith(sys, bin, { ...opts, script, args: argv.slice(i + 1) });
  };
}

/**
 * The shell's interpreter: lists, and-or lists, pipelines, compound commands,
 * `set -e`, and running programs the way a real shell does — fork, set up
 * redirections and pipes in the child, execve, run the program there, and
 * wait4 for its status. Builtins run in the shell's own process.
 */
import { Errno } from '../../lib/errno.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import { readAll, writeStr, type Program } from '../program.ts';
import type { AndOr, Command, List, Pipeline, SimpleCommand } from './ast.ts';
import { BUILTINS } from './builtins.ts';
import { expandWord, expandWords, type ExpandHost } from './expand.ts';
import { ShSyntaxError } from './lexer.ts';
import { Parser } from './parser.ts';
import { ExitShell, LoopControl } from './control.ts';
import { execProgram, reapBackground, waitChild } from './exec.ts';
import { applyRedirs, restoreRedirs, type ExpandedRedir } from './redir.ts';

/** What stays the same in every subshell of one shell. */
export interface ShellConfig {
  /** The name messages are prefixed with (`sh`). */
  readonly name: string;
  readonly interactive: boolean;
  /** Programs by name: what /bin holds. */
  readonly bin: ReadonlyMap<string, Program>;
  /** `$$`: the pid of the top-level shell, also inside subshells. */
  readonly pid: number;
}

/** Returned by runSimple when the process exec'd a program and has ended or parked. */
const EXECED = -1;

/** One shell process: its variables and options, running commands through `sys`. */
export class Shell implements ExpandHost {
  readonly vars: Map<string, string>;
  readonly exported: Set<string>;
  positionalParams: string[];
  status = 0;
  errexit = false;
  xtrace = false;
  /** Depth of contexts in which `set -e` is ignored (conditions, `!`, non-final && ||). */
  private noErrexit = 0;
  /** Depth of enclosing loops, for break/continue. */
  loopDepth = 0;
  /** Line of the command being run, for `sh: line N:` messages. */
  lineno = 0;
  /** Status of the last command substitution of the current command. */
  private subStatus: number | undefined;
  private lastBg = 0;
  private readonly cmdsubCache = new Map<string, List>();

  constructor(
    readonly sys: Syscalls,
    readonly cfg: ShellConfig,
    /** True in a forked subshell (pipeline stage, `( )`, `$( )`). */
    readonly isSubshell = false,
    from?: Shell,
  ) {
    this.vars = new Map(from?.vars);
    this.exported = new Set(from?.exported);
    this.positionalParams = [...(from?.positionalParams ?? [])];
    if (from) {
      this.status = from.status;
      this.errexit = from.errexit;
      this.xtrace = from.xtrace;
      this.lineno = from.lineno;
      this.loopDepth = from.loopDepth;
    }
  }

  /** Print `sh: line N: MSG` (or `sh: MSG` when interactive) on fd 2 of `sys`. */
  err(msg: string, sys: Syscalls = this.sys): void {
    const where = this.cfg.interactive ? '' : `line ${this.lineno}: `;
    writeStr(sys, 2, `${this.cfg.name}: ${where}${msg}\n`);
  }

  /** Run a list; returns its status (also left in $?). */
  runList(list: List): number {
    for (const item of list) {
      if (item.background) this.runBackground(item.andOr);
      else this.status = this.runAndOr(item.andOr);
    }
    return this.status;
  }

  /** Run `list` with set -e suspended, as for the condition of if/while. */
  runCondition(list: List): number {
    this.noErrexit++;
    try {
      return this.runList(list);
    } finally {
      this.noErrexit--;
    }
  }

  private runAndOr(ao: AndOr): number {
    const all = [{ op: '&&' as const, pipeline: ao.first }, ...ao.rest];
    let st = 0;
    all.forEach(({ op, pipeline }, i) => {
      if (i > 0 && (op === '&&' ? st !== 0 : st === 0)) return;
      st = this.runPipeline(pipeline, i < all.length - 1);
    });
    return st;
  }

  private runPipeline(p: Pipeline, inCondition: boolean): number {
    const ignore = p.negate || inCondition;
    if (ignore) this.noErrexit++;
    let st: number;
    try {
      st = p.cmds.length === 1 ? this.runCommand(p.cmds[0]!) : this.runPipe(p.cmds);
    } finally {
      if (ignore) this.noErrexit--;
    }
    if (p.negate) st = st === 0 ? 1 : 0;
    this.status = st;
    // Compound commands are not checked as a whole: their inner commands already were.
    const checked = p.cmds.length > 1 || p.cmds[0]!.type === 'simple' || p.cmds[0]!.type === 'subshell';
    if (st !== 0 && !ignore && checked && this.errexit && this.noErrexit === 0) throw new ExitShell(st);
    return st;
  }

  /** Run one command in this shell (forking only for programs and subshells). */
  runCommand(cmd: Command): number {
    switch (cmd.type) {
      case 'simple':
        return this.runSimple(cmd, false);
      case 'subshell': {
        const child = this.sys.fork();
        this.runInChild(child, cmd);
        return this.waitChild(child.getpid());
      }
      default:
        return this.withRedirs(cmd.redirs, () => this.runCompound(cmd));
    }
  }

  private runCompound(cmd: Exclude<Command, SimpleCommand>): number {
    switch (cmd.type) {
      case 'group':
      case 'subshell':
        return this.runList(cmd.body);
      case 'if': {
        for (const c of cmd.clauses) if (this.runCondition(c.cond) === 0) return this.runList(c.body);
        return cmd.elseBody ? this.runList(cmd.elseBody) : 0;
      }
      case 'while':
      case 'until': {
        let st = 0;
        return this.loop(() => {
          const c = this.runCondition(cmd.cond);
          if (cmd.type === 'while' ? c !== 0 : c === 0) return { done: true, st };
          st = this.runList(cmd.body);
          return { done: false, st };
        });
      }
      case 'for': {
        this.lineno = cmd.line;
        const items = cmd.words ? expandWords(cmd.words, this) : [...this.positionalParams];
        let i = 0;
        let st = 0;
        return this.loop(() => {
          if (i >= items.length) return { done: true, st };
          this.vars.set(cmd.name, items[i++]!);
          st = this.runList(cmd.body);
          return { done: false, st };
        });
      }
    }
  }

  /** Drive a loop body, honouring break/continue. */
  private loop(step: () => { done: boolean; st: number }): number {
    this.loopDepth++;
    let st = 0;
    try {
      for (;;) {
        try {
          const r = step();
          st = r.st;
          if (r.done) return st;
        } catch (e) {
          if (!(e instanceof LoopControl)) throw e;
          st = 0;
          if (e.levels > 1) throw new LoopControl(e.kind, e.levels - 1);
          if (e.kind === 'break') return st;
        }
      }
    } finally {
      this.loopDepth--;
    }
  }

  /** A pipeline: every stage in its own child, stdout of each piped to stdin of the next. */
  private runPipe(cmds: readonly Command[]): number {
    const pids: number[] = [];
    let prevRead = -1;
    cmds.forEach((cmd, i) => {
      const last = i === cmds.length - 1;
      const [r, w] = last ? [-1, -1] : this.sys.pipe();
      const child = this.sys.fork();
      if (prevRead >= 0) {
        child.dup2(prevRead, 0);
        child.close(prevRead);
      }
      if (!last) {
        child.dup2(w, 1);
        child.close(w);
        child.close(r);
      }
      this.runInChild(child, cmd);
      pids.push(child.getpid());
      if (prevRead >= 0) this.sys.close(prevRead);
      if (!last) this.sys.close(w);
      prevRead = r;
    });
    const statuses = pids.map((pid) => this.waitChild(pid));
    return statuses[statuses.length - 1]!;
  }

  /** Run `cmd` as the whole life of a forked child: exec in place, or run and exit. */
  private runInChild(child: Syscalls, cmd: Command): void {
    const sub = this.subshell(child);
    let st: number;
    try {
      if (cmd.type === 'simple') {
        st = sub.runSimple(cmd, true);
        if (st === EXECED) return;
      } else if (cmd.type === 'subshell') {
        st = sub.withRedirs(cmd.redirs, () => sub.runList(cmd.body));
      } else st = sub.runCommand(cmd);
    } catch (e) {
      if (!(e instanceof ExitShell)) throw e;
      st = e.status;
    }
    child.exit(st);
  }

  /** `cmd &`: run to completion in a child that nobody waits for now (reaped later). */
  private runBackground(ao: AndOr): void {
    const child = this.sys.fork();
    const only = ao.rest.length === 0 && !ao.first.negate && ao.first.cmds.length === 1 ? ao.first.cmds[0] : undefined;
    if (only) this.runInChild(child, only); // `prog &` execs prog in the child, so $! is its pid
    else {
      const sub = this.subshell(child);
      let st: number;
      try {
        st = sub.runAndOr(ao);
      } catch (e) {
        if (!(e instanceof ExitShell)) throw e;
        st = e.status;
      }
      child.exit(st);
    }
    this.lastBg = child.getpid();
    this.status = 0;
  }

  /** A copy of this shell running in a forked child. */
  subshell(child: Syscalls): Shell {
    return new Shell(child, this.cfg, true, this);
  }

  /**
   * A simple command. With `inPlace` (we are already the forked child of a
   * pipeline stage) a program is exec'd in this process and EXECED returned.
   */
  private runSimple(cmd: SimpleCommand, inPlace: boolean): number {
    reapBackground(this.sys);
    this.lineno = cmd.line;
    this.subStatus = undefined;
    const argv = expandWords(cmd.words, this);
    const assigns = cmd.assigns.map((a) => [a.name, expandWord(a.value, this)] as const);
    const redirs = cmd.redirs.map((r): ExpandedRedir => ({ fd: r.fd, op: r.op, target: expandWord(r.target, this), raw: r.target.raw }));
    if (argv.length === 0) {
      for (const [k, v] of assigns) this.vars.set(k, v);
      const saved = applyRedirs(this.sys, redirs, true, (m) => this.err(m));
      restoreRedirs(this.sys, saved.saved);
      return saved.ok ? (this.subStatus ?? 0) : 1;
    }
    if (this.xtrace) writeStr(this.sys, 2, `+ ${[...assigns.map(([k, v]) => `${k}=${v}`), ...argv].join(' ')}\n`);
    const builtin = BUILTINS.get(argv[0]!);
    if (builtin) {
      const old = assigns.map(([k]) => [k, this.vars.get(k)] as const);
      for (const [k, v] of assigns) this.vars.set(k, v);
      try {
        return this.withExpandedRedirs(redirs, () => this.runBuiltin(builtin, argv));
      } finally {
        for (const [k, v] of old) if (v === undefined) this.vars.delete(k);
        else this.vars.set(k, v);
      }
    }
    if (inPlace) {
      execProgram(this, this.sys, argv, assigns, redirs);
      return EXECED;
    }
    const child = this.sys.fork();
    execProgram(this, child, argv, assigns, redirs);
    return this.waitChild(child.getpid());
  }

  /** A builtin; a failed write (stdout closed, say) is reported as bash does. */
  private runBuiltin(builtin: (sh: Shell, argv: string[]) => number, argv: string[]): number {
    try {
      return builtin(this, argv);
    } catch (e) {
      if (!(e instanceof Errno)) throw e;
      this.err(`${argv[0]}: write error: ${e.strerror}`);
      return 1;
    }
  }

  /** wait4 for a child and decode its status (see exec.ts); a child left parked becomes `$!`. */
  waitChild(pid: number): number {
    return waitChild(this.sys, pid, (alive) => {
      this.lastBg = alive;
    });
  }

  /** Run `fn` with a compound command's redirections applied to this process, then undo them. */
  private withRedirs(redirs: Command['redirs'], fn: () => number): number {
    if (redirs.length === 0) return fn();
    const expanded = redirs.map((r): ExpandedRedir => ({ fd: r.fd, op: r.op, target: expandWord(r.target, this), raw: r.target.raw }));
    return this.withExpandedRedirs(expanded, fn);
  }

  private withExpandedRedirs(redirs: ExpandedRedir[], fn: () => number): number {
    if (redirs.length === 0) return fn();
    const r = applyRedirs(this.sys, redirs, true, (m) => this.err(m));
    try {
      return r.ok ? fn() : 1;
    } finally {
      restoreRedirs(this.sys, r.saved);
    }
  }

  /** ExpandHost: parameter values. */
  param(name: string): string | undefined {
    switch (name) {
      case '?':
        return String(this.status);
      case '$':
        return String(this.cfg.pid);
      case '#':
        return String(this.positionalParams.length);
      case '!':
        return this.lastBg ? String(this.lastBg) : '';
      case '0':
        return this.cfg.name;
      case '-':
        return (this.errexit ? 'e' : '') + (this.xtrace ? 'x' : '');
    }
    if (/^[1-9][0-9]*$/.test(name)) return this.positionalParams[Number(name) - 1];
    return this.vars.get(name);
  }

  /** ExpandHost: `$@`. */
  positional(): readonly string[] {
    return this.positionalParams;
  }

  /** ExpandHost: `$(...)` — the list runs in a forked subshell whose stdout is a pipe. */
  commandSubst(source: string, line: number): string {
    let list = this.cmdsubCache.get(source);
    if (!list) {
      try {
        list = new Parser(source, line).parseAll();
      } catch (e) {
        if (!(e instanceof ShSyntaxError)) throw e;
        this.err(`command substitution: ${e.message}`);
        this.subStatus = 2;
        return '';
      }
      this.cmdsubCache.set(source, list);
    }
    const [r, w] = this.sys.pipe();
    const child = this.sys.fork();
    child.dup2(w, 1);
    child.close(w);
    child.close(r);
    const sub = this.subshell(child);
    sub.errexit = false; // bash clears -e in command substitutions (no inherit_errexit)
    let st: number;
    try {
      st = sub.runList(list);
    } catch (e) {
      if (!(e instanceof ExitShell)) throw e;
      st = e.status;
    }
    child.exit(st);
    this.sys.close(w);
    const out = readAll(this.sys, r);
    this.sys.close(r);
    this.subStatus = this.waitChild(child.getpid());
    this.status = this.subStatus;
    return out.replace(/\n+$/, '');
  }
}

/**
 * Running a program in a forked child and collecting it: the execve half of
 * fork+exec (redirections, /bin lookup, environment, start()) and the wait4
 * half (decoding the status, bash's report for a death by signal).
 */
import { Errno } from '../../lib/errno.ts';
import { SIGINT, SIGPIPE, strsignal } from '../../uapi/signal.ts';
import { WNOHANG, wexitstatus, wifsignaled, wtermsig, type Syscalls } from '../../uapi/syscalls.ts';
import { start, writeStr, type Program } from '../program.ts';
import type { Shell } from './interp.ts';
import { applyRedirs, type ExpandedRedir } from './redir.ts';

/** In the child `proc`: redirect, execve, run the program; always ends (or parks) `proc`. */
export function execProgram(
  sh: Shell,
  proc: Syscalls,
  argv: string[],
  assigns: readonly (readonly [string, string])[],
  redirs: ExpandedRedir[],
): void {
  const name = argv[0]!;
  if (!applyRedirs(proc, redirs, false, (m) => sh.err(m, proc)).ok) return proc.exit(1);
  const program = lookup(sh.cfg.bin, name);
  if (!program) {
    sh.err(`${name}: ${name.includes('/') ? 'No such file or directory' : 'command not found'}`, proc);
    return proc.exit(127);
  }
  const env = new Map<string, string>();
  for (const k of sh.exported) {
    const v = sh.vars.get(k);
    if (v !== undefined) env.set(k, v);
  }
  for (const [k, v] of assigns) env.set(k, v);
  try {
    proc.execve(name.includes('/') ? name : `/bin/${name}`, argv);
  } catch (e) {
    if (!(e instanceof Errno)) throw e;
    sh.err(`${name}: ${e.strerror}`, proc);
    return proc.exit(e.code === 'ENOENT' ? 127 : 126);
  }
  start(guarded(program, name), { sys: proc, argv, env });
}

/** A command name → program: bare names from /bin, and /bin, /sbin, /usr/bin, /usr/sbin paths. */
function lookup(bin: ReadonlyMap<string, Program>, name: string): Program | undefined {
  if (!name.includes('/')) return bin.get(name);
  const m = /^\/(?:usr\/)?s?bin\/([^/]+)$/.exec(name);
  return m ? bin.get(m[1]!) : undefined;
}

/**
 * wait4 for a child and decode its status. A child still alive (parked in
 * pause()) counts as a background job with status 0. A child killed by a
 * signal gets bash's report: the signal's description on stderr, $? = 128+N.
 */
export function waitChild(sys: Syscalls, pid: number, onAlive?: (pid: number) => void): number {
  let r;
  try {
    r = sys.wait4(pid, WNOHANG);
  } catch (e) {
    if (e instanceof Errno && e.code === 'ECHILD') return 0;
    throw e;
  }
  if (r.pid === 0) {
    onAlive?.(pid);
    return 0;
  }
  if (wifsignaled(r.status)) {
    const sig = wtermsig(r.status);
    if (sig !== SIGPIPE && sig !== SIGINT) writeStr(sys, 2, `${strsignal(sig)}\n`);
    return 128 + sig;
  }
  return wexitstatus(r.status);
}

/** Silently collect background children that have ended. */
export function reapBackground(sys: Syscalls): void {
  for (;;) {
    try {
      if (sys.wait4(-1, WNOHANG).pid === 0) return;
    } catch {
      return;
    }
  }
}

/**
 * A program whose uncaught Errno ends it with a message and status 1, the way
 * an unchecked libc error would surface; Signals pass through to start().
 */
function guarded(program: Program, name: string): Program {
  return (ctx) => {
    try {
      return program(ctx);
    } catch (e) {
      if (!(e instanceof Errno)) throw e;
      writeStr(ctx.sys, 2, `${name}: ${e.strerror}\n`);
      return 1;
    }
  };
}

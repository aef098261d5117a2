/**
 * How a user program is written and started: the model's crt0. A program is a
 * function from its argv to an exit status, making system calls only through the
 * Syscalls it is given. `start` runs it in a process the caller has forked, the
 * way execve + exit would, and turns the outcomes into what a parent observes.
 */
import { Signal } from '../uapi/signal.ts';
import type { Syscalls } from '../uapi/syscalls.ts';

/** Returned by a program that has parked itself with pause() and must stay alive. */
export const HOLD = Symbol('hold');

/** What a program's main receives. */
export interface ProgramContext {
  readonly sys: Syscalls;
  readonly argv: readonly string[];
  /** Exported environment variables. */
  readonly env: ReadonlyMap<string, string>;
}

/** A user program's main(). Output goes to fds 1 and 2 through sys.write. */
export type Program = (ctx: ProgramContext) => number | typeof HOLD;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Write a string to a file descriptor (what printf/fputs do). */
export function writeStr(sys: Syscalls, fd: number, text: string): void {
  if (text.length === 0) return;
  sys.write(fd, encoder.encode(text));
}

/** Read everything from a file descriptor until end of file, as text. */
export function readAll(sys: Syscalls, fd: number): string {
  const parts: Uint8Array[] = [];
  for (;;) {
    const chunk = sys.read(fd, 65536);
    if (chunk.length === 0) break;
    parts.push(chunk);
  }
  return decodeChunks(parts);
}

/** Concatenate byte chunks and decode them as UTF-8. */
export function decodeChunks(parts: readonly Uint8Array[]): string {
  if (parts.length === 1) return decoder.decode(parts[0]);
  let n = 0;
  for (const p of parts) n += p.length;
  const all = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return decoder.decode(all);
}

/**
 * Run `program` as the process behind `sys` (already forked and exec'd) and end
 * the process the way its outcome dictates: exit(status) on return; nothing more
 * on HOLD (the task sleeps in pause()). A Signal the program did not catch is
 * re-raised on the task with its default action, which kills it — as an
 * unhandled SIGBUS or SIGSEGV does.
 */
export function start(program: Program, ctx: ProgramContext): void {
  let status: number | typeof HOLD;
  try {
    status = program(ctx);
  } catch (e) {
    if (!(e instanceof Signal)) throw e;
    ctx.sys.kill(ctx.sys.getpid(), e.signo);
    return;
  }
  if (status === HOLD) return;
  ctx.sys.exit(status);
}

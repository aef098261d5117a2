/**
 * Redirections, applied with open/dup2/close on a process's fd table. For a
 * builtin or compound command the shell first saves the fds it changes (dup)
 * and restores them afterwards, as bash does.
 */
import { Errno } from '../../lib/errno.ts';
import { O_APPEND, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY } from '../../uapi/fcntl.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import type { Redir } from './ast.ts';

/** A redirection whose target word has been expanded. */
export interface ExpandedRedir {
  fd: number;
  op: Redir['op'];
  target: string;
  /** The target as written, for messages. */
  raw: string;
}

/** fd → its saved copy (-1 when it was closed before). */
export type SavedFds = [fd: number, copy: number][];

/**
 * Apply redirections in order. On failure reports through `report` (bash's
 * `FILE: STRERROR`) and stops; `ok` is then false. With `save`, the fds'
 * previous targets are kept for restoreRedirs.
 */
export function applyRedirs(
  sys: Syscalls,
  redirs: readonly ExpandedRedir[],
  save: boolean,
  report: (msg: string) => void,
): { ok: boolean; saved: SavedFds } {
  const saved: SavedFds = [];
  const keep = (fd: number): void => {
    if (!save || saved.some(([f]) => f === fd)) return;
    let copy = -1;
    try {
      copy = sys.dup(fd);
    } catch {
      copy = -1;
    }
    saved.push([fd, copy]);
  };
  for (const r of redirs) {
    try {
      if (r.op === '>&' || r.op === '<&') {
        if (r.target === '-') {
          keep(r.fd);
          closeQuietly(sys, r.fd);
          continue;
        }
        if (/^\d+$/.test(r.target)) {
          const from = Number(r.target);
          if (from === r.fd) continue;
          keep(r.fd);
          try {
            sys.dup2(from, r.fd);
          } catch (e) {
            if (e instanceof Errno && e.code === 'EBADF') {
              report(`${r.target}: Bad file descriptor`);
              return { ok: false, saved };
            }
            throw e;
          }
          continue;
        }
        if (r.op === '<&') {
          report(`${r.raw}: ambiguous redirect`);
          return { ok: false, saved };
        }
      }
      const both = r.op === '&>' || r.op === '>&';
      const flags =
        r.op === '<' ? O_RDONLY : r.op === '>>' ? O_WRONLY | O_CREAT | O_APPEND : O_WRONLY | O_CREAT | O_TRUNC;
      if (r.target === '') {
        report(`${r.raw}: ambiguous redirect`);
        return { ok: false, saved };
      }
      const fd = sys.open(r.target, flags, 0o666);
      for (const target of both ? [1, 2] : [r.fd]) {
        if (fd === target) continue;
        keep(target);
        sys.dup2(fd, target);
      }
      if (!(both ? [1, 2] : [r.fd]).includes(fd)) sys.close(fd);
    } catch (e) {
      if (!(e instanceof Errno)) throw e;
      report(`${r.target}: ${e.strerror}`);
      return { ok: false, saved };
    }
  }
  return { ok: true, saved };
}

/** Put back the fds saved by applyRedirs, last change first. */
export function restoreRedirs(sys: Syscalls, saved: SavedFds): void {
  for (const [fd, copy] of [...saved].reverse()) {
    if (copy >= 0) {
      sys.dup2(copy, fd);
      sys.close(copy);
    } else closeQuietly(sys, fd);
  }
}

function closeQuietly(sys: Syscalls, fd: number): void {
  try {
    sys.close(fd);
  } catch {
    // closing an fd that is not open is not an error for `>&-`
  }
}

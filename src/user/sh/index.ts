/** The shell's entry point with the standard programs of bin.ts on its PATH. */
import type { Syscalls } from '../../uapi/syscalls.ts';
import { BIN } from '../bin.ts';
import type { Program } from '../program.ts';
import { runShellWith, type ShellOptions } from './shell.ts';

/** Options of runShell: a session's options plus, for tests, another program table. */
export interface RunShellOptions extends ShellOptions {
  bin?: ReadonlyMap<string, Program>;
}

/** Run a shell session (a script, or interactive with readLine) as the process `sys`; returns its status. */
export function runShell(sys: Syscalls, opts: RunShellOptions): number {
  return runShellWith(sys, opts.bin ?? BIN, opts);
}

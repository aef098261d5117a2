/**
 * Signals as x86-64 Linux numbers them (include/uapi/asm-generic/signal.h) and
 * the si_code values for SIGSEGV/SIGBUS (include/uapi/asm-generic/siginfo.h).
 */

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGFPE = 8;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGURG = 23;
export const SIGWINCH = 28;

export const SEGV_MAPERR = 1;
export const SEGV_ACCERR = 2;
export const BUS_ADRALN = 1;
export const BUS_ADRERR = 2;
export const BUS_OBJERR = 3;
export const BUS_MCEERR_AR = 4;
export const BUS_MCEERR_AO = 5;
/** si_code of a signal the kernel raised itself (force_sig). */
export const SI_KERNEL = 0x80;

const NAMES: Record<number, [string, string]> = {
  [SIGHUP]: ['SIGHUP', 'Hangup'],
  [SIGINT]: ['SIGINT', 'Interrupt'],
  [SIGQUIT]: ['SIGQUIT', 'Quit'],
  [SIGILL]: ['SIGILL', 'Illegal instruction'],
  [SIGTRAP]: ['SIGTRAP', 'Trace/breakpoint trap'],
  [SIGABRT]: ['SIGABRT', 'Aborted'],
  [SIGBUS]: ['SIGBUS', 'Bus error'],
  [SIGFPE]: ['SIGFPE', 'Floating point exception'],
  [SIGKILL]: ['SIGKILL', 'Killed'],
  [SIGUSR1]: ['SIGUSR1', 'User defined signal 1'],
  [SIGSEGV]: ['SIGSEGV', 'Segmentation fault'],
  [SIGUSR2]: ['SIGUSR2', 'User defined signal 2'],
  [SIGPIPE]: ['SIGPIPE', 'Broken pipe'],
  [SIGALRM]: ['SIGALRM', 'Alarm clock'],
  [SIGTERM]: ['SIGTERM', 'Terminated'],
  [SIGCHLD]: ['SIGCHLD', 'Child exited'],
  [SIGCONT]: ['SIGCONT', 'Continued'],
  [SIGSTOP]: ['SIGSTOP', 'Stopped (signal)'],
  [SIGTSTP]: ['SIGTSTP', 'Stopped'],
  [SIGTTIN]: ['SIGTTIN', 'Stopped (tty input)'],
  [SIGTTOU]: ['SIGTTOU', 'Stopped (tty output)'],
  [SIGURG]: ['SIGURG', 'Urgent I/O condition'],
  [SIGWINCH]: ['SIGWINCH', 'Window changed'],
};

/** glibc's strsignal text ("Bus error"). */
export function strsignal(signo: number): string {
  return NAMES[signo]?.[1] ?? `Unknown signal ${signo}`;
}

/** The signal's name without or with the SIG prefix ("BUS" / "SIGBUS"). */
export function signame(signo: number): string | undefined {
  return NAMES[signo]?.[0];
}

/** Signal number for "TERM", "SIGTERM" or "15". */
export function parseSignal(text: string): number | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return NAMES[n] ? n : undefined;
  }
  const want = text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : 'SIG' + text.toUpperCase();
  for (const [num, [name]] of Object.entries(NAMES)) if (name === want) return Number(num);
  return undefined;
}

/** A synchronous signal delivered to the running task (what a faulting access raises). */
export class Signal extends Error {
  constructor(
    readonly signo: number,
    readonly code: number,
    /** si_addr: the faulting virtual address. */
    readonly addr: number,
    /** si_addr_lsb: log2 of the poisoned mapping's size, for BUS_MCEERR_*. */
    readonly addrLsb = 0,
  ) {
    super(`${signame(signo) ?? signo} code=${code} addr=0x${addr.toString(16)}`);
    this.name = 'Signal';
  }
}

/**
 * Running a case's steps on one side — a model host or this machine's kernel —
 * through a shell that runs one command line at a time, and what came of it.
 */
import { expand, parseStep, type Figures, type VerifyCase, type VerifyContext } from './cases.ts';

/** What one command printed and its exit status. */
export interface ShellResult {
  out: string;
  err: string;
  status: number;
}

/** Run one command line on a side. */
export type Exec = (cmd: string) => ShellResult;

/** A case's outcome on one side: its figures, or why there are none (or not all). */
export interface SideResult {
  figures: Figures;
  /** The side could not run the case (a missing facility); the reason. */
  skipped?: string;
  /** A command failed: the command and its message. */
  error?: string;
  /** Every command run and its output, for --json and debugging. */
  transcript: string;
}

/** The first line a failed command printed. */
function firstLine(r: ShellResult): string {
  return (r.err || r.out).trim().split('\n')[0] ?? '';
}

/** Run the steps in order; stop at the first failure (a `require` step's failure is a skip). */
export function runSteps(exec: Exec, c: VerifyCase, ctx: VerifyContext): SideResult {
  const figures: Figures = new Map();
  const start = new Map<string, number>();
  let transcript = '';
  for (const step of c.steps) {
    const cmd = expand(step.cmd, ctx);
    const r = exec(cmd);
    transcript += `$ ${cmd}\n${r.out}${r.err}`;
    if (step.exit) figures.set(`${step.label ?? cmd}.exit`, r.status);
    if (r.status !== 0 && !step.exit) {
      const why = `${cmd}: ${firstLine(r) || `exit status ${r.status}`}`;
      return step.require ? { figures, skipped: why, transcript } : { figures, error: why, transcript };
    }
    parseStep(step, r.out, figures, start);
  }
  return { figures, transcript };
}

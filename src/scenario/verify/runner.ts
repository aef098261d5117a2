/**
 * `dmemfs verify`: every case (or one) on a model host shaped like this machine
 * and on this machine's kernel, compared figure by figure.
 */
import { CASES, type VerifyCase } from './cases.ts';
import { describeKernel, runLinux, linuxSideUnavailable } from './linux_side.ts';
import { readRealShape, runModel, type RealShape } from './model_side.ts';
import type { SideResult } from './side.ts';
import { caseResult, type VerifyCaseResult } from './table.ts';

/** Options of a verify run. */
export interface VerifyOptions {
  /** Only this case. */
  only?: string;
  /** Run the model side only, saying this instead of the kernel's figures. */
  noKernel?: string;
  progress?: (line: string) => void;
}

/** The whole run: the machine the model was shaped after and each case. */
export interface VerifyResult {
  shape: RealShape;
  /** The real side in one line (release, root, KVM's paging), or why it is unavailable. */
  kernel: string;
  cases: VerifyCaseResult[];
  transcripts: { name: string; model: string; kernel: string }[];
}

/** Look a case up by name; undefined when there is none. */
export function findCase(name: string): VerifyCase | undefined {
  return CASES.find((c) => c.name === name);
}

/** Run the cases. */
export function verify(o: VerifyOptions = {}): VerifyResult {
  // Read per run, not per case: a case's own pool changes are undone before the next.
  const shape = readRealShape();
  const cases = o.only ? CASES.filter((c) => c.name === o.only) : CASES;
  const noKernel = o.noKernel ?? linuxSideUnavailable();
  const out: VerifyResult = { shape, kernel: noKernel ? `unavailable: ${noKernel}` : describeKernel(), cases: [], transcripts: [] };
  for (const c of cases) {
    o.progress?.(`verify: ${c.name}`);
    const model = runModel(c, shape);
    const kernel: SideResult = noKernel ? { figures: new Map(), skipped: noKernel, transcript: '' } : runLinux(c);
    out.cases.push(caseResult(c.name, c.title, model, kernel));
    out.transcripts.push({ name: c.name, model: model.transcript, kernel: kernel.transcript });
  }
  return out;
}

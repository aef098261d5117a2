/**
 * `dmemfs verify [--json] [--case NAME]`: the same scripted cases on a model
 * host shaped like this machine and on this machine's kernel (src/scenario/verify),
 * each figure side by side with a verdict. Where the real side cannot run (not
 * Linux x86-64, no koffi, not root, no /dev/kvm) its column says why and the
 * model side is still printed.
 */
import { formatSizeSuffix } from '../lib/size.ts';
import { CASES } from '../scenario/verify/cases.ts';
import { KNOWN_NOTES } from '../scenario/verify/known.ts';
import { findCase, verify, type VerifyResult } from '../scenario/verify/runner.ts';
import { renderVerifyTable } from '../scenario/verify/table.ts';

/** Parsed `verify` options. */
export interface VerifyArgs {
  json: boolean;
  only: string | null;
}

/** Parse the arguments after `verify`; `usage` builds the error the caller reports. */
export function parseVerifyArgs(args: string[], usage: (msg: string) => Error): VerifyArgs {
  const o: VerifyArgs = { json: false, only: null };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') o.json = true;
    else if (a === '--case') {
      const v = args[++i];
      if (v === undefined) throw usage(`option '--case' requires an argument`);
      if (!findCase(v)) throw usage(`--case: unknown case '${v}' (expected ${CASES.map((c) => c.name).join(', ')})`);
      o.only = v;
    } else throw usage(a.startsWith('-') ? `unknown option '${a}'` : `unexpected argument '${a}'`);
  }
  return o;
}

/** The run as JSON: figures as plain objects. */
export function verifyJson(r: VerifyResult): unknown {
  return {
    machine: r.shape,
    kernel: r.kernel,
    cases: r.cases.map((c) => ({ ...c, rows: c.rows.map((row) => ({ ...row, note: row.known ? KNOWN_NOTES.get(row.known) : undefined })) })),
    transcripts: r.transcripts,
  };
}

/** Run `dmemfs verify`; the exit status is 0 (differences are reported, not failures). */
export function runVerify(o: VerifyArgs, io: { stdout(s: string): void; stderr(s: string): void }): number {
  const r = verify({ ...(o.only ? { only: o.only } : {}), progress: (l) => io.stderr(`${l}\n`) });
  if (o.json) {
    io.stdout(JSON.stringify(verifyJson(r), null, 2) + '\n');
    return 0;
  }
  const s = r.shape;
  io.stdout(`model:  a host of ${formatSizeSuffix(s.mem)}, ${s.nodes} node${s.nodes > 1 ? 's' : ''}, ${s.cpus} CPUs per node, THP ${s.thp ?? 'default'} (shaped like this machine)\n`);
  io.stdout(`kernel: ${r.kernel}\n\n`);
  io.stdout(renderVerifyTable(r.cases, KNOWN_NOTES));
  return 0;
}

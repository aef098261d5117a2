/**
 * `dmemfs verify`'s results: each case's figures side by side, a verdict per
 * figure (same / differs), the known differences noted (each explained in
 * docs/linux.md, "Model vs kernel"), and the terminal table.
 */
import type { Figures } from './cases.ts';
import type { SideResult } from './side.ts';
import { knownDifference } from './known.ts';

/** same: equal; differs: both sides gave different values (or only one gave it). */
export type Verdict = 'same' | 'differs';

/** One figure of one case. */
export interface VerifyRow {
  figure: string;
  model: number | null;
  kernel: number | null;
  /** null where a side has no figures at all (skipped or failed before any). */
  verdict: Verdict | null;
  /** The id of the known difference that explains a `differs`, if any. */
  known: string | null;
}

/** A case's outcome on both sides. */
export interface VerifyCaseResult {
  name: string;
  title: string;
  rows: VerifyRow[];
  /** Why a side has no (or not all) figures: "skipped: …" or "error: …"; null when it ran. */
  model: string | null;
  kernel: string | null;
}

/** Why a side has no (complete) figures, as the table prints it. */
export function sideNote(s: SideResult): string | null {
  return s.skipped ? `skipped: ${s.skipped}` : s.error ? `error: ${s.error}` : null;
}

/** Compare two sides' figures: one row per figure either side gave, model's order first. */
export function compareFigures(caseName: string, model: Figures, kernel: Figures, kernelRan: boolean): VerifyRow[] {
  const names = [...model.keys(), ...[...kernel.keys()].filter((k) => !model.has(k))];
  return names.map((figure) => {
    const m = model.get(figure) ?? null;
    const k = kernel.get(figure) ?? null;
    const verdict: Verdict | null = !kernelRan || model.size === 0 ? null : m === k ? 'same' : 'differs';
    return { figure, model: m, kernel: k, verdict, known: verdict === 'differs' ? knownDifference(caseName, figure) : null };
  });
}

/** Build a case's result from its two sides. */
export function caseResult(name: string, title: string, model: SideResult, kernel: SideResult): VerifyCaseResult {
  const kernelRan = !kernel.skipped && kernel.figures.size > 0;
  return { name, title, rows: compareFigures(name, model.figures, kernel.figures, kernelRan), model: sideNote(model), kernel: sideNote(kernel) };
}

/** The table: case, figure, model, kernel, verdict; a side without a figure says why in its column. */
export function renderVerifyTable(results: readonly VerifyCaseResult[], notes: ReadonlyMap<string, string>): string {
  const lines: string[][] = [['case', 'figure', 'model', 'kernel', 'verdict']];
  /** Cells holding a side's reason: they do not widen their column. */
  const reasons = new Set<string[]>();
  const used: string[] = [];
  for (const r of results) {
    const rows: string[][] = r.rows.map((row) => {
      let verdict: string = row.verdict ?? '';
      if (row.known) {
        if (!used.includes(row.known)) used.push(row.known);
        verdict += ` [${used.indexOf(row.known) + 1}]`;
      }
      return ['', row.figure, row.model === null ? '-' : String(row.model), row.kernel === null ? '-' : String(row.kernel), verdict];
    });
    // Each side's reason goes in its column, on the first row that side has no figure for (else a line of its own).
    for (const [col, note, has] of [[2, r.model, (x: VerifyRow) => x.model], [3, r.kernel, (x: VerifyRow) => x.kernel]] as const) {
      if (!note) continue;
      const i = r.rows.findIndex((x) => has(x) === null);
      const row = i >= 0 ? rows[i]! : ['', '', '', '', ''];
      if (i < 0) rows.push(row);
      row[col] = note;
      reasons.add(row);
    }
    if (rows.length === 0) rows.push(['', '-', '-', '-', '']);
    rows[0]![0] = r.name;
    lines.push(...rows);
  }
  const widths = [0, 1, 2, 3].map((c) => Math.max(...lines.map((l) => (reasons.has(l) && c >= 2 ? 0 : l[c]!.length))));
  let out = lines.map((l) => l.map((cell, c) => (c < 4 ? cell.padEnd(widths[c]!) : cell)).join('  ').trimEnd()).join('\n') + '\n';
  const all = results.flatMap((r) => r.rows);
  const differs = all.filter((r) => r.verdict === 'differs');
  out += `\n${all.filter((r) => r.verdict === 'same').length} same, ${differs.length} differ (${differs.filter((r) => !r.known).length} unexplained)\n`;
  if (used.length) {
    out += '\nKnown differences (docs/linux.md, "Model vs kernel"):\n';
    used.forEach((id, i) => (out += `[${i + 1}] ${id}: ${notes.get(id) ?? ''}\n`));
  }
  return out;
}

/**
 * The terminal table of `dmemfs compare`: plain text at most 120 columns wide,
 * no colour, one row per backend in each section (13 backends read better as
 * rows than as 13 narrow columns). Sections too wide for the terminal are split
 * into column groups, each repeating the backend column.
 */
import { formatHuman } from '../lib/size.ts';
import type { BackendResult, CompareResult } from '../scenario/result.ts';
import { sections, type Column, type Section } from './sections.ts';

/** The widest line the table prints. */
export const TABLE_WIDTH = 120;
const GAP = '  ';
const MIN_WRAP = 24;

/** Words of `text` packed into lines of at most `width` characters (long words are cut). */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (let word of text.split(/\s+/).filter((w) => w !== '')) {
    while (word.length > width) {
      if (line) lines.push(line);
      lines.push(word.slice(0, width));
      word = word.slice(width);
      line = '';
    }
    if (!line) line = word;
    else if (line.length + 1 + word.length <= width) line += ' ' + word;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line || lines.length === 0) lines.push(line);
  return lines;
}

function pad(s: string, width: number, align: 'left' | 'right'): string {
  return align === 'right' ? s.padStart(width) : s.padEnd(width);
}

/** Split columns into groups that fit TABLE_WIDTH beside a key column of `keyWidth`. */
function groupColumns(cols: { col: Column; width: number }[], keyWidth: number): { col: Column; width: number }[][] {
  const groups: { col: Column; width: number }[][] = [];
  let cur: { col: Column; width: number }[] = [];
  let used = keyWidth;
  for (const c of cols) {
    const need = GAP.length + (c.col.wrap ? Math.min(c.width, MIN_WRAP) : c.width);
    if (cur.length > 0 && used + need > TABLE_WIDTH) {
      groups.push(cur);
      cur = [];
      used = keyWidth;
    }
    cur.push(c);
    used += GAP.length + c.width;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}

/** One section as text lines: title, heading, rule, one (possibly wrapped) row per backend. */
function renderSection(sec: Section, rows: BackendResult[], keyWidth: number, first: boolean): string[] {
  const measured = rows.filter((r) => r.error === undefined);
  const sized = sec.columns.map((col) => ({
    col,
    width: Math.max(col.head.length, ...measured.map((r) => col.cell(r).length)),
  }));
  const out: string[] = [sec.title];
  if (sized.length === 0) {
    out.push('  (none)');
    return out;
  }
  for (const group of groupColumns(sized, keyWidth)) {
    // A wrapping column takes whatever width is left on the line.
    const fixed = group.reduce((n, c) => n + GAP.length + (c.col.wrap ? 0 : c.width), keyWidth);
    const widths = group.map((c) => (c.col.wrap ? Math.max(c.col.head.length, Math.min(c.width, TABLE_WIDTH - fixed - GAP.length)) : c.width));
    const line = (key: string, cells: string[]): string =>
      [pad(key, keyWidth, 'left'), ...cells.map((s, i) => pad(s, widths[i]!, group[i]!.col.align))].join(GAP).trimEnd();
    out.push(line('backend', group.map((c) => c.col.head)));
    out.push(line('-'.repeat(keyWidth), widths.map((w) => '-'.repeat(w))));
    const restWidth = TABLE_WIDTH - keyWidth - GAP.length;
    for (const r of rows) {
      if (r.error !== undefined) {
        const msg = first ? `error: ${r.error}` : '(not measured: see the error above)';
        wrapText(msg, restWidth).forEach((l, i) => out.push(pad(i === 0 ? r.id : '', keyWidth, 'left') + GAP + l));
        continue;
      }
      const cells = group.map((c, i) => (c.col.wrap ? wrapText(c.col.cell(r), widths[i]!) : [c.col.cell(r)]));
      const height = Math.max(...cells.map((c) => c.length));
      for (let k = 0; k < height; k++) out.push(line(k === 0 ? r.id : '', cells.map((c) => c[k] ?? '')));
    }
    first = false;
    out.push('');
  }
  out.pop();
  return out;
}

/** The header lines: scenario, host and fleet. */
function renderHeader(result: CompareResult): string[] {
  const s = result.scenario;
  const h = s.host;
  const out = [
    `dmemfs compare: scenario "${s.name}", seed ${s.seed}`,
    `host:  ${formatHuman(h.memory)} memory, ${h.nodes} node${h.nodes === 1 ? '' : 's'}, ${h.cpus} CPU${h.cpus === 1 ? '' : 's'}`,
  ];
  const fleet = s.fleet.length > 0 ? s.fleet : ['(empty)'];
  fleet.forEach((f, i) => wrapText(f, TABLE_WIDTH - 7).forEach((l, k) => out.push(`${i === 0 && k === 0 ? 'fleet:' : ''}`.padEnd(7) + l)));
  const failed = result.results.filter((r) => r.error !== undefined).length;
  out.push(`backends: ${result.results.length}${failed ? ` (${failed} could not be measured)` : ''}; sizes are binary (1.0K = 1024 bytes)`);
  return out;
}

const FOOTER = [
  'How to read this: each backend ran the same fleet on its own freshly booted host; every figure is the model\'s counters.',
  '"total" is host memory the backend spends on itself (struct pages, its metadata, host and second-stage page tables);',
  'the lower it is, the more is left "for guests". "VMs that fit" counts VMs of one shape started until the first failed.',
  'Fewer, larger faults mean cheaper guest start-up; the blast radius is what one memory error in the first VM cost.',
];

/** The whole terminal table for a comparison, ending with a newline; same input, same text. */
export function renderTable(result: CompareResult): string {
  const rows = result.results;
  const keyWidth = Math.max('backend'.length, ...rows.map((r) => r.id.length));
  const out = renderHeader(result);
  sections(result).forEach((sec, i) => {
    out.push('');
    out.push(...renderSection(sec, rows, keyWidth, i === 0));
  });
  out.push('', ...FOOTER);
  return out.join('\n') + '\n';
}

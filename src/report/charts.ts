/**
 * The report's bar charts as inline SVG: (a) host memory each backend spends on
 * itself, as stacked horizontal bars of its four parts; (b) how many VMs of each
 * shape fit, as grouped horizontal bars. A backend that could not be measured
 * gets its row with the error in words instead of a bar.
 */
import { formatHuman } from '../lib/size.ts';
import type { BackendResult, CompareResult, Overhead } from '../scenario/result.ts';
import { formatPercent, shapeNames } from './sections.ts';
import { CHART_WIDTH, PART_COLOURS, SERIES_COLOURS, axis, esc, legend, px, svgOpen, ticks } from './svg.ts';

const LABEL_W = 170;
const BAR_X = LABEL_W + 10;
const VALUE_W = 150;
const BAR_W = CHART_WIDTH - BAR_X - VALUE_W;

/** The four parts of an overhead, in stacking order, with their legend names. */
export const OVERHEAD_PARTS: { key: keyof typeof PART_COLOURS; name: string; short: string }[] = [
  { key: 'structPages', name: 'struct pages (vmemmap)', short: 'struct pages' },
  { key: 'backendMeta', name: 'backend metadata', short: 'metadata' },
  { key: 'hostPageTables', name: 'host page tables', short: 'host PT' },
  { key: 'secPageTables', name: 'second-stage page tables', short: '2nd-stage PT' },
];

/** A row's backend name at the left: id in bold, the human label under it. */
function rowLabel(r: BackendResult, yMid: number): string {
  return `<text x="${LABEL_W}" y="${px(yMid - 2)}" text-anchor="end" class="id">${esc(r.id)}</text>` +
    `<text x="${LABEL_W}" y="${px(yMid + 11)}" text-anchor="end" class="sub">${esc(clip(r.label, 30))}</text>`;
}

/** `s` cut to `n` characters with an ellipsis. */
function clip(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + '…';
}

function errorRow(r: BackendResult, yMid: number): string {
  return `<text x="${BAR_X}" y="${px(yMid + 4)}" class="error">error: ${esc(clip(r.error ?? '', 95))}</text>`;
}

/** Stacked segments of one overhead, each with a tooltip; non-zero parts keep a visible sliver. */
function overheadBar(o: Overhead, y: number, h: number, scale: (v: number) => number): { svg: string; end: number } {
  let x = BAR_X;
  const out: string[] = [];
  for (const part of OVERHEAD_PARTS) {
    const v = o[part.key];
    if (v <= 0) continue;
    const w = Math.max(scale(v), 1.5);
    out.push(`<rect class="seg" data-part="${part.key}" x="${px(x)}" y="${px(y)}" width="${px(w)}" height="${h}" fill="${PART_COLOURS[part.key]}"><title>${esc(`${part.name}: ${formatHuman(v)}`)}</title></rect>`);
    x += w;
  }
  return { svg: out.join(''), end: x };
}

/** The line under a bar naming every part's value, so slivers are readable too. */
function breakdown(o: Overhead, y: number): string {
  const words = OVERHEAD_PARTS.map((p) => `${p.short} ${formatHuman(o[p.key])}`).join('  ·  ');
  return `<text x="${BAR_X}" y="${px(y)}" class="sub">${esc(words)}</text>`;
}

/** Chart (a): host memory spent on each backend itself, stacked by part, total and % of host at the end. */
export function overheadChart(result: CompareResult): string {
  const rows = result.results;
  const measured = rows.filter((r) => r.error === undefined);
  const max = Math.max(0, ...measured.map((r) => r.overhead.total));
  const tickValues = ticks(max, true);
  const top = tickValues[tickValues.length - 1]! >= max ? tickValues[tickValues.length - 1]! : max;
  const scale = (v: number) => (top > 0 ? (v / top) * BAR_W : 0);
  const lg = legend(OVERHEAD_PARTS.map((p) => ({ colour: PART_COLOURS[p.key], label: p.name })), BAR_X, 4, BAR_W + VALUE_W);
  const rowH = 42;
  const y0 = lg.height + 12;
  const height = y0 + rows.length * rowH + 24;
  const body = rows.map((r, i) => {
    const y = y0 + i * rowH;
    const mid = y + 15;
    if (r.error !== undefined) return `<g class="row">${rowLabel(r, mid)}${errorRow(r, mid)}</g>`;
    const bar = overheadBar(r.overhead, y + 6, 17, scale);
    const total = `${formatHuman(r.overhead.total)} · ${formatPercent(r.overhead.total, result.scenario.host.memory)} of host`;
    return `<g class="row bar">${rowLabel(r, mid)}${bar.svg}<text x="${px(bar.end + 6)}" y="${px(mid + 4)}" class="total">${esc(total)}</text>${breakdown(r.overhead, y + 36)}</g>`;
  });
  const title = 'Host memory each backend spends on itself';
  return svgOpen(CHART_WIDTH, height, title, 'chart overhead') +
    lg.svg + axis(tickValues, BAR_X, scale, y0, y0 + rows.length * rowH, true) + body.join('') + '</svg>';
}

/** Chart (b): VMs of each shape that fit on each backend, one bar per shape, grouped by backend. */
export function densityChart(result: CompareResult): string {
  const shapes = shapeNames(result);
  const rows = result.results;
  const max = Math.max(0, ...rows.flatMap((r) => (r.error === undefined ? r.density.map((d) => d.fits) : [])));
  const tickValues = ticks(max, false);
  const top = Math.max(tickValues[tickValues.length - 1]!, max, 1);
  const scale = (v: number) => (v / top) * BAR_W;
  const colour = (i: number) => SERIES_COLOURS[i % SERIES_COLOURS.length]!;
  const lg = legend(shapes.map((s, i) => ({ colour: colour(i), label: `shape ${s}` })), BAR_X, 4, BAR_W + VALUE_W);
  const barH = 13;
  const groupH = (r: BackendResult) => Math.max(34, (r.error === undefined ? shapes.length : 1) * (barH + 3) + 10);
  const y0 = lg.height + 12;
  let y = y0;
  const body: string[] = [];
  for (const r of rows) {
    const h = groupH(r);
    const mid = y + h / 2;
    if (r.error !== undefined) body.push(`<g class="row">${rowLabel(r, mid)}${errorRow(r, mid)}</g>`);
    else {
      const bars = shapes.map((s, i) => {
        const by = y + 5 + i * (barH + 3);
        const d = r.density.find((x) => x.shape === s);
        const fits = d?.fits ?? 0;
        const w = scale(fits);
        const words = d ? `${fits} VM${fits === 1 ? '' : 's'}` : 'not run';
        const tip = d ? `${s}: ${fits} fit${d.failure ? `; then ${d.failure}` : ''}` : `${s}: not run`;
        return `<rect class="bar" data-shape="${esc(s)}" x="${BAR_X}" y="${px(by)}" width="${px(w)}" height="${barH}" fill="${colour(i)}"><title>${esc(tip)}</title></rect>` +
          `<text x="${px(BAR_X + w + 5)}" y="${px(by + barH - 2)}" class="val">${words}</text>`;
      });
      body.push(`<g class="row">${rowLabel(r, mid)}${bars.join('')}</g>`);
    }
    y += h;
  }
  const title = 'VMs of each shape that fit on each backend';
  return svgOpen(CHART_WIDTH, y + 24, title, 'chart density') +
    lg.svg + axis(tickValues, BAR_X, scale, y0, y, false) + body.join('') + '</svg>';
}

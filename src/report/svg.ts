/**
 * Small SVG and HTML building blocks for the report: escaping, number
 * formatting for attributes, legends that flow onto rows, axis ticks, and the
 * colour palettes (Okabe–Ito and Paul Tol's, both safe for colour-blind readers
 * and distinct in greyscale print by lightness).
 */
import { formatSizeSuffix } from '../lib/size.ts';

/** Text made safe for HTML element content and quoted attribute values. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A coordinate with at most two decimals and no trailing zeros (stable output). */
export function px(n: number): string {
  return String(Math.round(n * 100) / 100);
}

/** Estimated width of `s` in px at the report's 12px sans-serif (no font metrics needed). */
export function textWidth(s: string, size = 12): number {
  return s.length * size * 0.56;
}

/** Chart width in px (the viewBox; the page scales it). */
export const CHART_WIDTH = 880;

/** Colours of the four parts of a backend's overhead, also used for the same owners in node maps. */
export const PART_COLOURS = {
  structPages: '#E69F00',
  backendMeta: '#56B4E9',
  hostPageTables: '#D55E00',
  secPageTables: '#CC79A7',
} as const;

/** Series colours (VM shapes, guests): dark and light alternate so neighbours differ in greyscale. */
export const SERIES_COLOURS = ['#0072B2', '#88CCEE', '#009E73', '#332288', '#44AA99', '#AA4499', '#117733', '#882255', '#6699CC', '#DDCC77'];

/** Black or white, whichever contrasts more with `fill` (a #rrggbb colour), by WCAG relative luminance. */
export function inkOn(fill: string): string {
  const lin = [1, 3, 5].map((i) => parseInt(fill.slice(i, i + 2), 16) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  const lum = 0.2126 * lin[0]! + 0.7152 * lin[1]! + 0.0722 * lin[2]!;
  // Equal contrast against black and white falls at luminance ~0.18.
  return lum > 0.18 ? '#000000' : '#FFFFFF';
}

/** One legend entry: a swatch colour and its words. */
export interface LegendItem {
  colour: string;
  label: string;
}

/** A legend as SVG elements flowing onto rows of `width` px from (x, y); returns the markup and its height. */
export function legend(items: LegendItem[], x: number, y: number, width: number): { svg: string; height: number } {
  const row = 20;
  let cx = x;
  let cy = y;
  const parts: string[] = [];
  for (const it of items) {
    const w = 18 + textWidth(it.label) + 18;
    if (cx > x && cx + w > x + width) {
      cx = x;
      cy += row;
    }
    parts.push(
      `<g class="legend-item"><rect x="${px(cx)}" y="${px(cy + 3)}" width="12" height="12" fill="${it.colour}" stroke="#555" stroke-width="0.6"/>` +
        `<text x="${px(cx + 18)}" y="${px(cy + 13)}">${esc(it.label)}</text></g>`,
    );
    cx += w;
  }
  return { svg: `<g class="legend">${parts.join('')}</g>`, height: items.length === 0 ? 0 : cy - y + row };
}

/** Evenly spaced axis ticks from 0 to the first at or past `max`: binary steps for bytes, 1-2-5 steps for counts. */
export function ticks(max: number, binary: boolean, most = 6): number[] {
  if (max <= 0) return [0];
  let step = 1;
  if (binary) {
    while (max / step > most) step *= 2;
  } else {
    const steps = [1, 2, 5];
    for (let k = 0; ; k++) {
      step = steps[k % 3]! * 10 ** Math.floor(k / 3);
      if (max / step <= most) break;
    }
  }
  const out: number[] = [];
  for (let t = 0; ; t += step) {
    out.push(t);
    if (t >= max) break;
  }
  return out;
}

/** Vertical grid lines with labels under them, for a horizontal-bar chart. */
export function axis(tickValues: number[], x0: number, scale: (v: number) => number, top: number, bottom: number, binary: boolean): string {
  return tickValues
    .map((t) => {
      const x = px(x0 + scale(t));
      // Ticks fall on binary multiples, so exact suffixes (768M, 1280M) never round.
      const label = binary ? formatSizeSuffix(t) : String(t);
      return `<line x1="${x}" y1="${px(top)}" x2="${x}" y2="${px(bottom)}" stroke="#d0d0d0" stroke-width="1"/>` +
        `<text x="${x}" y="${px(bottom + 14)}" text-anchor="middle" class="tick">${label}</text>`;
    })
    .join('');
}

/** An <svg> element sized by its viewBox, with a role and an accessible name. */
export function svgOpen(width: number, height: number, title: string, cls: string): string {
  return `<svg class="${cls}" viewBox="0 0 ${px(width)} ${px(height)}" width="${px(width)}" height="${px(height)}" role="img" aria-label="${esc(title)}"><title>${esc(title)}</title>`;
}

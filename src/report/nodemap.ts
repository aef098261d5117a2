/**
 * Chart (c): a picture of each node's physical memory from the backend's
 * NodeMaps: equal cells in address order, left to right and top to bottom,
 * coloured by owner, guest cells coloured per VM (the same VM keeps its colour
 * across backends). Runs of equal cells in a grid row are drawn as one rect
 * carrying data-cells=N, which keeps a 1 TiB host's picture small.
 */
import { formatHuman } from '../lib/size.ts';
import type { BackendResult, CompareResult, NodeMap, Owner } from '../scenario/result.ts';
import { CHART_WIDTH, PART_COLOURS, SERIES_COLOURS, esc, inkOn, legend, px, svgOpen, textWidth, type LegendItem } from './svg.ts';

/** Fill and legend name of every owner; guests are coloured per VM instead. */
export const OWNER_STYLE: Record<Owner, { colour: string; name: string }> = {
  kernel: { colour: '#4D4D4D', name: 'kernel' },
  'struct-pages': { colour: PART_COLOURS.structPages, name: 'struct pages' },
  'page-tables': { colour: PART_COLOURS.hostPageTables, name: 'page tables' },
  'reserved-pool': { colour: '#F0E442', name: 'reserved pool, not yet given to a VM' },
  other: { colour: '#B3B3B3', name: 'other' },
  free: { colour: '#FFFFFF', name: 'free' },
  guest: { colour: '#6A6A9F', name: 'guest (no single VM)' },
};
const OWNER_ORDER: Owner[] = ['kernel', 'struct-pages', 'page-tables', 'reserved-pool', 'guest', 'other', 'free'];

/** Every VM named in any node map, in order of first appearance, so colours agree across backends. */
export function vmOrder(result: CompareResult): string[] {
  const seen = new Set<string>();
  for (const r of result.results) for (const n of r.nodes) for (const v of n.vms) if (v !== '') seen.add(v);
  return [...seen];
}

/** Grid columns for a node of `n` cells: one row for small maps, then 64 or 128 across. */
export function gridColumns(n: number): number {
  if (n <= 64) return Math.max(n, 1);
  return n <= 2048 ? 64 : 128;
}

const GRID_X = 110;
const GRID_W = CHART_WIDTH - GRID_X - 10;

/** One node's grid at `y`: the caption, address labels at row starts, runs of cells. */
function nodeGrid(n: NodeMap, y: number, colourOf: (cell: number) => string): { svg: string; height: number } {
  const cols = gridColumns(n.cells.length);
  const rows = Math.ceil(n.cells.length / cols);
  const cw = GRID_W / cols;
  const ch = Math.min(Math.max(cw, 5), 22);
  const size = n.cells.length * n.cellBytes;
  const caption = `node ${n.nid}: ${formatHuman(size)} from 0x${n.start.toString(16)}, one cell = ${formatHuman(n.cellBytes)}`;
  const out = [`<text x="${GRID_X}" y="${px(y + 12)}" class="caption">${esc(caption)}</text>`];
  const gy = y + 20;
  const every = rows <= 16 ? 1 : 8;
  for (let row = 0; row < rows; row++) {
    const ry = gy + row * ch;
    if (row % every === 0) {
      const addr = n.start + row * cols * n.cellBytes;
      out.push(`<text x="${GRID_X - 6}" y="${px(ry + Math.min(ch, 12) - 2)}" text-anchor="end" class="addr">0x${addr.toString(16)}</text>`);
    }
    const end = Math.min(n.cells.length, (row + 1) * cols);
    for (let i = row * cols; i < end; ) {
      const colour = colourOf(i);
      const key = `${n.cells[i]}\u0000${n.vms[i] ?? ''}`;
      let j = i + 1;
      while (j < end && `${n.cells[j]}\u0000${n.vms[j] ?? ''}` === key) j++;
      const owner = n.cells[i]!;
      const who = owner === 'guest' && n.vms[i] ? `guest ${n.vms[i]}` : OWNER_STYLE[owner].name;
      const from = n.start + i * n.cellBytes;
      const x = GRID_X + (i - row * cols) * cw;
      const w = (j - i) * cw;
      out.push(
        `<rect class="cells" data-cells="${j - i}" data-owner="${owner}" x="${px(x)}" y="${px(ry)}" width="${px(w)}" height="${px(ch)}" fill="${colour}">` +
          `<title>${esc(`${who}: ${formatHuman((j - i) * n.cellBytes)} at 0x${from.toString(16)}`)}</title></rect>`,
      );
      // Name the VM on its cells where the run is wide enough, since colours repeat on big fleets.
      const vm = owner === 'guest' ? (n.vms[i] ?? '') : '';
      if (vm && ch >= 11 && textWidth(vm, 10) + 6 <= w) {
        out.push(`<text x="${px(x + w / 2)}" y="${px(ry + ch / 2 + 3.5)}" text-anchor="middle" class="vm" style="fill:${inkOn(colour)}">${esc(vm)}</text>`);
      }
      i = j;
    }
  }
  // Cell edges as a faint grid over the runs (visible on white and on colour), and a frame.
  const gridH = rows * ch;
  const full = Math.min(n.cells.length, cols);
  out.push(`<rect x="${GRID_X}" y="${px(gy)}" width="${px(full * cw)}" height="${px(gridH)}" fill="none" stroke="#555" stroke-width="0.8"/>`);
  if (cw >= 6) {
    const lines: string[] = [];
    for (let c = 1; c < full; c++) lines.push(`M${px(GRID_X + c * cw)} ${px(gy)}v${px(gridH)}`);
    for (let r = 1; r < rows; r++) lines.push(`M${GRID_X} ${px(gy + r * ch)}h${px(full * cw)}`);
    if (lines.length > 0) out.push(`<path d="${lines.join('')}" stroke="#000000" stroke-opacity="0.18" stroke-width="0.6" fill="none"/>`);
  }
  return { svg: out.join(''), height: 20 + gridH + 14 };
}

/** The memory picture of one backend: a legend of the owners and VMs present, then one grid per node. */
export function nodeMapChart(r: BackendResult, vms: string[]): string {
  const guestColour = (vm: string) => {
    const k = vms.indexOf(vm);
    return k < 0 ? OWNER_STYLE.guest.colour : SERIES_COLOURS[k % SERIES_COLOURS.length]!;
  };
  const present = new Set<Owner>();
  const presentVms = new Set<string>();
  for (const n of r.nodes) {
    n.cells.forEach((c, i) => {
      if (c === 'guest' && n.vms[i]) presentVms.add(n.vms[i]!);
      else present.add(c);
    });
  }
  const items: LegendItem[] = OWNER_ORDER.filter((o) => present.has(o)).map((o) => ({ colour: OWNER_STYLE[o].colour, label: OWNER_STYLE[o].name }));
  const vmList = vms.filter((v) => presentVms.has(v));
  // One entry per VM while every VM has its own colour; past that, one entry saying how to tell them apart.
  if (vmList.length <= SERIES_COLOURS.length) for (const v of vmList) items.push({ colour: guestColour(v), label: `guest ${v}` });
  else items.push({ colour: SERIES_COLOURS[0]!, label: `guest memory of ${vmList.length} VMs (${SERIES_COLOURS.length} colours in turn, names on the cells)` });
  const lg = legend(items, GRID_X, 4, GRID_W);
  let y = lg.height + 8;
  const grids: string[] = [];
  for (const n of r.nodes) {
    const g = nodeGrid(n, y, (i) => (n.cells[i] === 'guest' && n.vms[i] ? guestColour(n.vms[i]!) : OWNER_STYLE[n.cells[i]!].colour));
    grids.push(`<g class="node" data-nid="${n.nid}" data-cells="${n.cells.length}">${g.svg}</g>`);
    y += g.height;
  }
  if (r.nodes.length === 0) {
    grids.push(`<text x="${GRID_X}" y="${px(y + 14)}" class="error">${r.error !== undefined ? `error: ${esc(r.error)}` : 'no node map was recorded'}</text>`);
    y += 24;
  }
  return svgOpen(CHART_WIDTH, y + 4, `Who owns each node's physical memory: ${r.id}`, 'chart nodemap') + lg.svg + grids.join('') + '</svg>';
}

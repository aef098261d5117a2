/**
 * The numbers of a comparison cut into sections of columns, one row per
 * backend. The terminal table and the HTML report both render these, so the two
 * always show the same figures with the same headings and units.
 */
import { formatHuman } from '../lib/size.ts';
import type { BackendResult, CompareResult } from '../scenario/result.ts';

/** One column: a heading and how to render a backend's cell as text. */
export interface Column {
  head: string;
  /** Numbers are right-aligned, words left-aligned. */
  align: 'left' | 'right';
  cell(r: BackendResult): string;
  /** Optional longer text for the HTML report (e.g. why placement stopped). */
  note?(r: BackendResult): string;
  /** The terminal table may wrap this column (long free text, always the last one). */
  wrap?: boolean;
}

/** A titled group of columns; every section has one row per backend. */
export interface Section {
  title: string;
  columns: Column[];
}

/** A count with thousands separators (locale-independent, so output is deterministic). */
export function formatCount(n: number): string {
  const s = String(Math.abs(Math.trunc(n)));
  const grouped = s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return n < 0 ? `-${grouped}` : grouped;
}

/** A share of `whole` as a percentage with two decimals; tiny non-zero shares print as <0.01%. */
export function formatPercent(part: number, whole: number): string {
  if (whole <= 0) return '-';
  if (part === 0) return '0%';
  const p = (part / whole) * 100;
  if (Math.abs(p) < 0.005) return '<0.01%';
  return `${p.toFixed(2)}%`;
}

/** VM shape names in order of first appearance across backends. */
export function shapeNames(result: CompareResult): string[] {
  const seen: string[] = [];
  for (const r of result.results) for (const d of r.density) if (!seen.includes(d.shape)) seen.push(d.shape);
  return seen;
}

const bytes = (get: (r: BackendResult) => number) => (r: BackendResult) => formatHuman(get(r));
const count = (get: (r: BackendResult) => number) => (r: BackendResult) => formatCount(get(r));

/** The sections of the numbers table, in the order both reports show them. */
export function sections(result: CompareResult): Section[] {
  const host = result.scenario.host.memory;
  const num = (head: string, cell: (r: BackendResult) => string): Column => ({ head, align: 'right', cell });
  const word = (head: string, cell: (r: BackendResult) => string): Column => ({ head, align: 'left', cell });
  return [
    {
      title: 'Host memory spent on the backend itself',
      columns: [
        num('struct pages', bytes((r) => r.overhead.structPages)),
        num('metadata', bytes((r) => r.overhead.backendMeta)),
        num('host PT', bytes((r) => r.overhead.hostPageTables)),
        num('2nd-stage PT', bytes((r) => r.overhead.secPageTables)),
        num('total', bytes((r) => r.overhead.total)),
        num('% of host', (r) => formatPercent(r.overhead.total, host)),
        num('for guests', bytes((r) => r.guestAvailable)),
        num('guests used', bytes((r) => r.guestUsed)),
      ],
    },
    {
      title: 'VMs that fit, per shape (placed until one failed)',
      columns: shapeNames(result).map((shape) => ({
        head: shape,
        align: 'right' as const,
        cell: (r: BackendResult) => {
          const d = r.density.find((x) => x.shape === shape);
          return d ? formatCount(d.fits) : '-';
        },
        note: (r: BackendResult) => r.density.find((x) => x.shape === shape)?.failure ?? '',
      })),
    },
    {
      title: 'Faults by level while the fleet ran, and memory zeroed',
      columns: [
        num('host 4K', count((r) => r.hostFaults['4k'])),
        num('host 2M', count((r) => r.hostFaults['2m'])),
        num('host 1G', count((r) => r.hostFaults['1g'])),
        num('2nd-stage 4K', count((r) => r.secondStage['4k'])),
        num('2nd-stage 2M', count((r) => r.secondStage['2m'])),
        num('2nd-stage 1G', count((r) => r.secondStage['1g'])),
        num('zeroed', bytes((r) => r.bytesZeroed)),
      ],
    },
    {
      title: 'Blast radius of one uncorrected memory error in a guest',
      columns: [
        num('lost', bytes((r) => r.blast.bytesLost)),
        num('signalled', count((r) => r.blast.processesSignalled)),
        word('guest survives', (r) => (r.blast.guestSurvives ? 'yes' : 'no')),
        { ...word('what happened', (r) => r.blast.detail), wrap: true },
      ],
    },
    {
      title: 'Features',
      columns: [
        word('fork', (r) => r.features.fork),
        word('VFIO', (r) => r.features.vfio),
        word('NUMA policy', (r) => r.features.numaPolicy),
        word('resize', (r) => r.features.resize),
        word('hot-unplug', (r) => r.features.hotUnplug),
        word('poison unit', (r) => r.features.poisonGranularity),
      ],
    },
  ];
}

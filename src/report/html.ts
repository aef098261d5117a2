/**
 * The HTML report of `dmemfs compare --html FILE`: one self-contained page
 * (inline CSS and SVG, no scripts, no fonts or other resources fetched, no URLs
 * at all) that states the question, the scenario, shows the three charts, then
 * the full numbers (the same sections as the terminal table) and how each host
 * was set up. Same input, same bytes: nothing depends on the date or locale.
 */
import { formatHuman } from '../lib/size.ts';
import type { BackendResult, CompareResult } from '../scenario/result.ts';
import { densityChart, overheadChart } from './charts.ts';
import { nodeMapChart, vmOrder } from './nodemap.ts';
import { sections, type Column, type Section } from './sections.ts';
import { esc } from './svg.ts';

const CSS = `
:root { color-scheme: light; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1a1a1a; background: #fff; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.75rem; line-height: 1.25; margin: 0 0 .6rem; }
h2 { font-size: 1.3rem; margin: 2.4rem 0 .6rem; padding-bottom: .2rem; border-bottom: 2px solid #1a1a1a; }
h3 { font-size: 1.05rem; margin: 1.6rem 0 .4rem; }
p { max-width: 48rem; }
.lede { font-size: 1.05rem; }
dl.scenario { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.scenario dt { font-weight: 600; }
dl.scenario dd { margin: 0; }
dl.scenario ul { margin: 0; padding-left: 1.1rem; }
figure { margin: 1rem 0 1.6rem; break-inside: avoid; }
figcaption { font-size: .9rem; color: #333; margin-top: .3rem; max-width: 48rem; }
svg.chart { width: 100%; height: auto; display: block; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; font-size: 12px; fill: #1a1a1a; }
svg text.id { font-weight: 600; }
svg text.sub, svg text.tick, svg text.addr { font-size: 10.5px; fill: #444; }
svg text.addr { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
svg text.vm { font-size: 10px; }
svg text.caption { font-weight: 600; }
svg text.error { fill: #8B0000; font-style: italic; }
.tablewrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: .85rem; margin: .3rem 0 1.4rem; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; white-space: nowrap; }
th, td { padding: .25rem .55rem; border-bottom: 1px solid #d4d4d4; vertical-align: top; text-align: left; }
thead th { background: #efefef; border-bottom: 2px solid #777; }
tbody th { font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.error { color: #8B0000; }
table.notes { font-size: .75rem; color: #333; }
table.notes td { min-width: 10rem; }
pre { background: #f5f5f5; border: 1px solid #d4d4d4; padding: .45rem .7rem; margin: .2rem 0 .8rem; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .82rem; }
.setup { display: grid; grid-template-columns: 8.5rem 1fr; gap: 0 1rem; align-items: baseline; }
.setup dt { font-weight: 600; font-size: .85rem; }
.setup dd { margin: 0; min-width: 0; }
p.error { color: #8B0000; }
@media print {
  body { max-width: none; margin: 0; font-size: 10.5pt; }
  h2 { break-after: avoid; }
  h3 { break-after: avoid; }
  table, pre { break-inside: avoid; }
  .tablewrap { overflow: visible; }
}
`;

/** "1 CPU", "64 CPUs". */
function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Title, the question in a few sentences, and the scenario. */
function intro(result: CompareResult): string {
  const s = result.scenario;
  const h = s.host;
  const n = result.results.length;
  const failed = result.results.filter((r) => r.error !== undefined);
  const fleet = s.fleet.length > 0 ? `<ul>${s.fleet.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>` : '(empty)';
  return `<h1>What does each way of backing guest memory cost the host?</h1>
<p class="lede">Every 4&nbsp;KiB page Linux manages carries a 64-byte <code>struct page</code>: 1/64 of RAM, 16&nbsp;GiB per TiB,
spent on memory a cloud host then hands to virtual machines that never need it. DMEMFS proposed keeping guest memory out of
the kernel's page map altogether; the kernel took other routes: HugeTLB vmemmap optimisation, compound device-dax pages.
This report puts ${plural(n, 'way')} of backing guest memory side by side on the same host and fleet: what each one costs
the host (struct pages, its own metadata, host and second-stage page tables), and what it gives up in VM density, fault
granularity, the blast radius of a memory error, and features.</p>
<p>Every figure was measured, not computed: for each backend a fresh host of the model was booted with that backend's
kernel command line, set up the way an operator would, and ran the same fleet with <code>vmm</code>; the numbers are read
from the model's own counters (<code>/proc/meminfo</code>, <code>/proc/vmstat</code>, KVM statistics) afterwards.
Sizes are binary: 1.0K is 1024 bytes, 1.0G is 1024<sup>3</sup>.</p>
<h2 id="scenario">Scenario</h2>
<dl class="scenario">
<dt>name</dt><dd>${esc(s.name)} (seed ${s.seed})</dd>
<dt>host</dt><dd>${esc(formatHuman(h.memory))} of memory, ${plural(h.nodes, 'NUMA node')}, ${plural(h.cpus, 'CPU')}</dd>
<dt>fleet</dt><dd>${fleet}</dd>
<dt>backends</dt><dd>${esc(result.results.map((r) => r.id).join(', '))}${failed.length > 0 ? ` (not measured: ${esc(failed.map((r) => r.id).join(', '))})` : ''}</dd>
</dl>`;
}

/** One section of numbers as an HTML table, one row per backend; column notes go in a second, smaller table. */
function sectionTable(sec: Section, rows: BackendResult[], first: boolean): string {
  const table = (caption: string, cls: string, cell: (c: Column, r: BackendResult) => string, numeric: (c: Column) => boolean): string => {
    const head = `<tr><th scope="col">backend</th>${sec.columns.map((c) => `<th scope="col"${numeric(c) ? ' class="num"' : ''}>${esc(c.head)}</th>`).join('')}</tr>`;
    const body = rows.map((r) => {
      const key = `<th scope="row">${esc(r.id)}</th>`;
      if (r.error !== undefined) {
        const msg = first ? `error: ${r.error}` : 'not measured (see the error above)';
        return `<tr>${key}<td class="error" colspan="${Math.max(sec.columns.length, 1)}">${esc(msg)}</td></tr>`;
      }
      return `<tr>${key}${sec.columns.map((c) => `<td${numeric(c) ? ' class="num"' : ''}>${esc(cell(c, r))}</td>`).join('')}</tr>`;
    });
    return `<div class="tablewrap"><table${cls}><caption>${esc(caption)}</caption><thead>${head}</thead><tbody>${body.join('\n')}</tbody></table></div>`;
  };
  const out = [table(sec.title, '', (c, r) => c.cell(r), (c) => c.align === 'right')];
  const noted = rows.some((r) => r.error === undefined && sec.columns.some((c) => (c.note?.(r) ?? '') !== ''));
  if (noted) out.push(table(`${sec.title}: why the next one failed`, ' class="notes"', (c, r) => c.note?.(r) ?? '', () => false));
  return out.join('\n');
}

/** How each backend's host was booted and set up, and how its VMs were started. */
function setupSection(r: BackendResult): string {
  const setup = r.setup.length > 0 ? r.setup.join('\n') : '# nothing: the defaults after boot';
  return `<h3>${esc(r.id)}: ${esc(r.label)}</h3>
${r.error !== undefined ? `<p class="error"><strong>Could not be measured:</strong> ${esc(r.error)}</p>\n` : ''}<dl class="setup">
<dt>boot command line</dt><dd><pre>${esc(r.cmdline)}</pre></dd>
<dt>setup</dt><dd><pre>${esc(setup)}</pre></dd>
<dt>start each VM</dt><dd><pre>${esc(r.vmmStart)}</pre></dd>
</dl>`;
}

/** The whole report as one HTML document; same input, same bytes. */
export function renderHtml(result: CompareResult): string {
  const vms = vmOrder(result);
  const secs = sections(result);
  const parts = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>dmemfs compare: ${esc(result.scenario.name)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    intro(result),
    '<h2 id="overhead">What each backend costs the host</h2>',
    `<figure>${overheadChart(result)}<figcaption>Host memory each backend spends on itself once the fleet is running: struct pages
(the vmemmap, 64 bytes per 4&nbsp;KiB frame the kernel manages), the backend's own metadata, and the page tables of the host
and of the second stage (EPT). The label at the end of each bar gives the total and its share of the host's memory. Bars share
one scale, so a backend that costs almost nothing shows as a sliver.</figcaption></figure>`,
    '<h2 id="density">How many VMs fit</h2>',
    `<figure>${densityChart(result)}<figcaption>For each VM shape, VMs were started one after another on a fresh host until
one failed; the bar is how many started and touched their memory. The tables below say why the next one failed.</figcaption></figure>`,
    `<h2 id="memory">Who owns each node's physical memory</h2>`,
    `<p>Each picture cuts a NUMA node's physical memory into equal cells in address order (left to right, then down); a cell
takes the colour of whoever owns most of it. Guest memory is coloured per VM, and a VM keeps its colour in every picture.</p>`,
    ...result.results.map((r) => `<figure><h3>${esc(r.id)}: ${esc(r.label)}</h3>${nodeMapChart(r, vms)}</figure>`),
    '<h2 id="numbers">The numbers</h2>',
    `<p>Sizes are host bytes; "% of host" is the total overhead as a share of the host's memory; faults are counts of
mappings installed, by page-table level.</p>`,
    ...secs.map((s, i) => sectionTable(s, result.results, i === 0)),
    '<h2 id="setup">How each host was set up</h2>',
    '<p>Exactly what was run for each backend, so any row above can be reproduced by hand with <code>dmemfs sh</code>: the host was booted with the command line, set up with the commands, then each VM was started with the <code>vmm</code> line, NAME and SIZE filled in per VM.</p>',
    ...result.results.map(setupSection),
    '</body>',
    '</html>',
  ];
  return parts.join('\n') + '\n';
}

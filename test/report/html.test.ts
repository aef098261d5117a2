/**
 * The HTML report: well-formed (a tag balancer), self-contained (no URLs, no
 * scripts), escaped, and each chart draws what the result says: one stacked bar
 * per measured backend with one segment per non-zero part, one bar per shape
 * and backend, and node maps whose runs add up to every cell.
 */
import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/report/html.ts';
import { FIXTURE } from './fixture.ts';

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'wbr']);

/** Check tags nest and close; returns the problems found (empty when well-formed). */
function balance(html: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  const body = html.replace(/^<!DOCTYPE html>/i, '');
  // Inside <style> the CSS may hold '>' (child selectors); skip its text.
  const text = body.replace(/(<style>)[\s\S]*?(<\/style>)/g, '$1$2');
  const re = /<(\/?)([A-Za-z][\w-]*)((?:\s+[\w:-]+(?:="[^"]*")?)*)\s*(\/?)>|</g;
  for (const m of text.matchAll(re)) {
    if (m[2] === undefined) {
      problems.push(`stray < at ${m.index}: ${text.slice(m.index, m.index + 30)}`);
      continue;
    }
    const [, close, name, , self] = m;
    const tag = name!.toLowerCase();
    if (close) {
      const top = stack.pop();
      if (top !== tag) problems.push(`</${tag}> closes <${top}> at ${m.index}`);
    } else if (!self && !VOID.has(tag)) stack.push(tag);
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(' ')}`);
  return problems;
}

/** The SVG of each chart of a kind, in document order. */
function charts(html: string, kind: string): string[] {
  return [...html.matchAll(new RegExp(`<svg class="chart ${kind}"[\\s\\S]*?</svg>`, 'g'))].map((m) => m[0]);
}

function count(s: string, re: RegExp): number {
  return (s.match(re) ?? []).length;
}

describe('renderHtml', () => {
  const html = renderHtml(FIXTURE);

  it('is a well-formed document', () => {
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(balance(html)).toEqual([]);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
  });

  it('the tag balancer itself catches bad nesting and stray <', () => {
    expect(balance('<p><b>x</p></b>')).not.toEqual([]);
    expect(balance('<p>a < b</p>')).not.toEqual([]);
    expect(balance('<div><svg><rect x="1"/></svg><br></div>')).toEqual([]);
  });

  it('is self-contained: no URLs, scripts, external resources or fetched fonts', () => {
    expect(html).not.toMatch(/https?:/i);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|\bhref=|url\(|@import|@font-face/i);
  });

  it('escapes < in labels, shape names and fleet lines', () => {
    expect(html).toContain('dmemfs &lt;1G dpages&gt;');
    expect(html).toContain('small&lt;4G&gt;');
    expect(html).not.toContain('<1G dpages>');
    expect(html).not.toContain('small<4G>');
  });

  it('states the question and the scenario', () => {
    expect(html).toContain('<h1>What does each way of backing guest memory cost the host?</h1>');
    expect(html).toContain('64.0G of memory, 2 NUMA nodes, 8 CPUs');
    expect(html).toContain('<li>2 x large: 8G, 4 vCPUs, touches all of it</li>');
  });

  it('draws one stacked overhead bar per measured backend, one segment per non-zero part', () => {
    const [svg] = charts(html, 'overhead');
    expect(count(svg!, /<g class="row bar">/g)).toBe(2);
    // anon-4k: struct pages, host PT, second stage (no metadata); dmemfs-1g: all four.
    expect(count(svg!, /<rect class="seg"/g)).toBe(3 + 4);
    expect(count(svg!, /data-part="backendMeta"/g)).toBe(1);
    expect(svg).toContain('1.1G · 1.76% of host');
    expect(svg).toContain('error: mount: /mnt/huge: unknown filesystem type &#39;hugetlbfs&#39; (ENODEV)');
    expect(count(svg!, /<g class="legend-item">/g)).toBe(4);
  });

  it('draws one density bar per shape and measured backend, labelled with the count', () => {
    const [svg] = charts(html, 'density');
    expect(count(svg!, /<rect class="bar"/g)).toBe(2 * 2);
    expect(svg).toContain('15 VMs');
    expect(svg).toContain('12 VMs');
    expect(count(svg!, /<g class="legend-item">/g)).toBe(2);
  });

  it('draws every cell of every node map, guests coloured per VM the same in each backend', () => {
    const maps = charts(html, 'nodemap');
    expect(maps).toHaveLength(3);
    FIXTURE.results.forEach((r, k) => {
      const nodes = [...maps[k]!.matchAll(/<g class="node" data-nid="(\d+)" data-cells="(\d+)">([\s\S]*?)<\/g>/g)];
      expect(nodes).toHaveLength(r.nodes.length);
      nodes.forEach((m, i) => {
        const runs = [...m[3]!.matchAll(/<rect class="cells" data-cells="(\d+)"/g)].map((x) => Number(x[1]));
        expect(runs.reduce((a, b) => a + b, 0)).toBe(r.nodes[i]!.cells.length);
      });
    });
    const vm0 = maps.slice(0, 2).map((svg) => /data-owner="guest"[^>]*fill="(#\w+)"><title>guest vm0:/.exec(svg)?.[1]);
    expect(vm0[0]).toBeDefined();
    expect(vm0[1]).toBe(vm0[0]);
    // kernel, struct pages, page tables, other, free and six VMs in the first legend.
    expect(count(maps[0]!, /<g class="legend-item">/g)).toBe(11);
    expect(maps[2]).toContain('error: mount: /mnt/huge');
  });

  it('ends with the numbers tables and each backend setup in <pre>', () => {
    expect(count(html, /<table>/g)).toBe(5);
    // Why placement stopped, per shape, in its own small table.
    expect(count(html, /<table class="notes">/g)).toBe(1);
    expect(html).toContain('<td>vmm: vm12: No space left on device (ENOSPC)</td>');
    expect(html).toContain('<td class="num">8,388,608</td>');
    expect(html).toContain('<td class="error" colspan="8">error: mount: /mnt/huge:');
    expect(count(html, /<pre>/g)).toBe(3 * 3);
    expect(html).toContain('<pre>mount -t dmemfs -o pagesize=1G none /mnt/dmem</pre>');
  });

  it('still renders a well-formed page when nothing could be measured', () => {
    const none = { ...FIXTURE, results: [FIXTURE.results[2]!] };
    const page = renderHtml(none);
    expect(balance(page)).toEqual([]);
    expect(page).not.toMatch(/NaN|Infinity|undefined/);
    expect(balance(renderHtml({ ...FIXTURE, results: [] }))).toEqual([]);
  });

  it('is the same bytes every time', () => {
    expect(renderHtml(structuredClone(FIXTURE))).toBe(html);
  });
});

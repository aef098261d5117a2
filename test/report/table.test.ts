/**
 * The terminal table: golden text for the fixture (regenerate with
 * UPDATE_GOLDEN=1 npx vitest run test/report, then read the diff), plus the
 * properties the golden file cannot state: width, alignment, determinism.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatHuman, GiB, KiB, MiB, TiB } from '../../src/lib/size.ts';
import { BACKEND_IDS, type CompareResult } from '../../src/scenario/result.ts';
import { formatCount, formatPercent } from '../../src/report/sections.ts';
import { renderTable, TABLE_WIDTH, wrapText } from '../../src/report/table.ts';
import { FIXTURE } from './fixture.ts';

const GOLDEN = join(import.meta.dirname, 'table.golden.txt');

describe('formatHuman', () => {
  it('prints one decimal below 100 and rounds to nearest, carrying into the next unit', () => {
    expect([0, 512, 4 * KiB, 16 * GiB, 512 * MiB, TiB, 1536 * KiB, 99.96 * MiB, 1023.96 * MiB, 5 * GiB + 1].map(formatHuman)).toEqual(
      ['0', '512B', '4.0K', '16.0G', '512M', '1.0T', '1.5M', '100M', '1.0G', '5.0G'],
    );
  });
});

describe('table helpers', () => {
  it('groups thousands and prints shares with two decimals', () => {
    expect([formatCount(0), formatCount(999), formatCount(8388608), formatCount(-1234)]).toEqual(['0', '999', '8,388,608', '-1,234']);
    expect([formatPercent(16 * GiB, TiB), formatPercent(0, TiB), formatPercent(1, TiB), formatPercent(1, 0)]).toEqual(['1.56%', '0%', '<0.01%', '-']);
  });

  it('wraps words within the width and cuts words that are too long', () => {
    expect(wrapText('aa bb cc dd', 5)).toEqual(['aa bb', 'cc dd']);
    expect(wrapText('abcdefghij x', 4)).toEqual(['abcd', 'efgh', 'ij x']);
    expect(wrapText('', 4)).toEqual(['']);
  });
});

describe('renderTable', () => {
  const text = renderTable(FIXTURE);
  const lines = text.split('\n');

  it('matches the golden file', () => {
    if (process.env.UPDATE_GOLDEN || !existsSync(GOLDEN)) writeFileSync(GOLDEN, text);
    expect(text).toBe(readFileSync(GOLDEN, 'utf8'));
  });

  it('is plain text no wider than 120 columns, with no colour codes or trailing blanks', () => {
    for (const l of lines) {
      expect(l.length).toBeLessThanOrEqual(TABLE_WIDTH);
      expect(l).not.toMatch(/\s$/);
    }
    expect(text.includes('\u001b')).toBe(false);
  });

  it('names the scenario, host and fleet in the header', () => {
    expect(lines[0]).toBe('dmemfs compare: scenario "fixture", seed 1');
    expect(lines[1]).toBe('host:  64.0G memory, 2 nodes, 8 CPUs');
    expect(lines[2]).toBe('fleet: 4 x small<4G>: 4G, 2 vCPUs, touches all of it');
  });

  it('right-aligns numbers under their headings', () => {
    const head = lines.findIndex((l) => l.startsWith('backend') && l.includes('struct pages'));
    const heading = lines[head]!;
    const anon = lines[head + 2]!;
    const dmem = lines[head + 3]!;
    // Each number ends in the same column as its heading.
    for (const [col, a, d] of [['struct pages', '1.0G', '256M'], ['total', '1.1G', '258M'], ['% of host', '1.76%', '0.39%'], ['guests used', '32.0G', '32.0G']]) {
      const end = heading.indexOf(col!) + col!.length;
      expect(anon.slice(end - a!.length, end)).toBe(a);
      expect(dmem.slice(end - d!.length, end)).toBe(d);
      expect(anon[end] ?? ' ').toBe(' ');
    }
    expect(lines[head + 1]).toMatch(/^-{14} {2}-{12} {2}/);
  });

  it('shows the error of a backend that could not be measured, and says so in later sections', () => {
    expect(text).toContain("hugetlb-1g-hvo  error: mount: /mnt/huge: unknown filesystem type 'hugetlbfs' (ENODEV)");
    expect(text.match(/^hugetlb-1g-hvo {2}\(not measured: see the error above\)$/gm)).toHaveLength(4);
  });

  it('renders a comparison where nothing could be measured', () => {
    const out = renderTable({ ...FIXTURE, results: [FIXTURE.results[2]!] });
    expect(out).toContain('VMs that fit, per shape (placed until one failed)\n  (none)');
    expect(out).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('is the same text every time, and only the input changes it', () => {
    expect(renderTable(structuredClone(FIXTURE))).toBe(text);
    const other = structuredClone(FIXTURE);
    other.results[1]!.overhead.backendMeta = 3 * MiB;
    expect(renderTable(other)).not.toBe(text);
  });

  it('stays within 120 columns with all 13 backends and long words, by splitting wide sections', () => {
    const base = FIXTURE.results[0]!;
    const big: CompareResult = {
      scenario: { ...FIXTURE.scenario, host: { memory: 16 * TiB, nodes: 8, cpus: 448 }, fleet: ['x'.repeat(200)] },
      results: BACKEND_IDS.map((id) => ({
        ...structuredClone(base),
        id,
        density: ['tiny', 'small', 'medium', 'large', 'huge', 'giant', 'colossal-with-long-name', 'odd shape 3G'].map((shape, i) => ({ shape, fits: 1000 * i, failure: '' })),
        hostFaults: { '4k': 4294967296, '2m': 8388608, '1g': 16384 },
        features: { ...base.features, fork: 'with MADV_DONTFORK only, and then some more words' },
      })),
    };
    const out = renderTable(big);
    for (const l of out.split('\n')) expect(l.length).toBeLessThanOrEqual(TABLE_WIDTH);
    for (const id of BACKEND_IDS) expect(out).toContain(`\n${id} `);
    expect(out).toContain('colossal-with-long-name');
  });
});

/**
 * dmemfs verify's pure parts: placeholders, reading figures from command output,
 * the verdicts and known differences, the table, the CLI's arguments; and the
 * model side of every case on a booted model host, with the kernel side absent.
 */
import { describe, expect, it } from 'vitest';
import { CASES, expand, parseStep, type Figures } from '../../../src/scenario/verify/cases.ts';
import { KNOWN_NOTES, knownDifference } from '../../../src/scenario/verify/known.ts';
import { runModel, type RealShape } from '../../../src/scenario/verify/model_side.ts';
import { verify } from '../../../src/scenario/verify/runner.ts';
import { runSteps } from '../../../src/scenario/verify/side.ts';
import { caseResult, compareFigures, renderVerifyTable } from '../../../src/scenario/verify/table.ts';
import { parseVerifyArgs, runVerify } from '../../../src/cli/verify.ts';

const SHAPE: RealShape = { mem: 4 * 1024 ** 3, nodes: 1, cpus: 2, thp: 'madvise', nrHugepages: 0, nrOvercommit: 0 };
const figs = (o: Record<string, number>): Figures => new Map(Object.entries(o));

describe('expand', () => {
  it('fills in the directory and pool sizes relative to the start', () => {
    expect(expand('echo {NR+4} > x; echo {NR} {NR-1} {OC+2}; mount none {DIR}/f', { dir: '/d', nr: 3, oc: 1 })).toBe('echo 7 > x; echo 3 2 3; mount none /d/f');
  });
});

describe('parseStep', () => {
  it('reads vmm info pages_* lines', () => {
    const f: Figures = new Map();
    parseStep({ cmd: 'vmm info g', label: 'ram', parse: 'kvm' }, 'name=g\npages_4k=520\npages_2m=63\npages_1g=0\npf_taken=5\n', f, new Map());
    expect([...f]).toEqual([['ram.pages_4k', 520], ['ram.pages_2m', 63], ['ram.pages_1g', 0]]);
  });
  it('reads memtouch faults', () => {
    const f: Figures = new Map();
    parseStep({ cmd: 'memtouch', label: 't', parse: 'faults' }, 'pid=1 addr=0x0 faults 4K=2048 2M=1 1G=0\n', f, new Map());
    expect(Object.fromEntries(f)).toEqual({ 't.faults_4K': 2048, 't.faults_2M': 1, 't.faults_1G': 0 });
  });
  it('reports HugePages_* as changes from the first reading', () => {
    const f: Figures = new Map();
    const start = new Map<string, number>();
    const step = (label: string) => ({ cmd: 'grep', label, parse: 'hugepages' as const });
    parseStep(step('start'), 'HugePages_Total:       5\nHugePages_Free:        5\n', f, start);
    expect(f.size).toBe(0);
    parseStep(step('grow'), 'HugePages_Total:       9\nHugePages_Free:        7\n', f, start);
    expect(Object.fromEntries(f)).toEqual({ 'grow.Total': 4, 'grow.Free': 2 });
  });
});

describe('runSteps', () => {
  const c = { name: 'x', title: 'x', needs: [], steps: [{ cmd: 'need', require: true }, { cmd: 'a', label: 'a', parse: 'faults' as const }, { cmd: 'b' }] };
  it('a failed required step is a skip with its message', () => {
    const r = runSteps((cmd) => ({ out: '', err: cmd === 'need' ? 'mount: unknown filesystem type\n' : '', status: cmd === 'need' ? 32 : 0 }), c, { dir: '', nr: 0, oc: 0 });
    expect(r.skipped).toBe('need: mount: unknown filesystem type');
    expect(r.error).toBeUndefined();
  });
  it('a failed step is an error; figures read before it are kept', () => {
    const r = runSteps((cmd) => ({ out: cmd === 'a' ? 'faults 4K=1 2M=0 1G=0' : '', err: '', status: cmd === 'b' ? 1 : 0 }), c, { dir: '', nr: 0, oc: 0 });
    expect(r.error).toBe('b: exit status 1');
    expect(r.figures.get('a.faults_4K')).toBe(1);
  });
});

describe('verdicts', () => {
  it('same, differs (with the known difference), and none where the kernel did not run', () => {
    const rows = compareFigures('kvm-thp', figs({ 'ram.pages_4k': 0, 'ram.pages_2m': 64, 'ram.pages_1g': 0 }), figs({ 'ram.pages_4k': 520, 'ram.pages_2m': 63, 'ram.pages_1g': 0 }), true);
    expect(rows.map((r) => [r.verdict, r.known])).toEqual([
      ['differs', 'shadow-pt-page'],
      ['differs', 'shadow-pt-page'],
      ['same', null],
    ]);
    expect(compareFigures('memtouch', figs({ 'a.faults_4K': 1 }), figs({ 'a.faults_4K': 2 }), true)[0]).toMatchObject({ verdict: 'differs', known: null });
    expect(compareFigures('memtouch', figs({ 'a.faults_4K': 1 }), new Map(), false)[0]).toMatchObject({ verdict: null, kernel: null });
  });
  it('a figure only one side gave differs', () => {
    const rows = compareFigures('memtouch', figs({ a: 1 }), figs({ a: 1, b: 2 }), true);
    expect(rows.map((r) => [r.figure, r.model, r.kernel, r.verdict])).toEqual([
      ['a', 1, 1, 'same'],
      ['b', null, 2, 'differs'],
    ]);
  });
  it('every known difference has a note', () => {
    for (const c of CASES) for (const f of ['x.pages_4k', 'x.pages_2m', 'x.pages_1g']) {
      const k = knownDifference(c.name, f);
      if (k) expect(KNOWN_NOTES.get(k)).toBeTruthy();
    }
  });
});

describe('renderVerifyTable', () => {
  it('puts a side\'s reason in its column and numbers the known differences', () => {
    const a = caseResult('kvm-thp', 't', { figures: figs({ 'ram.pages_4k': 0, 'ram.pages_2m': 64 }), transcript: '' }, { figures: figs({ 'ram.pages_4k': 520, 'ram.pages_2m': 64 }), transcript: '' });
    const b = caseResult('memtouch', 't', { figures: figs({ 'x.faults_4K': 2048 }), transcript: '' }, { figures: new Map(), skipped: 'not root', transcript: '' });
    expect(renderVerifyTable([a, b], new Map([['shadow-pt-page', 'why']]))).toBe(
      [
        'case      figure        model  kernel  verdict',
        'kvm-thp   ram.pages_4k  0      520     differs [1]',
        '          ram.pages_2m  64     64      same',
        'memtouch  x.faults_4K   2048   skipped: not root',
        '',
        '1 same, 1 differ (0 unexplained)',
        '',
        'Known differences (docs/linux.md, "Model vs kernel"):',
        '[1] shadow-pt-page: why',
        '',
      ].join('\n'),
    );
  });
});

describe('model side', () => {
  it('every case runs on a model host shaped like a small machine', () => {
    for (const c of CASES) {
      const r = runModel(c, SHAPE);
      expect(r.error, c.name).toBeUndefined();
      expect(r.skipped, c.name).toBeUndefined();
      expect(r.figures.size, c.name).toBeGreaterThan(0);
    }
  });
  it('the model\'s figures: 2M guest pages on THP, surplus pages after a shrink, 4K faults without THP', () => {
    const get = (name: string) => runModel(CASES.find((c) => c.name === name)!, SHAPE).figures;
    expect(get('kvm-thp').get('ram.pages_2m')).toBe(64);
    expect(get('kvm-4k').get('memfd.pages_4k')).toBe(32768);
    const h = get('hugetlb-counters');
    expect([h.get('shrink1.Total'), h.get('shrink1.Surp'), h.get('overcommit.Surp'), h.get('end.Total')]).toEqual([4, 3, 2, 0]);
    expect(get('memtouch').get('no-thp.faults_4K')).toBe(2048);
  });
  it('the model starts with the real host\'s pool: with 5 pages already there, shrinking to +1 needs no surplus', () => {
    const h = runModel(CASES.find((c) => c.name === 'hugetlb-counters')!, { ...SHAPE, nrHugepages: 5 }).figures;
    expect([h.get('shrink1.Total'), h.get('shrink1.Free'), h.get('shrink1.Surp'), h.get('end.Total')]).toEqual([1, -1, 0, 0]);
  });
  it('without the kernel side the table says why and still shows the model', () => {
    const r = verify({ only: 'memtouch', noKernel: 'not Linux' });
    expect(r.kernel).toBe('unavailable: not Linux');
    expect(renderVerifyTable(r.cases, KNOWN_NOTES)).toMatch(/memtouch +no-thp\.faults_4K +2048 +skipped: not Linux/);
  });
});

describe('dmemfs verify arguments', () => {
  const usage = (m: string) => new Error(m);
  it('parses --json and --case, rejects the rest', () => {
    expect(parseVerifyArgs(['--json', '--case', 'memtouch'], usage)).toEqual({ json: true, only: 'memtouch' });
    expect(() => parseVerifyArgs(['--case', 'nope'], usage)).toThrow(/unknown case 'nope'/);
    expect(() => parseVerifyArgs(['--case'], usage)).toThrow(/requires an argument/);
    expect(() => parseVerifyArgs(['-x'], usage)).toThrow(/unknown option/);
  });
  it('--json gives the rows', () => {
    let out = '';
    runVerify({ json: true, only: 'memtouch' }, { stdout: (s) => (out += s), stderr: () => {} });
    const j = JSON.parse(out) as { cases: { name: string; rows: { figure: string; model: number }[] }[] };
    expect(j.cases[0]!.rows.find((r) => r.figure === 'no-thp.faults_4K')!.model).toBe(2048);
  });
});

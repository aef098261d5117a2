/** `dmemfs compare` on the command line: options, scenario errors, JSON output. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO, parseCompareArgs, runCompare, type CompareIo } from '../../src/cli/compare.ts';
import { main } from '../../src/cli/main.ts';

function io(files: Record<string, string>): CompareIo & { out: string; err: string; written: Record<string, string> } {
  const r = {
    out: '',
    err: '',
    written: {} as Record<string, string>,
    stdout: (s: string) => void (r.out += s),
    stderr: (s: string) => void (r.err += s),
    readFile: (p: string) => {
      if (!(p in files)) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      return files[p]!;
    },
    writeFile: (p: string, t: string) => void (r.written[p] = t),
  };
  return r;
}

const usage = (m: string) => new Error(m);

describe('dmemfs compare', () => {
  it('parses its options', () => {
    expect(parseCompareArgs([], usage)).toEqual({ file: DEFAULT_SCENARIO, json: false, html: null, backends: null, seed: null });
    expect(parseCompareArgs(['s.yaml', '--json', '--html', 'r.html', '--backends', 'thp,dmemfs-1g', '--seed', '7'], usage)).toEqual({
      file: 's.yaml', json: true, html: 'r.html', backends: ['thp', 'dmemfs-1g'], seed: 7,
    });
    expect(() => parseCompareArgs(['--backends', 'thp,zfs'], usage)).toThrow("--backends: unknown backend 'zfs'");
    expect(() => parseCompareArgs(['--seed', 'x'], usage)).toThrow("--seed: not a number: 'x'");
    expect(() => parseCompareArgs(['--frob'], usage)).toThrow("unknown option '--frob'");
  });

  it('names the bad field and exits 1', () => {
    const t = io({ 'bad.yaml': 'host: {memory: 64G}\nfleet: {shapes: [{name: a, memory: 16Q, count: 1}]}\n' });
    expect(runCompare(parseCompareArgs(['bad.yaml'], usage), t)).toBe(1);
    expect(t.err).toBe('dmemfs compare: bad.yaml: fleet.shapes[0].memory: expected a size like 16G, got "16Q"\n');
    const m = io({});
    expect(runCompare(parseCompareArgs(['missing.yaml'], usage), m)).toBe(1);
    expect(m.err).toBe('dmemfs compare: missing.yaml: No such file or directory\n');
  });

  it('prints JSON, writes HTML and reports progress on stderr', () => {
    const t = io({ 's.yaml': 'host: {memory: 8G, reserve: 2G}\nfleet: {shapes: [{name: a, memory: 1G, fill: true, touch: 4M}]}\nbackends: [dmemfs-1g]\n' });
    expect(runCompare(parseCompareArgs(['s.yaml', '--json', '--html', 'r.html'], usage), t)).toBe(0);
    const r = JSON.parse(t.out);
    expect(r.results.map((x: { id: string }) => x.id)).toEqual(['dmemfs-1g']);
    expect(r.results[0].density[0].fits).toBeGreaterThan(0);
    expect(t.written['r.html']).toMatch(/^<!DOCTYPE html>/i);
    expect(t.err).toContain('dmemfs-1g: booting');
  });

  it('bad options are usage errors (exit 2)', async () => {
    expect(await main(['compare', '--backends', 'nope'])).toBe(2);
  });
});

/**
 * free(1), procps-ng 4 format (src/free.c): columns of %11s after a 9-wide
 * label; used = MemTotal - MemAvailable; buff/cache = Buffers + Cached +
 * SReclaimable. Units: KiB by default, -b/-k/-m/-g, -h human, --si, -w, -t.
 */
import type { Program } from '../program.ts';
import { getopt, out, readFile, usage } from './common.ts';

/** Parse /proc/meminfo into kB values by field name. */
export function parseMeminfo(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const r = /^([^:]+):\s+(\d+)/.exec(line);
    if (r) m.set(r[1]!, Number(r[2]));
  }
  return m;
}

/** procps scale_size: one value (in KiB) in the chosen unit. */
export function scaleSize(kib: number, exponent: number, human: boolean, si: boolean): string {
  const base = si ? 1000 : 1024;
  const bytes = kib * 1024;
  if (!human) {
    if (exponent === 0) return String(kib);
    if (exponent === 1) return String(bytes);
    return String(Math.floor(bytes / base ** (exponent - 1)));
  }
  if (`${bytes}B`.length <= 4) return `${bytes}B`;
  const up = 'BKMGTP';
  for (let i = 1; i < up.length; i++) {
    const v = bytes / base ** i;
    const suffix = si ? up[i]! : `${up[i]}i`;
    const limit = si ? 4 : 5;
    const one = `${(Math.round(v * 10) / 10).toFixed(1)}${suffix}`;
    if (one.length <= limit) return one;
    const whole = `${Math.floor(v)}${suffix}`;
    if (whole.length <= limit) return whole;
  }
  return `${Math.floor(bytes / base ** 5)}${si ? 'P' : 'Pi'}`;
}

/** free [-b|-k|-m|-g] [-h] [--si] [-w] [-t] */
export const free: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'bkmghwtl', { bytes: 'b', kibi: 'k', mebi: 'm', gibi: 'g', human: 'h', si: 'S', wide: 'w', total: 't' });
  if ('error' in p) return usage(sys, 'free', p.error);
  if (p.operands.length) return usage(sys, 'free', '');
  let exponent = 0;
  let human = false;
  let si = false;
  let wide = false;
  let total = false;
  for (const [c] of p.opts) {
    if (c in { b: 1, k: 1, m: 1, g: 1 }) exponent = { b: 1, k: 2, m: 3, g: 4 }[c as 'b']!;
    else if (c === 'h') human = true;
    else if (c === 'S') si = true;
    else if (c === 'w') wide = true;
    else if (c === 't') total = true;
  }
  const mi = parseMeminfo(readFile(sys, '/proc/meminfo'));
  const g = (k: string): number => mi.get(k) ?? 0;
  const memTotal = g('MemTotal');
  const memFree = g('MemFree');
  let avail = mi.has('MemAvailable') ? g('MemAvailable') : memFree;
  if (avail > memTotal) avail = memFree;
  let used = memTotal - avail;
  if (used < 0) used = memTotal - memFree;
  const cached = g('Cached') + g('SReclaimable');
  const swapTotal = g('SwapTotal');
  const swapFree = g('SwapFree');
  const swapUsed = Math.max(0, swapTotal - swapFree);
  const f = (n: number): string => scaleSize(n, exponent, human, si).padStart(11);
  const label = (s: string): string => s.padEnd(9);
  out(
    sys,
    wide
      ? '               total        used        free      shared     buffers       cache   available\n'
      : '               total        used        free      shared  buff/cache   available\n',
  );
  const cache = wide ? `${f(g('Buffers'))} ${f(cached)}` : f(g('Buffers') + cached);
  out(sys, `${label('Mem:')}${f(memTotal)} ${f(used)} ${f(memFree)} ${f(g('Shmem'))} ${cache} ${f(avail)}\n`);
  out(sys, `${label('Swap:')}${f(swapTotal)} ${f(swapUsed)} ${f(swapFree)}\n`);
  if (total) out(sys, `${label('Total:')}${f(memTotal + swapTotal)} ${f(used + swapUsed)} ${f(memFree + swapFree)}\n`);
  return 0;
};

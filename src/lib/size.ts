/**
 * Sizes, alignment and size parsing. Addresses are JS numbers (exact below 2^53),
 * so nothing here uses 32-bit bitwise operators on them.
 */

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;
export const PiB = 1024 * TiB;

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PMD_SIZE = 2 * MiB;
export const PUD_SIZE = GiB;
/** Frames per 2 MiB and per 1 GiB page. */
export const PAGES_PER_PMD = PMD_SIZE / PAGE_SIZE;
export const PAGES_PER_PUD = PUD_SIZE / PAGE_SIZE;

/** Round `x` down to a multiple of `a` (any positive a). */
export function alignDown(x: number, a: number): number {
  return x - (x % a);
}

/** Round `x` up to a multiple of `a` (any positive a). */
export function alignUp(x: number, a: number): number {
  const r = x % a;
  return r === 0 ? x : x + (a - r);
}

/** True when `x` is a multiple of `a`. */
export function isAligned(x: number, a: number): boolean {
  return x % a === 0;
}

/** True for 1, 2, 4, 8, ... (exact for any safe integer). */
export function isPowerOf2(x: number): boolean {
  if (!Number.isSafeInteger(x) || x <= 0) return false;
  while (x > 1) {
    if (x % 2 !== 0) return false;
    x /= 2;
  }
  return true;
}

/** log2 of a power of two. */
export function ilog2(x: number): number {
  let n = 0;
  while (x >= 2) {
    x = Math.floor(x / 2);
    n++;
  }
  return n;
}

/** Physical address → page frame number. */
export function pfnOf(addr: number): number {
  return Math.floor(addr / PAGE_SIZE);
}

/** Page frame number → physical address. */
export function pfnToAddr(pfn: number): number {
  return pfn * PAGE_SIZE;
}

const MEMPARSE_SHIFT: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5, e: 6 };

/**
 * The kernel's memparse() (lib/cmdline.c): simple_strtoull with base 0 (so 0x hex
 * and leading-0 octal), then one optional K/M/G/T/P/E suffix (either case).
 * Returns the value and the unparsed rest; `value` is NaN when no digits were read
 * (the kernel returns 0 with the pointer not advanced; callers check the pointer).
 */
export function memparse(s: string): { value: number; rest: string } {
  let i = 0;
  let base = 10;
  if (s.startsWith('0x') || s.startsWith('0X')) {
    if (/^[0-9a-fA-F]$/.test(s[2] ?? '')) {
      base = 16;
      i = 2;
    }
  } else if (s.startsWith('0')) {
    base = 8;
  }
  const digit = base === 16 ? /[0-9a-fA-F]/ : base === 8 ? /[0-7]/ : /[0-9]/;
  const start = i;
  let value = 0;
  while (i < s.length && digit.test(s[i]!)) {
    value = value * base + parseInt(s[i]!, base);
    i++;
  }
  if (i === start) return { value: NaN, rest: s };
  const shift = MEMPARSE_SHIFT[(s[i] ?? '').toLowerCase()];
  if (shift !== undefined) {
    value *= 1024 ** shift;
    i++;
  }
  return { value, rest: s.slice(i) };
}

const COREUTILS_UNITS = 'KMGTPEZY';

/**
 * A size as coreutils and util-linux accept it: an integer with an optional
 * suffix K, M, G, T, P, E (powers of 1024; also KiB, MiB, ...) or KB, MB, ...
 * (powers of 1000). Returns undefined when the text is not a size.
 */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+)(?:([KMGTPEkmgtpe])(iB|B)?|(b))?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[4]) return n * 512;
  if (!m[2]) return n;
  const power = COREUTILS_UNITS.indexOf(m[2].toUpperCase()) + 1;
  const base = m[3] === 'B' ? 1000 : 1024;
  const v = n * base ** power;
  return Number.isSafeInteger(v) ? v : undefined;
}

/** Human-readable binary size: 0, 4 KiB, 1.5 GiB, 16 TiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let u = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${n} B`;
  const s = Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1).replace(/\.?0+$/, '');
  return `${s} ${units[u]}`;
}

/** Compact size as the kernel prints it in boot messages: 4K, 2M, 1G (exact units only). */
export function formatSizeSuffix(n: number): string {
  const units: [number, string][] = [[TiB, 'T'], [GiB, 'G'], [MiB, 'M'], [KiB, 'K']];
  for (const [u, s] of units) if (n >= u && n % u === 0) return `${n / u}${s}`;
  return String(n);
}

/** Hex with 0x prefix, zero-padded to `width` digits. */
export function hex(n: number, width = 0): string {
  return '0x' + n.toString(16).padStart(width, '0');
}

/**
 * Short human size for reports, like `free -h` but rounded to nearest and always
 * with one decimal below 100: 0, 512B, 4.0K, 16.0G, 512M, 1.0T.
 */
export function formatHuman(n: number): string {
  if (n === 0) return '0';
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  if (v < 1024) return `${sign}${Math.round(v)}B`;
  const units = 'KMGTPE';
  let e = 0;
  v /= 1024;
  while (v >= 1024 && e < units.length - 1) {
    v /= 1024;
    e++;
  }
  // Rounding may carry into the next unit (1023.96M is 1.0G, 99.96G is 100G).
  if (v < 99.95) return `${sign}${v.toFixed(1)}${units[e]}`;
  const r = Math.round(v);
  if (r >= 1024 && e < units.length - 1) return `${sign}1.0${units[e + 1]}`;
  return `${sign}${r}${units[e]}`;
}

/**
 * memtouch: map memory, touch it, report the faults it took by page size —
 * a program in the style of the kernel's mm selftests. It uses only system
 * calls, so it runs unchanged wherever Syscalls is implemented.
 *
 * Fault counts come from /proc/self/model_faults, a file the model adds to
 * /proc (Linux has no per-process count of faults by mapping level).
 * --pagemap then counts the mapping's pages by /proc/self/pagemap's bits
 * (present, exclusively mapped, file or shared, swapped), Linux's own file.
 */
import { Errno } from '../lib/errno.ts';
import { PAGE_SIZE, parseSize } from '../lib/size.ts';
import { O_CREAT, O_RDWR } from '../uapi/fcntl.ts';
import { MADV_HUGEPAGE, MADV_NOHUGEPAGE, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../uapi/mman.ts';
import type { Syscalls } from '../uapi/syscalls.ts';
import { HOLD, readAll, writeStr, type ProgramContext } from './program.ts';

const USAGE =
  'usage: memtouch (--anon | --file PATH [--create]) --size SIZE [--offset OFF] [--private]\n' +
  '                [--read | --write] [--touch all|none|SIZE] [--fill BYTE] [--verify BYTE]\n' +
  '                [--thp | --no-thp] [--pagemap] [--hold]\n';

interface Options {
  anon: boolean;
  file: string | null;
  create: boolean;
  size: number;
  offset: number;
  private: boolean;
  write: boolean;
  touch: number | 'all';
  fill: number | null;
  verify: number | null;
  thp: boolean | null;
  pagemap: boolean;
  hold: boolean;
}

class UsageError extends Error {}

function parseByte(text: string): number {
  const v = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(v >= 0 && v <= 255)) throw new UsageError(`invalid byte value '${text}'`);
  return v;
}

function parseSz(text: string, what: string): number {
  const v = parseSize(text);
  if (v === undefined) throw new UsageError(`invalid ${what} '${text}'`);
  return v;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { anon: false, file: null, create: false, size: -1, offset: 0, private: false, write: true, touch: 'all', fill: null, verify: null, thp: null, pagemap: false, hold: false };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`option '${a}' requires an argument`);
      return v;
    };
    switch (a) {
      case '--anon': o.anon = true; break;
      case '--file': o.file = val(); break;
      case '--create': o.create = true; break;
      case '--size': o.size = parseSz(val(), 'size'); break;
      case '--offset': o.offset = parseSz(val(), 'offset'); break;
      case '--private': o.private = true; break;
      case '--read': o.write = false; break;
      case '--write': o.write = true; break;
      case '--touch': {
        const v = val();
        o.touch = v === 'all' ? 'all' : v === 'none' ? 0 : parseSz(v, 'touch size');
        break;
      }
      case '--fill': o.fill = parseByte(val()); break;
      case '--verify': o.verify = parseByte(val()); break;
      case '--thp': o.thp = true; break;
      case '--no-thp': o.thp = false; break;
      case '--pagemap': o.pagemap = true; break;
      case '--hold': o.hold = true; break;
      default: throw new UsageError(`unrecognized option '${a}'`);
    }
  }
  if (o.anon === (o.file !== null)) throw new UsageError('exactly one of --anon and --file is required');
  if (o.size <= 0) throw new UsageError('--size is required and must be positive');
  if (o.create && !o.file) throw new UsageError('--create needs --file');
  return o;
}

/** The model's per-process fault counts by level: [4K, 2M, 1G]. */
function faultCounts(sys: Syscalls): number[] {
  const fd = sys.open('/proc/self/model_faults', 0);
  try {
    const text = readAll(sys, fd);
    const get = (k: string): number => Number(new RegExp(`^${k}\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return [get('4K'), get('2M'), get('1G')];
  } finally {
    sys.close(fd);
  }
}

/** Pages of [addr, addr + size) with each /proc/self/pagemap bit set (pagemap.rst: 63 present, 62 swap, 61 file, 56 exclusive). */
function pagemapCounts(sys: Syscalls, addr: number, size: number): { present: number; exclusive: number; file: number; swap: number } {
  const c = { present: 0, exclusive: 0, file: 0, swap: 0 };
  const fd = sys.open('/proc/self/pagemap', 0);
  try {
    const pages = Math.ceil(size / PAGE_SIZE);
    const b = sys.pread(fd, 8 * pages, (addr / PAGE_SIZE) * 8);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 4; i < b.length; i += 8) {
      const hi = dv.getUint32(i, true);
      if (hi >>> 31) c.present++;
      if ((hi >>> 30) & 1) c.swap++;
      if ((hi >>> 29) & 1) c.file++;
      if ((hi >>> 24) & 1) c.exclusive++;
    }
  } finally {
    sys.close(fd);
  }
  return c;
}

/** memtouch's main. */
export function memtouch({ sys, argv }: ProgramContext): number | typeof HOLD {
  let o: Options;
  try {
    o = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    writeStr(sys, 2, `memtouch: ${e.message}\n${USAGE}`);
    return 2;
  }
  let fd = -1;
  if (o.file) {
    try {
      fd = sys.open(o.file, O_RDWR | (o.create ? O_CREAT : 0), 0o644);
    } catch (e) {
      if (!(e instanceof Errno)) throw e;
      writeStr(sys, 2, `memtouch: ${o.file}: ${e.strerror}\n`);
      return 1;
    }
    if (o.create && sys.fstat(fd).size < o.offset + o.size) {
      try {
        sys.ftruncate(fd, o.offset + o.size);
      } catch (e) {
        if (!(e instanceof Errno)) throw e;
        writeStr(sys, 2, `memtouch: ftruncate: ${e.strerror}\n`);
        return 1;
      }
    }
  }
  const before = faultCounts(sys);
  let addr: number;
  try {
    const flags = o.anon ? MAP_PRIVATE | MAP_ANONYMOUS : o.private ? MAP_PRIVATE : MAP_SHARED;
    addr = sys.mmap(0, o.size, PROT_READ | PROT_WRITE, flags, fd, o.offset);
  } catch (e) {
    if (!(e instanceof Errno)) throw e;
    writeStr(sys, 2, `memtouch: mmap: ${e.strerror}\n`);
    return 1;
  }
  if (fd >= 0) sys.close(fd);
  if (o.thp !== null) {
    try {
      sys.madvise(addr, o.size, o.thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    } catch (e) {
      if (!(e instanceof Errno)) throw e;
      writeStr(sys, 2, `memtouch: madvise: ${e.strerror}\n`);
      return 1;
    }
  }
  const span = o.touch === 'all' ? o.size : Math.min(o.touch, o.size);
  touch(sys, addr, span, o);
  const after = faultCounts(sys);
  const d = after.map((v, i) => v - before[i]!);
  writeStr(sys, 1, `pid=${sys.getpid()} addr=0x${addr.toString(16)} faults 4K=${d[0]} 2M=${d[1]} 1G=${d[2]}\n`);
  if (o.pagemap) {
    const c = pagemapCounts(sys, addr, o.size);
    writeStr(sys, 1, `pagemap present=${c.present} exclusive=${c.exclusive} file=${c.file} swap=${c.swap}\n`);
  }
  if (o.verify !== null) {
    const bad = verify(sys, addr, span, o.verify);
    if (bad) {
      writeStr(sys, 2, `verify failed at 0x${bad.addr.toString(16)}: got 0x${bad.got.toString(16).padStart(2, '0')}\n`);
      return 1;
    }
  }
  if (o.hold) {
    sys.pause();
    return HOLD;
  }
  return 0;
}

/** Touch [addr, addr+span): fill every byte, or one access per page. */
function touch(sys: Syscalls, addr: number, span: number, o: Options): void {
  if (o.fill !== null) {
    const page = new Uint8Array(PAGE_SIZE).fill(o.fill);
    for (let off = 0; off < span; off += PAGE_SIZE) sys.store(addr + off, page.subarray(0, Math.min(PAGE_SIZE, span - off)));
    return;
  }
  const zero = new Uint8Array(1);
  for (let off = 0; off < span; off += PAGE_SIZE) {
    if (o.write) sys.store(addr + off, zero);
    else sys.load(addr + off, 1);
  }
}

/** The first byte in the range that is not `want`, if any. */
function verify(sys: Syscalls, addr: number, span: number, want: number): { addr: number; got: number } | null {
  const word = want * 0x01010101;
  for (let off = 0; off < span; off += PAGE_SIZE) {
    const bytes = sys.load(addr + off, Math.min(PAGE_SIZE, span - off));
    const i = firstMismatch(bytes, want, word);
    if (i >= 0) return { addr: addr + off + i, got: bytes[i]! };
  }
  return null;
}

/** Index of the first byte that is not `want`, or -1; compares four bytes at a time. */
function firstMismatch(bytes: Uint8Array, want: number, word: number): number {
  const words = bytes.byteOffset % 4 === 0 ? Math.floor(bytes.length / 4) : 0;
  const w = new Uint32Array(bytes.buffer, bytes.byteOffset, words);
  let i = 0;
  while (i < words && w[i] === word) i++;
  for (let b = i * 4; b < bytes.length; b++) if (bytes[b] !== want) return b;
  return -1;
}

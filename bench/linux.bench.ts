/**
 * Benchmarks on real memory (issue 7's bar), each against a physical limit
 * measured in the same run: memset bandwidth over an already-populated anonymous
 * mapping. Then, best of 3:
 *   - GiB/s to make memory ready: anonymous mmap with MAP_POPULATE (4K pages),
 *     anonymous with MADV_HUGEPAGE + MADV_POPULATE_WRITE (THP), a hugetlbfs memfd
 *     (MFD_HUGETLB 2M, MAP_POPULATE; the pool sized for it and restored), and a
 *     file of the user-space dmemfs (src/linux/dmemfs: mmap allocates, zeroes and
 *     maps its dpages), each as a ratio of memset bandwidth;
 *   - the time for a real KVM guest (vmm start, then `vmm run --pattern seq
 *     --write` over all its memory, under `sh --linux`) on each backend: ram (THP),
 *     memfd (4K), memfd --hugetlb (2M), a dmemfs file; with KVM's pages_4k/2m.
 * Everything reserved (hugetlb pool pages, the dmemfs mount) is given back in
 * finally blocks, and by the session's watchdog should Node die.
 * Where koffi, Linux x86-64 or root is missing, prints one line and exits 0.
 * Run: node bin/run-ts.mjs bench/linux.bench.ts   (DMEMFS_BENCH_MIB=512 for a smaller run)
 */
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { GiB, MiB } from '../src/lib/size.ts';
import { linuxUnavailable } from '../src/cli/sh_linux.ts';

const why = linuxUnavailable() ?? (process.getuid?.() !== 0 ? 'needs root (hugetlb pool sizing, KVM)' : null);
if (why) {
  console.log(`linux bench skipped: ${why}`);
  process.exit(0);
}

const libc = await import('../src/linux/libc.ts');
const { LinuxSession, readHugetlbInfo, readText } = await import('../src/linux/session.ts');
const { LinuxSyscalls } = await import('../src/linux/syscalls.ts');
const { kvmUnavailable } = await import('../src/linux/kvm/index.ts');
const { runSh } = await import('../src/cli/main.ts');
const mman = await import('../src/uapi/mman.ts');
const { O_RDWR, O_CREAT } = await import('../src/uapi/fcntl.ts');
const { PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_SHARED, MAP_ANONYMOUS, MAP_POPULATE } = mman;

const SIZE = Number(process.env.DMEMFS_BENCH_MIB ?? 1024) * MiB;
const GUEST = Number(process.env.DMEMFS_BENCH_GUEST_MIB ?? 1024) * MiB; // any size: 2M-leaf guests past 364 MiB use the wide layout (user/vmm/guest_x86.ts)
const REPS = 3;
const MADV_HUGEPAGE = 14;
const MADV_POPULATE_WRITE = 23;
const MFD_CLOEXEC = 1;
const MFD_HUGETLB = 4;
const MFD_HUGE_2MB = 21 << 26;
const NR_2M = '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages';

const memset = libc.fill;
const gibs = (bytes: number, ms: number): number => bytes / GiB / (ms / 1000);
const has2m = readHugetlbInfo().sizes.includes(2 * MiB);
const nr2m = (): number => (has2m ? Number(readText(NR_2M).trim()) : 0);
const fmt = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '-');

/** Best (shortest) of REPS runs of `f`, which returns the milliseconds it measured. */
function best(f: () => number): number {
  let b = Infinity;
  for (let i = 0; i < REPS; i++) b = Math.min(b, f());
  return b;
}

/** Time `f` in milliseconds. */
function timed(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

/** AnonHugePages of the mapping at `addr` in /proc/self/smaps, in bytes. */
function anonHuge(addr: number): number {
  const smaps = readText('/proc/self/smaps');
  const at = smaps.indexOf(`${addr.toString(16)}-`);
  if (at < 0) return 0;
  const m = /^AnonHugePages:\s+(\d+) kB/m.exec(smaps.slice(at));
  return Number(m?.[1] ?? 0) * 1024;
}

interface Row {
  what: string;
  bytes: number;
  ms: number;
  note: string;
}
const rows: Row[] = [];
const notes: string[] = [];

const thp = /\[(\w+)\]/.exec(readText('/sys/kernel/mm/transparent_hugepage/enabled'))?.[1] ?? '?';
const pool0 = nr2m();

// ---- 1. memset bandwidth: the physical limit ----
{
  const a = libc.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  try {
    libc.madvise(a, SIZE, MADV_HUGEPAGE);
    libc.madvise(a, SIZE, MADV_POPULATE_WRITE);
    // Zeroing is the work every path below does (clear_page, dmemfs's zero on allocation),
    // and CPUs may store zeros faster than other bytes: the limit is memset(0).
    const ms = best(() => timed(() => memset(a, 0, SIZE)));
    rows.push({ what: 'memset 0, populated anon (THP)', bytes: SIZE, ms, note: `limit; ${anonHuge(a) / MiB}M of ${SIZE / MiB}M in THPs` });
    const ms5a = best(() => timed(() => memset(a, 0x5a, SIZE)));
    rows.push({ what: 'memset 0x5a, the same memory', bytes: SIZE, ms: ms5a, note: 'for comparison: non-zero bytes' });
  } finally {
    libc.munmap(a, SIZE);
  }
}
const limit = gibs(rows[0]!.bytes, rows[0]!.ms);

// ---- 2. make memory ready ----
{
  const ms = best(() => {
    let a = 0;
    const t = timed(() => (a = libc.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)));
    libc.munmap(a, SIZE);
    return t;
  });
  rows.push({ what: 'anon MAP_POPULATE (4K)', bytes: SIZE, ms, note: thp === 'always' ? 'THP "always": may be THPs' : `THP "${thp}": 4K pages` });
}
{
  let huge = 0;
  const ms = best(() => {
    const a = libc.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    try {
      const t = timed(() => {
        libc.madvise(a, SIZE, MADV_HUGEPAGE);
        libc.madvise(a, SIZE, MADV_POPULATE_WRITE);
      });
      huge = anonHuge(a);
      return t;
    } finally {
      libc.munmap(a, SIZE);
    }
  });
  rows.push({ what: 'anon MADV_HUGEPAGE+POPULATE_WRITE', bytes: SIZE, ms, note: `${huge / MiB}M of ${SIZE / MiB}M in THPs` });
}

// hugetlbfs 2M (memfd MFD_HUGETLB) and the user-space dmemfs: the pool is grown through
// a LinuxSession (whose watchdog shrinks it back should Node die) and restored in finally.
const session = new LinuxSession();
const dir = mkdtempSync(join(tmpdir(), 'dmemfs-bench-'));
try {
  const need = SIZE / (2 * MiB);
  let got = 0;
  const growMs = has2m ? timed(() => (got = session.reserveHugepages(2 * MiB, need))) : 0;
  if (!has2m) notes.push('hugetlb: this kernel has no 2M hugetlb pool; hugetlb row skipped');
  else if (got < need) notes.push(`hugetlb: the kernel found ${got} of ${need} 2M pages; hugetlb row skipped`);
  else {
    rows.push({ what: 'hugetlb pool: nr_hugepages += N', bytes: SIZE, ms: growMs, note: `once per host; ${need} pages (not zeroed yet)` });
    let fd = -1;
    try {
      fd = libc.memfd_create('bench-hugetlb', MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
      libc.ftruncate(fd, SIZE);
      const ms = best(() => {
        let a = 0;
        const t = timed(() => (a = libc.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0)));
        libc.munmap(a, SIZE);
        libc.fallocate(fd, 3 /* PUNCH_HOLE|KEEP_SIZE */, 0, SIZE); // free the pages: the next run allocates and zeroes again
        return t;
      });
      rows.push({ what: 'hugetlbfs 2M memfd MAP_POPULATE', bytes: SIZE, ms, note: 'zeroed at fault (folio_zero_user)' });
    } finally {
      if (fd >= 0) libc.close(fd);
    }
  }
  session.unreserveHugepages(2 * MiB, got);

  const sys = LinuxSyscalls.console(session, { stdout: () => {}, stderr: (s) => notes.push(s.trim()) });
  let mounted = false;
  const mountMs = timed(() => {
    sys.mount('none', dir, 'dmemfs', 0, `pagesize=2M,size=${SIZE / MiB}M`);
    mounted = true;
  });
  try {
    const kind = notes.some((n) => /ordinary memfd/.test(n)) ? 'memfd (4K)' : 'hugetlb 2M';
    rows.push({ what: 'dmemfs mount (pool reserve)', bytes: SIZE, ms: mountMs, note: `once per host; pool of ${kind}, fallocated` });
    const ms = best(() => {
      const f = `${dir}/vm`;
      const fd = sys.open(f, O_RDWR | O_CREAT, 0o600);
      try {
        sys.ftruncate(fd, SIZE);
        let a = 0;
        const t = timed(() => (a = sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)));
        sys.munmap(a, SIZE);
        return t;
      } finally {
        sys.close(fd);
        sys.unlink(f); // frees the dpages for the next run
      }
    });
    rows.push({ what: 'dmemfs file mmap (alloc+zero+map)', bytes: SIZE, ms, note: `dpages zeroed with memset from Node, pool ${kind}` });
  } finally {
    if (mounted) sys.umount2(dir, 0);
  }
} finally {
  session.release();
  rmdirSync(dir);
}

// ---- 3. a real guest touching all its memory ----
interface GuestRow {
  backend: string;
  startMs: number;
  runMs: number;
  pages4k: string;
  pages2m: string;
  note: string;
}
const guests: GuestRow[] = [];
const kvmWhy = kvmUnavailable();

/** One `sh --linux` session: vmm start, one sequential write pass, info, stop; times from the output's arrival. */
function guestOnce(args: string[], pre: string, startOpts: string): { startMs: number; runMs: number; out: string; err: string } {
  let out = '';
  let err = '';
  const marks: Record<string, number> = {};
  const stdout = (s: string): void => {
    const now = performance.now();
    for (const k of ['go', 'pid=', 'exit=io']) if (marks[k] === undefined && new RegExp(`(^|\\s)${k}`, 'm').test(s)) marks[k] = now;
    out += s;
  };
  const script = `${pre}echo go\nvmm start g --memory ${GUEST / MiB}M ${startOpts}\nvmm run g --pattern seq --write\nvmm info g\nvmm stop g\n`;
  runSh(['--linux', ...args], { stdout, stderr: (s) => (err += s), script });
  if (marks['exit=io'] === undefined || marks.go === undefined || marks['pid='] === undefined) {
    // The first complaint says why (the pool, vmm start); what follows is its echo ("No such VM").
    const lines = (err + out).trim().split('\n').filter((l) => !/No such VM|--linux: programs run/.test(l));
    throw new Error(`guest did not run: ${lines.slice(0, 3).join(' | ')}`);
  }
  return { startMs: marks['pid=']! - marks.go!, runMs: marks['exit=io']! - marks['pid=']!, out, err };
}

if (kvmWhy) notes.push(`guest: skipped: ${kvmWhy}`);
else {
  const gdir = mkdtempSync(join(tmpdir(), 'dmemfs-bench-vm-'));
  const hp = `${GUEST / (2 * MiB)}:2M`;
  const cases: [string, string[], string, string][] = [
    ['ram (THP)', [], '', '--memory-backend ram'],
    ['memfd (4K)', [], '', '--memory-backend memfd'],
    ['memfd --hugetlb (2M)', ['--hugepages', hp], '', '--memory-backend memfd --hugetlb --hugetlbsize 2M'],
    ['dmemfs file (2M dpages)', [], `mount -t dmemfs -o pagesize=2M,size=${GUEST / MiB}M none ${gdir}\n`, `--memory-backend file --mem-path ${gdir}/g --share`],
  ];
  try {
    for (const [backend, args, pre, opts] of cases) {
      try {
        let b = { startMs: Infinity, runMs: Infinity, out: '', err: '' };
        for (let i = 0; i < REPS; i++) {
          const r = guestOnce(args, pre, opts);
          if (r.runMs < b.runMs) b = { ...r, startMs: Math.min(b.startMs, r.startMs) };
          else b.startMs = Math.min(b.startMs, r.startMs);
        }
        const k = (key: string): string => new RegExp(`^${key}=(\\d+)$`, 'm').exec(b.out)?.[1] ?? '?';
        const fallback = /ordinary memfd/.test(b.err) ? 'pool fell back to a 4K memfd' : '';
        guests.push({ backend, startMs: b.startMs, runMs: b.runMs, pages4k: k('pages_4k'), pages2m: k('pages_2m'), note: fallback });
      } catch (e) {
        notes.push(`guest ${backend}: ${(e as Error).message}`);
      }
    }
  } finally {
    rmdirSync(gdir);
  }
}

// ---- the table ----
const pool1 = nr2m();
const mounts = readText('/proc/self/mounts').includes('dmemfs-bench-') ? 'a bench mount is still there!' : 'none left';
const pad = (s: string, n: number): string => s.padEnd(n);
const lpad = (s: string, n: number): string => s.padStart(n);
console.log(`linux bench: Linux ${readText('/proc/sys/kernel/osrelease').trim()}, ${Math.round(Number(/^MemTotal:\s+(\d+)/m.exec(readText('/proc/meminfo'))?.[1]) / 1024 / 1024)}G RAM, THP ${thp}, best of ${REPS}; figures vary with the machine's load`);
console.log(`\n${pad('make memory ready', 36)}${lpad('size', 6)}${lpad('ms', 9)}${lpad('GiB/s', 8)}${lpad('×memset', 9)}  note`);
for (const r of rows) {
  const g = gibs(r.bytes, r.ms);
  console.log(`${pad(r.what, 36)}${lpad(`${r.bytes / MiB}M`, 6)}${lpad(fmt(r.ms, 1), 9)}${lpad(fmt(g), 8)}${lpad(fmt(g / limit), 9)}  ${r.note}`);
}
if (guests.length) {
  console.log(`\n${pad(`guest touches all ${GUEST / MiB}M (seq write)`, 36)}${lpad('start ms', 9)}${lpad('run ms', 8)}${lpad('total s', 9)}${lpad('GiB/s', 7)}${lpad('×memset', 8)}${lpad('pages_4k', 9)}${lpad('pages_2m', 9)}`);
  for (const g of guests) {
    const total = g.startMs + g.runMs;
    const v = gibs(GUEST, total);
    console.log(`${pad(g.backend, 36)}${lpad(fmt(g.startMs, 1), 9)}${lpad(fmt(g.runMs, 1), 8)}${lpad(fmt(total / 1000, 3), 9)}${lpad(fmt(v), 7)}${lpad(fmt(v / limit), 8)}${lpad(g.pages4k, 9)}${lpad(g.pages2m, 9)}${g.note ? `  ${g.note}` : ''}`);
  }
  console.log('(start: vmm start, which for dmemfs allocates and zeroes the dpages at mmap; run: the guest writes 8 bytes in every 4K page,');
  console.log(' so the host faults in, zeroes and KVM maps all of it; GiB/s over start+run. The dmemfs pool is reserved before, untimed.)');
}
for (const n of notes) console.log(`note: ${n}`);
console.log(`\nreleased: 2M nr_hugepages ${pool0} at start, ${pool1} now; dmemfs mounts: ${mounts}`);
if (pool1 !== pool0) process.exitCode = 1;

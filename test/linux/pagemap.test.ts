/**
 * /proc/self/pagemap on the model (kernel/proc/pagemap.ts) and on this
 * machine's kernel, through the same Syscalls calls: the flag bits of every
 * page agree, and present pages have a PFN on both (read as root).
 *
 *   anon 8 pages:  [w][ ][r][ ][w][ ][ ][ ]   w written, r read (the zero page)
 *   shared anon:   [w][ ]                     a shmem page: file bit
 *   memfd shared:  [w][ ]   memfd private: [w][r]   (COW: an anonymous page; a read maps the file's page)
 *   THP (madvise): 2M written at one byte     512 present, exclusive, PFNs consecutive
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Errno } from '../../src/lib/errno.ts';
import { MADV_HUGEPAGE, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import type { Syscalls } from '../../src/uapi/syscalls.ts';
import { boot } from '../kernel/helpers.ts';
import { noLinux } from './env.ts';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const M2 = 2 * 1024 * 1024;

/** Bits 55-63 of each entry as letters (s soft-dirty, x exclusive, u uffd-wp, f file, w swap, p present), and whether a PFN is there. */
function flags(b: Uint8Array, ignoreSoftDirty = false): string[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: string[] = [];
  for (let i = 0; i < b.length; i += 8) {
    const hi = dv.getUint32(i + 4, true) & (ignoreSoftDirty ? ~(1 << 23) : ~0);
    const lo = dv.getUint32(i, true);
    const bits = ([[23, 's'], [24, 'x'], [25, 'u'], [29, 'f'], [30, 'w'], [31, 'p']] as const).filter(([k]) => (hi >>> k) & 1).map(([, c]) => c).join('');
    const pfn = lo !== 0 || (hi & 0x7fffff) !== 0;
    out.push(`${bits || '-'}${pfn ? '+pfn' : ''}`);
  }
  return out;
}

function errnoOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof Errno) return e.code;
    throw e;
  }
  return 'ok';
}

/**
 * The scripted sequence: one line per region. Bit 55 (soft-dirty) can be
 * ignored: a kernel built with CONFIG_MEM_SOFT_DIRTY sets it on every page of
 * a new mapping, and the model is built without it.
 */
function sequence(sys: Syscalls, ignoreSoftDirty = false): string[] {
  const pm = sys.open('/proc/self/pagemap', 0);
  const read = (addr: number, pages: number): string => flags(sys.pread(pm, 8 * pages, (addr / P) * 8), ignoreSoftDirty).join(' ');
  const log: string[] = [];
  const anon = sys.mmap(0, 8 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  sys.store(anon, new Uint8Array([1]));
  sys.load(anon + 2 * P, 1);
  sys.store(anon + 4 * P, new Uint8Array([1]));
  log.push(`anon: ${read(anon, 8)}`);
  const shared = sys.mmap(0, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  sys.store(shared, new Uint8Array([1]));
  log.push(`shared anon: ${read(shared, 2)}`);
  const fd = sys.memfd_create('pm', 0);
  sys.ftruncate(fd, 2 * P);
  const ms = sys.mmap(0, 2 * P, RW, MAP_SHARED, fd, 0);
  sys.store(ms, new Uint8Array([1]));
  log.push(`memfd shared: ${read(ms, 2)}`);
  const mp = sys.mmap(0, 2 * P, RW, MAP_PRIVATE, fd, 0);
  sys.store(mp, new Uint8Array([2]));
  sys.load(mp + P, 1);
  log.push(`memfd private: ${read(mp, 2)}`);
  // A 2M-aligned THP, where the host's THP setting allows one on madvise.
  const big = sys.mmap(0, 2 * M2, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const thp = Math.ceil(big / M2) * M2;
  sys.madvise(thp, M2, MADV_HUGEPAGE);
  sys.store(thp + 5 * P, new Uint8Array([1]));
  const all = read(thp, 512).split(' ');
  log.push(`thp: ${new Set(all).size === 1 ? `512 × ${all[0]}` : 'mixed'}`);
  // The rules: position and count multiples of 8; nothing past TASK_SIZE.
  log.push(`pread 7 bytes: ${errnoOf(() => sys.pread(pm, 7, 0))}; at offset 4: ${errnoOf(() => sys.pread(pm, 8, 4))}`);
  log.push(`past TASK_SIZE: ${sys.pread(pm, 8, (0x7ffffffff000 / P) * 8 + 8).length} bytes`);
  log.push(`hole below the first mapping: ${read(0x10000, 1)}`);
  sys.close(pm);
  return log;
}

describe('/proc/PID/pagemap (model)', () => {
  it('flags, PFNs and the position rules, as pagemap.rst describes them', () => {
    const { host, task } = boot();
    host.kmem.thp.enabled = 'madvise';
    const log = sequence(task);
    expect(log).toEqual([
      'anon: xp+pfn - p+pfn - xp+pfn - - -',
      'shared anon: xfp+pfn -',
      'memfd shared: xfp+pfn -',
      'memfd private: xp+pfn xfp+pfn',
      'thp: 512 × xp+pfn',
      'pread 7 bytes: EINVAL; at offset 4: EINVAL',
      'past TASK_SIZE: 0 bytes',
      'hole below the first mapping: -',
    ]);
  });
});

const reason = noLinux();
describe.skipIf(reason !== null)(`/proc/self/pagemap: the model against this kernel${reason ? ` (skipped: ${reason})` : ''}`, async () => {
  const { LinuxSession } = await import('../../src/linux/session.ts');
  const { LinuxSyscalls } = await import('../../src/linux/syscalls.ts');
  it('the same calls give the same flags on every page', () => {
    const session = new LinuxSession();
    let real: string[];
    try {
      real = sequence(LinuxSyscalls.console(session, { stdout: () => {}, stderr: () => {} }), true);
    } finally {
      session.release();
    }
    const thpMode = /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1];
    const { host, task } = boot();
    if (thpMode === 'always' || thpMode === 'madvise' || thpMode === 'never') host.kmem.thp.enabled = thpMode;
    expect(real).toEqual(sequence(task));
  });
});

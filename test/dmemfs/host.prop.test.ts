/**
 * dmemfs on a REAL booted host (8 GiB, 2 nodes, dmem=1G: 1 GiB of dmem on each
 * node), one property per dpage size (4K, 2M): random create, truncate (whole
 * dpages, unaligned, negative), pwrite/pread, mmap (MAP_SHARED; unaligned
 * offset, unaligned or zero length, MAP_PRIVATE), touch (store/load through a
 * mapping), munmap, fork, exit + wait4, unlink and memory errors injected
 * through /sys/kernel/debug/hwpoison/corrupt-pfn, into a dpage a file holds or
 * into a random frame of a dmem region (nearly always a free dpage), or again
 * into a frame already poisoned (EHWPOISON).
 *
 * The console task is the administrator: it creates, sizes, writes, reads and
 * unlinks files and injects errors, and never maps anything. Workers (1-3,
 * forked from it or from each other) map and touch.
 *
 * The reference keeps each file's size and the bytes ever written (the rest
 * reads 0), the dpage indexes of each file that hold a poisoned frame, every
 * live mapping (task, address, length, file, offset), which tasks were killed
 * by a memory error, and the set of poisoned frames and dpages.
 *
 * After every step: the call's errno or signal is the reference's; and
 *  - no dpage belongs to two files, every file dpage lies in a dmem region of
 *    the pool and below the file's EOF (in whole dpages);
 *  - per node, free + (dpages the files hold) + retired = total, and retired is
 *    exactly the poisoned dpages no file holds;
 *  - a dpage holding a poisoned frame is held only by the file it was in when
 *    the error hit (never handed out again); its mappings stay, and a touch of
 *    the bad frame itself is a machine check (SIGBUS BUS_MCEERR_AR), of any
 *    other frame of it an ordinary access;
 *  - in every live task, every leaf of a dmemfs VMA maps the file's dpage at
 *    that offset and ends at or before EOF rounded up to 4K (nothing mapped
 *    past EOF);
 *  - a task that mapped the bad frame is a zombie killed by SIGBUS
 *    BUS_MCEERR_AO, or reaped; every other task is alive.
 * Reads compare every byte with the reference (never-written bytes read 0).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Errno } from '../../src/lib/errno.ts';
import { GiB, PAGE_SIZE, PMD_SIZE, alignDown, alignUp } from '../../src/lib/size.ts';
import { DMEMFS_I, type DmemfsSbInfo } from '../../src/kernel/fs/dmemfs/index.ts';
import type { File, Inode } from '../../src/kernel/fs/vfs/index.ts';
import { isReg } from '../../src/kernel/fs/vfs/index.ts';
import { _PAGE_PRESENT, pte_flags, pte_pfn } from '../../src/kernel/mm/pgtable.ts';
import type { Task } from '../../src/kernel/process.ts';
import { O_CREAT, O_RDWR } from '../../src/uapi/fcntl.ts';
import { MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { BUS_ADRERR, BUS_MCEERR_AO, BUS_MCEERR_AR, SEGV_MAPERR, SIGBUS, SIGSEGV, Signal } from '../../src/uapi/signal.ts';
import { boot } from '../kernel/helpers.ts';

const NAMES = ['a', 'b', 'c'];
const RW = PROT_READ | PROT_WRITE;
/** Leaf size by page-table level (1 = PTE). */
const LEAF_SIZE = [0, PAGE_SIZE, PMD_SIZE, GiB];

type Op =
  | { k: 'create'; f: number }
  | { k: 'truncate'; f: number; n: number; bad: number }
  | { k: 'write'; f: number; off: number; len: number; v: number }
  | { k: 'read'; f: number; off: number; len: number }
  | { k: 'mmap'; t: number; f: number; pg: number; n: number; bad: number }
  | { k: 'touch'; m: number; off: number; v: number }
  | { k: 'munmap'; m: number }
  | { k: 'fork'; t: number }
  | { k: 'exit'; t: number }
  | { k: 'unlink'; f: number }
  | { k: 'poison'; kind: number; a: number; b: number }
  /** mmap, then touch the new mapping: reaches dpages poisoned before the mapping existed. */
  | { k: 'probe'; t: number; f: number; pg: number; off: number; v: number };

/** Two sized files and a worker that maps both, so touches and poison hit mapped dpages early. */
const PRELUDE: Op[] = [
  { k: 'create', f: 0 },
  { k: 'truncate', f: 0, n: 3, bad: 0 },
  { k: 'create', f: 1 },
  { k: 'truncate', f: 1, n: 2, bad: 0 },
  { k: 'mmap', t: 0, f: 0, pg: 0, n: 3, bad: 0 },
  { k: 'mmap', t: 0, f: 1, pg: 0, n: 2, bad: 0 },
];

/** Offsets are fractions (per mille) of a span in dpages, so both sizes see the same edge cases. */
function ops(): fc.Arbitrary<Op[]> {
  const f = fc.nat(NAMES.length - 1);
  const frac = fc.nat(999);
  const touch = fc.record({ k: fc.constant('touch' as const), m: fc.nat(7), off: frac, v: fc.nat(255) });
  const mmap = fc.record({ k: fc.constant('mmap' as const), t: fc.nat(3), f, pg: fc.nat(3), n: fc.integer({ min: 1, max: 4 }), bad: fc.nat(7) });
  return fc.array(
    fc.oneof(
      fc.record({ k: fc.constant('create' as const), f }),
      fc.record({ k: fc.constant('truncate' as const), f, n: fc.nat(5), bad: fc.nat(5) }),
      fc.record({ k: fc.constant('write' as const), f, off: frac, len: fc.integer({ min: 1, max: 3000 }), v: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ k: fc.constant('read' as const), f, off: frac, len: fc.integer({ min: 1, max: 3000 }) }),
      mmap,
      mmap,
      touch,
      touch,
      touch,
      fc.record({ k: fc.constant('munmap' as const), m: fc.nat(7) }),
      fc.record({ k: fc.constant('fork' as const), t: fc.nat(3) }),
      fc.record({ k: fc.constant('exit' as const), t: fc.nat(3) }),
      fc.record({ k: fc.constant('unlink' as const), f }),
      fc.record({ k: fc.constant('poison' as const), kind: fc.nat(3), a: frac, b: fc.nat(1 << 20) }),
      fc.record({ k: fc.constant('probe' as const), t: fc.nat(3), f, pg: fc.nat(2), off: frac, v: fc.nat(255) }),
    ),
    { minLength: 10, maxLength: 30 },
  );
}

/** A file as the reference sees it. */
interface Ref {
  inode: Inode;
  size: number;
  bytes: Map<number, number>;
  /** Dpage indexes holding a poisoned frame. */
  poisoned: Set<number>;
}

interface Mapping {
  task: Task;
  addr: number;
  len: number;
  ref: Ref;
  off: number;
}

function errnoOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof Errno) return e.code;
    throw e;
  }
}

function run(pagesize: '4K' | '2M', seq: Op[]): void {
  const dp = pagesize === '4K' ? PAGE_SIZE : PMD_SIZE;
  const perDpage = dp / PAGE_SIZE;
  const { host, task: admin } = boot({ mem: 8 * GiB, nodes: 2, cmdline: 'dmem=1G' });
  const pool = host.dmem;
  admin.mount('none', '/mnt', 'dmemfs', 0, `pagesize=${pagesize}`);
  const rootFd = admin.open('/mnt', 0);
  const fsi = admin.fget(rootFd).f_inode.i_sb.s_fs_info as DmemfsSbInfo;
  admin.close(rootFd);
  const nodes = [0, 1];
  expect(nodes.map((n) => pool.total_dpages(n))).toEqual(nodes.map(() => GiB / dp));

  const workers: Task[] = [admin.fork()];
  const killed = new Set<Task>();
  const exited = new Set<Task>();
  const reaped = new Set<Task>();
  const names = new Map<string, Ref>();
  const maps: Mapping[] = [];
  const poisonedPfns = new Set<number>();
  /** Physical addresses of dpages holding a poisoned frame. */
  const poisonedDpages = new Set<number>();
  const at = (frac: number, span: number) => Math.floor((frac / 1000) * span);
  const path = (f: number) => `/mnt/${NAMES[f]}`;
  const expected = (ref: Ref, off: number) => ref.bytes.get(off) ?? 0;
  const alive = (t: Task) => t.state !== 'Z' && !reaped.has(t);
  const nidOf = (phys: number) => pool.find_dmem_region(phys)!.nid;

  /** Every dpage any file holds: phys -> (inode, index). */
  function held(): Map<number, { inode: Inode; index: number }> {
    const owner = new Map<number, { inode: Inode; index: number }>();
    for (const inode of fsi.inodes) {
      if (!isReg(inode)) continue;
      DMEMFS_I(inode).dpages.forEach(0, Infinity, (index, phys) => {
        expect(owner.has(phys), `dpage ${phys.toString(16)} in two files`).toBe(false);
        owner.set(phys, { inode, index });
      });
    }
    return owner;
  }
  /** The frame behind a file offset (-1 where the file has no dpage yet). */
  function pfnAt(inode: Inode, off: number): number {
    const phys = DMEMFS_I(inode).dpages.lookup(Math.floor(off / dp));
    return phys < 0 ? -1 : (phys + alignDown(off % dp, PAGE_SIZE)) / PAGE_SIZE;
  }
  const refOf = (inode: Inode): Ref | undefined =>
    [...names.values(), ...maps.map((m) => m.ref)].find((r) => r.inode === inode) ?? unlinked.get(inode);
  /** Unlinked files still referenced by the reference (for poison found through fsi.inodes). */
  const unlinked = new Map<Inode, Ref>();

  /** A task dies: its mappings go. */
  function kill(t: Task): void {
    killed.add(t);
    for (let i = maps.length - 1; i >= 0; i--) if (maps[i]!.task === t) maps.splice(i, 1);
  }

  for (const op of seq) {
    if (op.k === 'probe') {
      step({ k: 'mmap', t: op.t, f: op.f, pg: op.pg, n: 2, bad: 0 });
      step({ k: 'touch', m: 0, off: op.off, v: op.v });
    } else {
      step(op);
    }
  }

  function step(op: Exclude<Op, { k: 'probe' }>): void {
    switch (op.k) {
      case 'create': {
        if (names.has(NAMES[op.f]!)) break;
        const fd = admin.open(path(op.f), O_RDWR | O_CREAT, 0o600);
        names.set(NAMES[op.f]!, { inode: admin.fget(fd).f_inode, size: 0, bytes: new Map(), poisoned: new Set() });
        admin.close(fd);
        break;
      }
      case 'truncate': {
        const ref = names.get(NAMES[op.f]!);
        if (!ref) break;
        // bad: 0-2 whole dpages; 3 a dpage and a bit; 4 a 4K page less; 5 negative.
        const size = op.bad <= 2 ? op.n * dp : op.bad === 3 ? op.n * dp + 100 : op.bad === 4 ? (op.n + 1) * dp - PAGE_SIZE : -1;
        const valid = size >= 0 && size % dp === 0;
        expect(errnoOf(() => admin.truncate(path(op.f), size))).toBe(valid ? 'ok' : 'EINVAL');
        if (!valid) break;
        if (size < ref.size) {
          for (const o of [...ref.bytes.keys()]) if (o >= size) ref.bytes.delete(o);
          for (const i of [...ref.poisoned]) if (i * dp >= size) ref.poisoned.delete(i);
        }
        ref.size = size;
        break;
      }
      case 'write': {
        const ref = names.get(NAMES[op.f]!);
        if (!ref) break;
        const off = at(op.off, 5 * dp);
        const fd = admin.open(path(op.f), O_RDWR);
        // A write into a poisoned dpage is EIO, or stops short before it.
        let want = op.len;
        for (let o = off; o < off + op.len; o = alignDown(o, dp) + dp) {
          if (ref.poisoned.has(Math.floor(o / dp))) {
            want = o - off;
            break;
          }
        }
        let got: number | string;
        try {
          got = admin.pwrite(fd, new Uint8Array(op.len).fill(op.v), off);
        } catch (e) {
          if (!(e instanceof Errno)) throw e;
          got = e.code;
        } finally {
          admin.close(fd);
        }
        expect(got).toBe(want === 0 ? 'EIO' : want);
        if (typeof got === 'number') {
          for (let i = 0; i < got; i++) ref.bytes.set(off + i, op.v);
          ref.size = Math.max(ref.size, off + got);
        }
        break;
      }
      case 'read': {
        const ref = names.get(NAMES[op.f]!);
        if (!ref) break;
        const off = at(op.off, 5 * dp);
        const end = Math.min(off + op.len, ref.size);
        let want = Math.max(0, end - off);
        for (let o = off; o < end; o = alignDown(o, dp) + dp) {
          if (ref.poisoned.has(Math.floor(o / dp))) {
            want = o - off;
            break;
          }
        }
        const fd = admin.open(path(op.f), O_RDWR);
        let got: Uint8Array | string;
        try {
          got = admin.pread(fd, op.len, off);
        } catch (e) {
          if (!(e instanceof Errno)) throw e;
          got = e.code;
        } finally {
          admin.close(fd);
        }
        if (want === 0 && end > off) {
          expect(got).toBe('EIO');
          break;
        }
        if (typeof got === 'string') throw new Error(`pread ${off}+${op.len}: ${got}, expected ${want} bytes`);
        expect(got.length).toBe(want);
        for (let i = 0; i < got.length; i++) if (got[i] !== expected(ref, off + i)) expect([off + i, got[i]]).toEqual([off + i, expected(ref, off + i)]);
        break;
      }
      case 'mmap': {
        const live = workers.filter(alive);
        const t = live[op.t % Math.max(1, live.length)];
        const ref = names.get(NAMES[op.f]!);
        if (!ref || !t) break;
        // bad: 0-3 valid; 4 offset a 4K page past a dpage; 5 length a bit over whole dpages; 6 length 0; 7 MAP_PRIVATE.
        const off = op.pg * dp + (op.bad === 4 ? PAGE_SIZE : 0);
        const len = op.bad === 6 ? 0 : op.n * dp + (op.bad === 5 ? 100 : 0);
        const flags = op.bad === 7 ? MAP_PRIVATE : MAP_SHARED;
        const mapLen = alignUp(len, PAGE_SIZE);
        const valid = len > 0 && mapLen % dp === 0 && off % dp === 0 && flags === MAP_SHARED;
        const fd = t.open(path(op.f), O_RDWR);
        let addr = -1;
        const got = errnoOf(() => (addr = t.mmap(0, len, RW, flags, fd, off)));
        t.close(fd);
        expect(got).toBe(valid ? 'ok' : 'EINVAL');
        if (!valid) break;
        expect(addr % dp).toBe(0);
        maps.push({ task: t, addr, len: mapLen, ref, off });
        break;
      }
      case 'touch': {
        // Newest mappings first, so mappings made after a memory error get touched.
        const m = maps[maps.length - 1 - (op.m % Math.max(1, maps.length))];
        if (!m) break;
        const va = m.addr + at(op.off, m.len);
        const off = m.off + (va - m.addr);
        let want: string;
        if (alignDown(off, PAGE_SIZE) >= m.ref.size) want = `${SIGBUS}/${BUS_ADRERR}`;
        else if (poisonedPfns.has(pfnAt(m.ref.inode, off))) want = `${SIGBUS}/${BUS_MCEERR_AR}`; // a machine check
        else want = 'ok'; // the rest of a poisoned dpage is good memory
        let got = 'ok';
        try {
          if (op.v % 2) {
            m.task.store(va, new Uint8Array([op.v]));
            m.ref.bytes.set(off, op.v);
          } else {
            const b = m.task.load(va, 1)[0];
            if (b !== expected(m.ref, off)) expect([off, b]).toEqual([off, expected(m.ref, off)]);
          }
        } catch (e) {
          if (!(e instanceof Signal)) throw e;
          got = `${e.signo}/${e.code}`;
        }
        expect(got).toBe(want);
        break;
      }
      case 'munmap': {
        const i = op.m % Math.max(1, maps.length);
        const m = maps[i];
        if (!m) break;
        m.task.munmap(m.addr, m.len);
        maps.splice(i, 1);
        break;
      }
      case 'fork': {
        if (workers.filter(alive).length >= 3) break;
        const cand = [admin, ...workers].filter(alive);
        const parent = cand[op.t % cand.length]!;
        const child = parent.fork();
        workers.push(child);
        // VM_DONTCOPY: none of the parent's dmemfs mappings is in the child.
        for (const m of maps) {
          if (m.task !== parent) continue;
          let got = 'ok';
          try {
            child.load(m.addr, 1);
          } catch (e) {
            if (!(e instanceof Signal)) throw e;
            got = `${e.signo}/${e.code}`;
          }
          expect(got).toBe(`${SIGSEGV}/${SEGV_MAPERR}`);
        }
        break;
      }
      case 'exit': {
        const t = workers[op.t % workers.length]!;
        if (reaped.has(t)) break;
        const wasKilled = killed.has(t);
        if (!wasKilled && !exited.has(t)) {
          t.exit(0);
          exited.add(t);
          for (let i = maps.length - 1; i >= 0; i--) if (maps[i]!.task === t) maps.splice(i, 1);
        }
        const parent = t.parent;
        if (!parent || parent.state === 'Z' || !parent.children.has(t)) break;
        const r = parent.wait4(t.pid, 0);
        expect(r).toEqual({ pid: t.pid, status: wasKilled ? SIGBUS : 0 });
        reaped.add(t);
        break;
      }
      case 'unlink': {
        const ref = names.get(NAMES[op.f]!);
        if (!ref) break;
        names.delete(NAMES[op.f]!);
        unlinked.set(ref.inode, ref);
        admin.unlink(path(op.f));
        break;
      }
      case 'poison': {
        const owner = held();
        // kind 0-1: a frame of a dpage a file holds; 2: any frame of a region; 3: a frame already poisoned.
        let pfn: number;
        if (op.kind <= 1 && owner.size > 0) {
          const list = [...owner.keys()].sort((x, y) => x - y);
          pfn = list[at(op.a, list.length)]! / PAGE_SIZE + (op.b % perDpage);
        } else if (op.kind === 3 && poisonedPfns.size > 0) {
          pfn = [...poisonedPfns][op.b % poisonedPfns.size]!;
        } else {
          const regions = pool.regions();
          const r = regions[op.b % regions.length]!;
          pfn = r.start_pfn + at(op.a, r.nr_pages);
        }
        const dpage = alignDown(pfn * PAGE_SIZE, dp);
        const o = owner.get(dpage);
        const want = poisonedPfns.has(pfn) ? 'EHWPOISON' : 'ok';
        // Who maps the bad frame: every live mapping of its file whose range covers it.
        const victims = new Set<Task>();
        if (want === 'ok' && o) {
          const bad = o.index * dp + (pfn - dpage / PAGE_SIZE) * PAGE_SIZE;
          for (const m of maps) if (m.ref.inode === o.inode && bad >= m.off && bad < m.off + m.len) victims.add(m.task);
        }
        const fd = admin.open('/sys/kernel/debug/hwpoison/corrupt-pfn', 1);
        expect(errnoOf(() => admin.write(fd, `0x${pfn.toString(16)}\n`))).toBe(want);
        admin.close(fd);
        if (want !== 'ok') break;
        poisonedPfns.add(pfn);
        poisonedDpages.add(dpage);
        if (o) refOf(o.inode)!.poisoned.add(o.index);
        for (const t of victims) {
          expect(t.lastSiginfo).toMatchObject({ signo: SIGBUS, code: BUS_MCEERR_AO });
          kill(t);
        }
        // Keep a worker around to map what is left.
        if (!workers.some(alive)) workers.push(admin.fork());
        break;
      }
    }
    check();
  }

  function check(): void {
    const owner = held();
    const heldPerNode = [0, 0];
    for (const [phys, { inode, index }] of owner) {
      const r = pool.find_dmem_region(phys);
      expect(r, `dpage ${phys.toString(16)} not in a dmem region`).not.toBeNull();
      heldPerNode[r!.nid]!++;
      expect(index).toBeLessThan(Math.ceil(inode.i_size / dp));
      // A poisoned dpage stays only with the file it was in when the error hit.
      expect(pool.dpage_poisoned(phys)).toBe(poisonedDpages.has(phys));
      if (poisonedDpages.has(phys)) expect(refOf(inode)?.poisoned.has(index)).toBe(true);
    }
    for (const ref of [...names.values(), ...unlinked.values()]) expect(ref.inode.i_size).toBe(ref.size);
    for (const n of nodes) {
      const retired = [...poisonedDpages].filter((d) => nidOf(d) === n && !owner.has(d)).length;
      expect(pool.retired_dpages(n)).toBe(retired);
      expect(pool.free_dpages(n) + heldPerNode[n]! + pool.retired_dpages(n)).toBe(pool.total_dpages(n));
    }
    expect(pool.free_dpages()).toBe(pool.free_dpages(0) + pool.free_dpages(1));
    // Page tables: every dmemfs leaf maps the file's own dpage, below EOF (a poisoned one stays mapped).
    for (const t of [admin, ...workers]) {
      if (reaped.has(t)) continue;
      expect(t.state === 'Z', `task ${t.pid} state ${t.state}`).toBe(killed.has(t) || exited.has(t));
      if (killed.has(t) || exited.has(t)) {
        expect(t.exitStatus).toBe(killed.has(t) ? SIGBUS : 0);
        continue;
      }
      for (const vma of t.mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)) {
        if (vma.vm_ops?.name !== 'dmemfs') continue;
        const inode = (vma.file as File).f_inode;
        const eof = alignUp(inode.i_size, PAGE_SIZE);
        t.mm.pgtables.for_each_leaf(vma.start, vma.end, (va, level, entry) => {
          expect(pte_flags(entry) & _PAGE_PRESENT).toBeTruthy();
          const off = vma.pgoff * PAGE_SIZE + (va - vma.start);
          expect(off + LEAF_SIZE[level]!, `leaf at file offset ${off} (level ${level}) past EOF ${inode.i_size}`).toBeLessThanOrEqual(eof);
          const phys = DMEMFS_I(inode).dpages.lookup(Math.floor(off / dp));
          expect(owner.get(phys)?.inode).toBe(inode);
          expect(pte_pfn(entry) * PAGE_SIZE).toBe(phys + (off % dp));
        });
      }
      t.mm.pgtables.validate();
    }
    // The reference's mappings are exactly the live tasks' dmemfs VMAs.
    const vmas = [admin, ...workers]
      .filter(alive)
      .flatMap((t) => t.mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER).filter((v) => v.vm_ops?.name === 'dmemfs').map((v) => `${t.pid}:${v.start}:${v.size}`));
    expect(vmas.sort()).toEqual(maps.map((m) => `${m.task.pid}:${m.addr}:${m.len}`).sort());
  }
}

describe('dmemfs on a booted host: files, mappings, tasks, memory errors and the pool stay consistent', () => {
  it.each(['4K', '2M'] as const)('pagesize=%s', (pagesize) => {
    fc.assert(
      fc.property(ops(), (seq) => run(pagesize, [...PRELUDE, ...seq])),
      { numRuns: 150, seed: pagesize === '4K' ? 80_4096 : 80_2097 },
    );
  });
});

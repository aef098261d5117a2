/**
 * Random create/truncate/write/read/mmap/touch/munmap/fork/unlink sequences over
 * several files and tasks, checked after every step against a byte-level
 * reference and the invariants: no dpage in two files, every file dpage
 * allocated in the pool and pool free + used = total, no dpage at or past EOF,
 * every dmemfs leaf maps the dpage its file holds at that offset (so nothing is
 * mapped past EOF), and memory never written reads zero.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, PMD_SIZE, alignDown } from '../../src/lib/size.ts';
import { O_CREAT, O_RDWR } from '../../src/uapi/fcntl.ts';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { DMEMFS_I, NO_DPAGE, type DmemfsSbInfo } from '../../src/kernel/fs/dmemfs/index.ts';
import type { File, Inode } from '../../src/kernel/fs/vfs/index.ts';
import { isReg } from '../../src/kernel/fs/vfs/index.ts';
import { pte_pfn } from '../../src/kernel/mm/pgtable.ts';
import type { Task } from '../../src/kernel/process.ts';
import { Errno } from '../../src/lib/errno.ts';
import { Signal } from '../../src/uapi/signal.ts';
import { mountDmemfs, setup } from './helpers.ts';

const NAMES = ['a', 'b', 'c'];

/** Every run starts with two sized files, so mappings and touches happen early. */
const PRELUDE: Op[] = [
  { k: 'create', f: 0 },
  { k: 'truncate', f: 0, n: 3 },
  { k: 'create', f: 1 },
  { k: 'truncate', f: 1, n: 2 },
];

type Op =
  | { k: 'create'; f: number }
  | { k: 'truncate'; f: number; n: number }
  | { k: 'write'; f: number; off: number; len: number; v: number }
  | { k: 'read'; f: number; off: number; len: number }
  | { k: 'mmap'; t: number; f: number; pg: number; n: number }
  | { k: 'touch'; m: number; off: number; v: number }
  | { k: 'munmap'; m: number }
  | { k: 'fork'; t: number }
  | { k: 'unlink'; f: number }
  | { k: 'param'; n: number };

/** Offsets are drawn in dpage units scaled by a fraction, so both mounts get edge cases. */
function ops(): fc.Arbitrary<Op[]> {
  const f = fc.nat(NAMES.length - 1);
  const frac = fc.nat(999);
  return fc.array(
    fc.oneof(
      fc.record({ k: fc.constant('create' as const), f }),
      fc.record({ k: fc.constant('truncate' as const), f, n: fc.nat(5) }),
      fc.record({ k: fc.constant('write' as const), f, off: frac, len: fc.integer({ min: 1, max: 3000 }), v: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ k: fc.constant('read' as const), f, off: frac, len: fc.integer({ min: 1, max: 3000 }) }),
      fc.record({ k: fc.constant('mmap' as const), t: fc.nat(3), f, pg: fc.nat(3), n: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ k: fc.constant('touch' as const), m: fc.nat(7), off: frac, v: fc.nat(255) }),
      fc.record({ k: fc.constant('touch' as const), m: fc.nat(7), off: frac, v: fc.nat(255) }),
      fc.record({ k: fc.constant('touch' as const), m: fc.nat(7), off: frac, v: fc.nat(255) }),
      fc.record({ k: fc.constant('mmap' as const), t: fc.nat(3), f, pg: fc.nat(3), n: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ k: fc.constant('munmap' as const), m: fc.nat(7) }),
      fc.record({ k: fc.constant('fork' as const), t: fc.nat(3) }),
      fc.record({ k: fc.constant('unlink' as const), f }),
      fc.record({ k: fc.constant('param' as const), n: fc.integer({ min: 1, max: 4 }) }),
    ),
    { minLength: 15, maxLength: 40 },
  );
}

/** A file as the reference sees it: its inode and the bytes ever written (others read 0). */
interface Ref {
  inode: Inode;
  bytes: Map<number, number>;
}

interface Mapping {
  task: Task;
  addr: number;
  len: number;
  ref: Ref;
  off: number;
}

function run(pagesize: '4K' | '2M', seq: Op[]): void {
  const dp = pagesize === '4K' ? PAGE_SIZE : PMD_SIZE;
  const { host, task, pool, params } = setup({ poolBytes: 5 * dp });
  mountDmemfs(task, `pagesize=${pagesize}`);
  const rootFd = task.open('/mnt/dmem', 0);
  const fsi = task.fget(rootFd).f_inode.i_sb.s_fs_info as DmemfsSbInfo;
  const tasks: Task[] = [task];
  const names = new Map<string, Ref>();
  const maps: Mapping[] = [];
  const at = (frac: number, span: number) => Math.floor((frac / 1000) * span);
  const path = (f: number) => `/mnt/dmem/${NAMES[f]}`;
  const expected = (ref: Ref, off: number) => ref.bytes.get(off) ?? 0;

  for (const op of seq) {
    switch (op.k) {
      case 'create': {
        if (names.has(NAMES[op.f]!)) break;
        const fd = task.open(path(op.f), O_RDWR | O_CREAT, 0o600);
        names.set(NAMES[op.f]!, { inode: task.fget(fd).f_inode, bytes: new Map() });
        task.close(fd);
        break;
      }
      case 'truncate': {
        const ref = names.get(NAMES[op.f]!);
        if (!ref) break;
        task.truncate(path(op.f), op.n * dp);
        for (const o of [...ref.bytes.keys()]) if (o >= op.n * dp) ref.bytes.delete(o);
        break;
      }
      case 'write': {
        const ref = names.get(NAMES[op.f]!);
        if (!ref) break;
        const off = at(op.off, 5 * dp);
        const fd = task.open(path(op.f), O_RDWR);
        try {
          const n = task.pwrite(fd, new Uint8Array(op.len).fill(op.v), off);
          for (let i = 0; i < n; i++) ref.bytes.set(off + i, op.v);
        } catch (e) {
          if (!(e instanceof Errno) || e.code !== 'ENOSPC') throw e;
          expect(pool.free_dpages()).toBe(0);
        } finally {
          task.close(fd);
        }
        break;
      }
      case 'read': {
        const ref = names.get(NAMES[op.f]!);
        if (!ref) break;
        const off = at(op.off, 5 * dp);
        const fd = task.open(path(op.f), O_RDWR);
        const got = task.pread(fd, op.len, off);
        task.close(fd);
        expect(got.length).toBe(Math.max(0, Math.min(op.len, ref.inode.i_size - off)));
        for (let i = 0; i < got.length; i++) if (got[i] !== expected(ref, off + i)) expect([off + i, got[i]]).toEqual([off + i, expected(ref, off + i)]);
        break;
      }
      case 'mmap': {
        const t = tasks[op.t % tasks.length]!;
        if (!names.has(NAMES[op.f]!)) break;
        const fd = t.open(path(op.f), O_RDWR);
        const addr = t.mmap(0, op.n * dp, PROT_READ | PROT_WRITE, MAP_SHARED, fd, op.pg * dp);
        t.close(fd);
        maps.push({ task: t, addr, len: op.n * dp, ref: names.get(NAMES[op.f]!)!, off: op.pg * dp });
        break;
      }
      case 'touch': {
        const m = maps[op.m % Math.max(1, maps.length)];
        if (!m) break;
        const va = m.addr + at(op.off, m.len);
        const off = m.off + (va - m.addr);
        const index = Math.floor(off / dp);
        const had = DMEMFS_I(m.ref.inode).dpages.lookup(index) !== NO_DPAGE;
        const canAlloc = pool.free_dpages() > 0;
        const pastEof = alignDown(off, PAGE_SIZE) >= m.ref.inode.i_size;
        try {
          if (op.v % 2) {
            m.task.store(va, new Uint8Array([op.v]));
            m.ref.bytes.set(off, op.v);
          } else {
            expect(m.task.load(va, 1)[0]).toBe(expected(m.ref, off));
          }
          expect(pastEof).toBe(false);
        } catch (e) {
          if (!(e instanceof Signal)) throw e;
          expect(e.signo).toBe(7);
          expect(pastEof || (!had && !canAlloc)).toBe(true);
        }
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
        if (tasks.length >= 4) break;
        const child = tasks[op.t % tasks.length]!.fork();
        tasks.push(child);
        // VM_DONTCOPY: the child has none of the parent's dmemfs mappings.
        expect(child.mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER).some((v) => v.vm_ops?.name === 'dmemfs')).toBe(false);
        break;
      }
      case 'unlink': {
        if (!names.delete(NAMES[op.f]!)) break;
        task.unlink(path(op.f));
        break;
      }
      case 'param':
        params.max_alloc_try_dpages = op.n;
        break;
    }
    check();
  }

  function check(): void {
    // No dpage in two files; each is allocated in the pool; none at or past EOF.
    const owner = new Map<number, Inode>();
    for (const inode of fsi.inodes) {
      if (!isReg(inode)) continue;
      const eof = Math.ceil(inode.i_size / dp);
      DMEMFS_I(inode).dpages.forEach(0, Infinity, (index, phys) => {
        expect(owner.has(phys)).toBe(false);
        owner.set(phys, inode);
        expect(pool.isAllocated(phys)).toBe(true);
        expect(index).toBeLessThan(eof);
      });
    }
    expect(pool.free_dpages() + owner.size).toBe(pool.total_dpages());
    // Every leaf in a dmemfs VMA maps the dpage its file holds at that offset.
    for (const t of tasks) {
      for (const vma of t.mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)) {
        if (vma.vm_ops?.name !== 'dmemfs') continue;
        const inode = (vma.file as File).f_inode;
        t.mm.pgtables.for_each_leaf(vma.start, vma.end, (va, _level, entry) => {
          const off = vma.pgoff * PAGE_SIZE + (va - vma.start);
          const phys = DMEMFS_I(inode).dpages.lookup(Math.floor(off / dp));
          expect(phys).not.toBe(NO_DPAGE);
          expect(pte_pfn(entry) * PAGE_SIZE).toBe(phys + (off % dp));
        });
      }
      t.mm.pgtables.validate();
    }
    void host;
  }
}

describe('dmemfs property: files, mappings and the pool stay consistent', () => {
  it.each(['4K', '2M'] as const)('pagesize=%s', (pagesize) => {
    fc.assert(
      fc.property(ops(), (seq) => run(pagesize, [...PRELUDE, ...seq])),
      { numRuns: 100, seed: pagesize === '4K' ? 4242 : 2121 },
    );
  });
});

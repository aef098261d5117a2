/**
 * The mm core against a naive reference, through the system calls of a few tasks
 * on one booted host (4 GiB, 2 nodes): random mmap (private/shared anonymous,
 * shared/private tmpfs file, sometimes 2 MiB multiples so THP kicks in, sometimes
 * MAP_FIXED over existing pages), munmap, mprotect, madvise, mremap, store, load,
 * fork and exit.
 *
 * The reference keeps, per task, a map from page address to what that page is:
 * its protection, what backs it (private anonymous bytes, a shared object and
 * offset, or a private file mapping with its copy-on-write bytes) and whether it
 * is copied on fork. Shared objects (tmpfs files, the shmem object behind
 * MAP_SHARED|MAP_ANONYMOUS) hold their pages by offset and have a fixed size in
 * pages, past which an access raises SIGBUS.
 *
 * After every step: the call's result (address, errno or signal) matches the
 * reference, a few sampled loads per task match, and the invariants hold —
 * every leaf lies in a VMA and no writable leaf in a VMA without VM_WRITE; a
 * private writable leaf maps an anonymous page; anonymous frames and mapped file
 * frames are not free in the buddy allocator; a file leaf maps the file's own
 * page-cache page below EOF; each anonymous page's map count equals the number
 * of leaves mapping it over all tasks; no frame is mapped writable twice; the
 * rss counters equal what the page tables map. At the end every task exits and
 * MemFree, AnonPages, Shmem and PageTables return to their values after boot
 * plus the tmpfs pages still cached.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Errno } from '../../src/lib/errno.ts';
import { GiB, MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { machineFromFlags } from '../../src/kernel/boot/machine.ts';
import { SHMEM_I } from '../../src/kernel/fs/tmpfs/shmem_fs.ts';
import { File } from '../../src/kernel/fs/vfs/file.ts';
import { Host } from '../../src/kernel/host.ts';
import { MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES } from '../../src/kernel/mm/mm_types.ts';
import { _PAGE_ANON } from '../../src/kernel/mm/page_prot.ts';
import { PMD_LEVEL, PTE_LEVEL, _PAGE_RW, _PAGE_SPECIAL, pte_flags, pte_pfn } from '../../src/kernel/mm/pgtable.ts';
import { VM_SHARED, VM_WRITE } from '../../src/kernel/mm/vm_area.ts';
import type { Task } from '../../src/kernel/process.ts';
import { O_CREAT, O_RDWR } from '../../src/uapi/fcntl.ts';
import {
  MADV_DOFORK,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_HUGEPAGE,
  MADV_NOHUGEPAGE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from '../../src/uapi/mman.ts';
import { Signal } from '../../src/uapi/signal.ts';
import { meminfo } from './helpers.ts';

const RW = PROT_READ | PROT_WRITE;
const ZERO = new Uint8Array(PAGE_SIZE);
/** Where MREMAP_FIXED and DONTUNMAP moves go when not onto existing pages: 16 TiB, far below mmap_base. */
const FAR = 0x100000000000;
const MAX_TASKS = 5;

/** A shared object: a tmpfs file or the shmem object of a MAP_SHARED|MAP_ANONYMOUS mapping. */
interface Obj {
  pages: Map<number, Uint8Array>;
  /** Size in pages (i_size rounded up): at or past it an access raises SIGBUS. */
  sizePages: number;
}

type Kind = 'anon' | 'shared' | 'private';

/** One page of a task's address space in the reference. */
interface RPage {
  prot: number;
  kind: Kind;
  obj: Obj | null;
  pgoff: number;
  /** anon: the bytes (null = zero); private file: the COW copy (null = read through to the file). */
  data: Uint8Array | null;
  dontfork: boolean;
}

interface RTask {
  task: Task;
  pages: Map<number, RPage>;
}

interface TmpFile {
  path: string;
  obj: Obj;
}

type Outcome = string;

/** 'ok', the errno name, or SIGSEGV/SIGBUS with si_code. */
function outcome(fn: () => unknown): Outcome {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof Errno) return e.code;
    if (e instanceof Signal) return `${e.signo === 7 ? 'SIGBUS' : e.signo === 11 ? 'SIGSEGV' : `SIG${e.signo}`}/${e.code}`;
    throw e;
  }
}

const pageOf = (a: number): number => a - (a % PAGE_SIZE);

/** What a read of the page yields: its 4 KiB, or 'SIGBUS/2' past the end of its object. */
function content(pg: RPage): Uint8Array | 'SIGBUS/2' {
  if (pg.kind === 'anon') return pg.data ?? ZERO;
  if (pg.kind === 'private' && pg.data) return pg.data;
  const obj = pg.obj!;
  if (pg.pgoff >= obj.sizePages) return 'SIGBUS/2';
  return obj.pages.get(pg.pgoff) ?? ZERO;
}

/** The reference's answer to a load of n bytes at addr (within one page). */
function refLoad(rt: RTask, addr: number, n: number): { out: Outcome; bytes?: Uint8Array } {
  const pg = rt.pages.get(pageOf(addr));
  if (!pg) return { out: 'SIGSEGV/1' };
  if (!(pg.prot & PROT_READ)) return { out: 'SIGSEGV/2' };
  const c = content(pg);
  if (typeof c === 'string') return { out: c };
  const off = addr % PAGE_SIZE;
  return { out: 'ok', bytes: c.slice(off, off + n) };
}

/** Apply a store to the reference; returns the outcome the model must give. */
function refStore(rt: RTask, addr: number, data: Uint8Array): Outcome {
  const pg = rt.pages.get(pageOf(addr));
  if (!pg) return 'SIGSEGV/1';
  if (!(pg.prot & PROT_WRITE)) return 'SIGSEGV/2';
  const off = addr % PAGE_SIZE;
  const write = (base: Uint8Array): Uint8Array => {
    const c = base.slice();
    c.set(data, off);
    return c;
  };
  if (pg.kind === 'anon' || (pg.kind === 'private' && pg.data)) {
    pg.data = write(pg.data ?? ZERO);
    return 'ok';
  }
  const obj = pg.obj!;
  if (pg.pgoff >= obj.sizePages) return 'SIGBUS/2';
  const cur = obj.pages.get(pg.pgoff) ?? ZERO;
  if (pg.kind === 'shared') obj.pages.set(pg.pgoff, write(cur));
  else pg.data = write(cur);
  return 'ok';
}

/** A fresh page of a mapping: anonymous zero, or the object's page at pgoff. */
function newPage(kind: Kind, prot: number, obj: Obj | null, pgoff: number, dontfork = false): RPage {
  return { prot, kind, obj, pgoff, data: null, dontfork };
}

const op = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('mmap' as const),
      t: fc.nat(),
      kind: fc.constantFrom('anon', 'anon', 'shanon', 'shfile', 'privfile'),
      pages: fc.integer({ min: 1, max: 1024 }),
      thp: fc.nat(2),
      prot: fc.constantFrom(RW, RW, RW, PROT_READ, PROT_NONE),
      fixed: fc.nat(7),
      r: fc.nat(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('munmap' as const), t: fc.nat(), pick: fc.nat(), back: fc.nat(3), len: fc.integer({ min: 1, max: 600 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('mprotect' as const),
      t: fc.nat(),
      pick: fc.nat(),
      back: fc.nat(5),
      len: fc.integer({ min: 1, max: 600 }),
      prot: fc.constantFrom(RW, PROT_READ, PROT_NONE),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('madvise' as const),
      t: fc.nat(),
      pick: fc.nat(),
      back: fc.nat(5),
      len: fc.integer({ min: 1, max: 600 }),
      adv: fc.constantFrom(MADV_DONTNEED, MADV_DONTNEED, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTFORK, MADV_DOFORK),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('mremap' as const),
      t: fc.nat(),
      pick: fc.nat(),
      oldSel: fc.nat(4),
      newPages: fc.integer({ min: 1, max: 1100 }),
      mode: fc.nat(4),
      r: fc.nat(),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('store' as const),
      t: fc.nat(),
      pick: fc.nat(),
      near: fc.integer({ min: -12, max: 12 }),
      off: fc.nat(PAGE_SIZE - 1),
      data: fc.uint8Array({ minLength: 1, maxLength: 24 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('load' as const),
      t: fc.nat(),
      pick: fc.nat(),
      near: fc.integer({ min: -12, max: 12 }),
      off: fc.nat(PAGE_SIZE - 1),
      len: fc.integer({ min: 1, max: 24 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('fork' as const), t: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('exit' as const), t: fc.nat() }) },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

/** One run: a host, its tasks and the reference. */
class World {
  readonly host: Host;
  readonly observer: Task;
  readonly tasks: RTask[] = [];
  readonly files: TmpFile[] = [];
  readonly base: Record<string, number>;
  readonly hugeZeroAtBoot: boolean;
  readonly log: string[] = [];

  constructor(nTasks: number, fileSizes: number[]) {
    this.host = Host.boot({ machine: machineFromFlags({ mem: 4 * GiB, nodes: 2 }), cmdline: '' });
    this.observer = this.host.spawnConsoleTask('observer', { stdout: () => {}, stderr: () => {} });
    fileSizes.forEach((bytes, i) => {
      const path = `/tmp/f${i}`;
      const fd = this.observer.open(path, O_RDWR | O_CREAT, 0o644);
      this.observer.ftruncate(fd, bytes);
      this.observer.close(fd);
      this.files.push({ path, obj: { pages: new Map(), sizePages: Math.ceil(bytes / PAGE_SIZE) } });
    });
    this.base = this.counters();
    this.hugeZeroAtBoot = this.host.kmem.hugeZeroPfn >= 0;
    for (let i = 0; i < nTasks; i++) {
      this.tasks.push({ task: this.host.spawnConsoleTask(`w${i}`, { stdout: () => {}, stderr: () => {} }), pages: new Map() });
    }
  }

  counters(): Record<string, number> {
    const o: Record<string, number> = {};
    for (const f of ['MemFree', 'AnonPages', 'Shmem', 'PageTables']) o[f] = meminfo(this.observer, f);
    return o;
  }

  /** A mapped page of rt chosen by n, or null when it maps nothing. */
  pick(rt: RTask, n: number): number | null {
    if (rt.pages.size === 0) return null;
    const keys = [...rt.pages.keys()];
    return keys[n % keys.length]!;
  }

  run(o: Op): void {
    const rt = this.tasks[o.t % this.tasks.length]!;
    const t = rt.task;
    switch (o.k) {
      case 'mmap':
        return this.mmap(rt, o);
      case 'munmap': {
        const p = this.pick(rt, o.pick);
        if (p === null) return;
        const start = Math.max(p - o.back * PAGE_SIZE, 0x10000);
        this.log.push(`munmap ${t.pid} ${start.toString(16)} ${o.len}`);
        expect(outcome(() => t.munmap(start, o.len * PAGE_SIZE))).toBe('ok');
        for (let i = 0; i < o.len; i++) rt.pages.delete(start + i * PAGE_SIZE);
        return;
      }
      case 'mprotect': {
        const p = this.pick(rt, o.pick);
        if (p === null) return;
        const start = Math.max(p - (o.back > 2 ? 0 : o.back) * PAGE_SIZE, 0x10000);
        this.log.push(`mprotect ${t.pid} ${start.toString(16)} ${o.len} ${o.prot}`);
        // Linux changes the VMAs one by one and stops at the first hole: ENOMEM, the part before it changed.
        let want = 'ok';
        for (let i = 0; i < o.len; i++) {
          const pg = rt.pages.get(start + i * PAGE_SIZE);
          if (!pg) {
            want = 'ENOMEM';
            break;
          }
        }
        expect(outcome(() => t.mprotect(start, o.len * PAGE_SIZE, o.prot))).toBe(want);
        for (let i = 0; i < o.len; i++) {
          const pg = rt.pages.get(start + i * PAGE_SIZE);
          if (!pg) break;
          pg.prot = o.prot;
        }
        return;
      }
      case 'madvise': {
        const p = this.pick(rt, o.pick);
        if (p === null) return;
        const start = Math.max(p - (o.back > 2 ? 0 : o.back) * PAGE_SIZE, 0x10000);
        this.log.push(`madvise ${t.pid} ${start.toString(16)} ${o.len} ${o.adv}`);
        // A hole is ENOMEM, but every mapped part of the range is still advised.
        let want = 'ok';
        for (let i = 0; i < o.len; i++) {
          const pg = rt.pages.get(start + i * PAGE_SIZE);
          if (!pg) {
            want = 'ENOMEM';
            continue;
          }
          if (o.adv === MADV_DONTNEED && pg.kind !== 'shared') pg.data = null;
          if (o.adv === MADV_DONTFORK) pg.dontfork = true;
          if (o.adv === MADV_DOFORK) pg.dontfork = false;
        }
        expect(outcome(() => t.madvise(start, o.len * PAGE_SIZE, o.adv))).toBe(want);
        return;
      }
      case 'mremap':
        return this.mremap(rt, o);
      case 'store': {
        const p = this.pick(rt, o.pick) ?? 0x7f0000000000;
        const addr = Math.max(p + o.near * PAGE_SIZE, 0x10000) + Math.min(o.off, PAGE_SIZE - o.data.length);
        this.log.push(`store ${t.pid} ${addr.toString(16)} ${o.data.length}`);
        const want = refStore(rt, addr, o.data);
        expect(outcome(() => t.store(addr, o.data)), `store at ${addr.toString(16)}`).toBe(want);
        return;
      }
      case 'load': {
        const p = this.pick(rt, o.pick) ?? 0x7f0000000000;
        const addr = Math.max(p + o.near * PAGE_SIZE, 0x10000) + Math.min(o.off, PAGE_SIZE - o.len);
        this.checkLoad(rt, addr, o.len);
        return;
      }
      case 'fork': {
        if (this.tasks.length >= MAX_TASKS) return;
        this.log.push(`fork ${t.pid}`);
        const child = t.fork();
        const pages = new Map<number, RPage>();
        for (const [a, pg] of rt.pages) if (!pg.dontfork) pages.set(a, { ...pg });
        this.tasks.push({ task: child, pages });
        return;
      }
      case 'exit': {
        if (this.tasks.length <= 1) return;
        this.log.push(`exit ${t.pid}`);
        this.exitTask(rt);
        return;
      }
    }
  }

  exitTask(rt: RTask): void {
    const t = rt.task;
    t.exit(0);
    // The parent reaps it: a live worker, or init for the first tasks and orphans.
    expect(t.parent!.wait4(t.pid, 0).pid).toBe(t.pid);
    this.tasks.splice(this.tasks.indexOf(rt), 1);
  }

  checkLoad(rt: RTask, addr: number, n: number): void {
    const want = refLoad(rt, addr, n);
    let got: Uint8Array | undefined;
    const out = outcome(() => (got = rt.task.load(addr, n)));
    expect(out, `load at ${addr.toString(16)}`).toBe(want.out);
    if (want.bytes) expect(got, `bytes at ${addr.toString(16)}`).toEqual(want.bytes);
  }

  mmap(rt: RTask, o: Extract<Op, { k: 'mmap' }>): void {
    const t = rt.task;
    let pages = o.pages;
    if (o.kind === 'anon' && o.thp > 0) pages = 512 * o.thp;
    let file: TmpFile | null = null;
    let pgoff = 0;
    if (o.kind === 'shfile' || o.kind === 'privfile') {
      file = this.files[o.r % this.files.length]!;
      pages = Math.min(pages, 96);
      pgoff = (o.r >> 3) % (file.obj.sizePages + 3);
    }
    const fixedAt = o.fixed === 0 ? this.pick(rt, o.r >> 5) : null;
    let flags = o.kind === 'anon' || o.kind === 'privfile' ? MAP_PRIVATE : MAP_SHARED;
    if (!file) flags |= MAP_ANONYMOUS;
    if (fixedAt !== null) flags |= MAP_FIXED;
    this.log.push(`mmap ${t.pid} ${o.kind} ${pages} prot ${o.prot}${fixedAt !== null ? ` fixed ${fixedAt.toString(16)}` : ''}`);
    let fd = -1;
    if (file) fd = t.open(file.path, O_RDWR);
    let a = -1;
    try {
      expect(outcome(() => (a = t.mmap(fixedAt ?? 0, pages * PAGE_SIZE, o.prot, flags, fd, pgoff * PAGE_SIZE)))).toBe('ok');
    } finally {
      if (fd >= 0) t.close(fd);
    }
    if (fixedAt !== null) expect(a).toBe(fixedAt);
    const obj = o.kind === 'shanon' ? { pages: new Map<number, Uint8Array>(), sizePages: pages } : (file?.obj ?? null);
    const kind: Kind = o.kind === 'anon' ? 'anon' : o.kind === 'privfile' ? 'private' : 'shared';
    for (let i = 0; i < pages; i++) {
      const va = a + i * PAGE_SIZE;
      // A new mapping never lands on mapped pages unless MAP_FIXED asked for it.
      if (fixedAt === null) expect(rt.pages.has(va), `mmap returned mapped page ${va.toString(16)}`).toBe(false);
      rt.pages.set(va, newPage(kind, o.prot, obj, pgoff + i));
    }
  }

  mremap(rt: RTask, o: Extract<Op, { k: 'mremap' }>): void {
    const t = rt.task;
    const p = this.pick(rt, o.pick);
    if (p === null) return;
    const vma = t.mm.vmas.vma_lookup(p)!;
    expect(vma, 'reference page without a VMA').toBeTruthy();
    const toEnd = (vma.end - p) / PAGE_SIZE;
    let oldPages: number;
    if (o.oldSel <= 1) oldPages = toEnd;
    else if (o.oldSel <= 3) oldPages = 1 + (o.r % toEnd);
    else oldPages = toEnd + 1 + (o.r % 3); // across the VMA's end: EFAULT when it must grow or move
    let newPages = o.newPages;
    let flags = 0;
    let newAddr = 0;
    if (o.mode === 1 || o.mode === 2) flags = MREMAP_MAYMOVE;
    if (o.mode === 3) {
      flags = MREMAP_MAYMOVE | MREMAP_FIXED;
      const q = this.pick(rt, o.r >> 4);
      newAddr = o.r % 2 && q !== null ? q : FAR + ((o.r >> 1) % 64) * 2 * MiB;
    }
    if (o.mode === 4) {
      flags = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
      newPages = oldPages;
      newAddr = o.r % 2 ? FAR + ((o.r >> 1) % 64) * 2 * MiB : 0;
    }
    const oldLen = oldPages * PAGE_SIZE;
    const newLen = newPages * PAGE_SIZE;
    this.log.push(`mremap ${t.pid} ${p.toString(16)} ${oldPages} -> ${newPages} flags ${flags} to ${newAddr.toString(16)}`);
    const tpl = rt.pages.get(p)!;
    const impliesNew = (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;
    const del = (from: number, n: number): void => {
      for (let i = 0; i < n; i++) rt.pages.delete(from + i * PAGE_SIZE);
    };
    let want: Outcome = 'ok';
    let expectAddr: number | null = null;
    let move = false;
    if (impliesNew && p + oldLen > newAddr && newAddr + newLen > p) want = 'EINVAL';
    else if (!impliesNew && newLen <= oldLen) expectAddr = p;
    else if (oldLen > vma.end - p) want = 'EFAULT';
    else if (impliesNew) move = true;
    else {
      let free = vma.end + (newLen - oldLen) <= 0x7ffffffff000;
      for (let a = vma.end; free && a < vma.end + newLen - oldLen; a += PAGE_SIZE) if (rt.pages.has(a)) free = false;
      if (p + oldLen === vma.end && free) expectAddr = p;
      else if (!(flags & MREMAP_MAYMOVE)) want = 'ENOMEM';
      else move = true;
    }
    let got = -1;
    expect(outcome(() => (got = t.mremap(p, oldLen, newLen, flags, newAddr)))).toBe(want);
    if (want !== 'ok') return;
    if (!move) {
      expect(got).toBe(expectAddr);
      if (newLen < oldLen) del(p + newLen, oldPages - newPages);
      for (let i = oldPages; i < newPages; i++) rt.pages.set(p + i * PAGE_SIZE, newPage(tpl.kind, tpl.prot, tpl.obj, tpl.pgoff + i, tpl.dontfork));
      return;
    }
    if (flags & MREMAP_FIXED) {
      expect(got).toBe(newAddr);
      del(newAddr, newPages);
    }
    let moveLen = oldPages;
    if (impliesNew && oldPages > newPages) {
      del(p + newLen, oldPages - newPages);
      moveLen = newPages;
    }
    for (let i = 0; i < newPages; i++) expect(rt.pages.has(got + i * PAGE_SIZE), `mremap moved onto mapped page ${(got + i * PAGE_SIZE).toString(16)}`).toBe(false);
    const moved: RPage[] = [];
    for (let i = 0; i < moveLen; i++) moved.push(rt.pages.get(p + i * PAGE_SIZE)!);
    if (flags & MREMAP_DONTUNMAP) {
      // The old range stays mapped, without the moved pages: private memory reads as new again.
      for (let i = 0; i < moveLen; i++) rt.pages.set(p + i * PAGE_SIZE, { ...moved[i]!, data: null });
    } else {
      del(p, moveLen);
    }
    for (let i = 0; i < newPages; i++) {
      rt.pages.set(got + i * PAGE_SIZE, i < moveLen ? moved[i]! : newPage(tpl.kind, tpl.prot, tpl.obj, tpl.pgoff + i, tpl.dontfork));
    }
  }

  /** Sampled loads and every invariant. */
  check(sample: number): void {
    for (const rt of this.tasks) {
      for (let i = 0; i < 2; i++) {
        const p = this.pick(rt, sample * (i + 7) + i);
        if (p !== null) this.checkLoad(rt, p + ((sample * 131) % (PAGE_SIZE - 16)), 16);
      }
    }
    this.invariants();
  }

  invariants(): void {
    const host = this.host;
    const anon = host.kmem.anon;
    const maps = new Map<number, number>();
    const writable: [number, number, number][] = [];
    for (const rt of this.tasks) {
      const mm = rt.task.mm;
      mm.vmas.validate();
      mm.pgtables.validate();
      let vmaPages = 0;
      let leaves = 0;
      let anonPages = 0;
      let filePages = 0;
      for (const vma of mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)) {
        vmaPages += vma.size / PAGE_SIZE;
        // The reference agrees with the VMA on protection.
        const pg = rt.pages.get(vma.start);
        expect(pg, `VMA at ${vma.start.toString(16)} unknown to the reference`).toBeTruthy();
        expect(vma.flags & 7, `VMA at ${vma.start.toString(16)} prot`).toBe(pg!.prot);
        const file = vma.file instanceof File && vma.vm_ops ? vma.file : null;
        mm.pgtables.for_each_leaf(vma.start, vma.end, (va, level, entry) => {
          leaves++;
          const n = level === PTE_LEVEL ? 1 : level === PMD_LEVEL ? 512 : 262144;
          const where = `${rt.task.pid}:${va.toString(16)}`;
          expect(va >= vma.start && va + n * PAGE_SIZE <= vma.end, `huge leaf ${where} straddles its VMA`).toBe(true);
          const f = pte_flags(entry);
          const pfn = pte_pfn(entry);
          if (f & _PAGE_RW) {
            expect(vma.flags & VM_WRITE, `writable leaf ${where} in a VMA without VM_WRITE`).toBeTruthy();
            if (!(vma.flags & VM_SHARED)) expect(f & _PAGE_ANON, `private writable leaf ${where} maps a shared page`).toBeTruthy();
          }
          if (f & _PAGE_SPECIAL) {
            expect(pfn === host.kmem.zeroPfn || pfn === host.kmem.hugeZeroPfn, `special leaf ${where}`).toBe(true);
            return;
          }
          expect(host.buddy.is_free_buddy_page(pfn) || host.buddy.is_free_buddy_page(pfn + n - 1), `leaf ${where} maps a free frame`).toBe(false);
          if (f & _PAGE_ANON) {
            anonPages += n;
            const key = anon.isThpPage(pfn) ? pfn - (pfn % 512) : pfn;
            maps.set(key, (maps.get(key) ?? 0) + 1);
            if (f & _PAGE_RW) writable.push([pfn, pfn + n, rt.task.pid]);
            return;
          }
          filePages += n;
          expect(file, `file leaf ${where} in a VMA without a file`).toBeTruthy();
          const pgoff = vma.pgoffOf(va);
          const inode = file!.f_inode;
          expect(pgoff < Math.ceil(inode.i_size / PAGE_SIZE), `leaf ${where} past EOF`).toBe(true);
          expect(SHMEM_I(inode).pages.get(pgoff), `leaf ${where} is not the file's page`).toBe(pfn);
        });
      }
      expect(vmaPages, `task ${rt.task.pid}: pages in VMAs vs reference`).toBe(rt.pages.size);
      const c = mm.pgtables.count_leaves();
      expect(leaves, `task ${rt.task.pid}: leaves outside VMAs`).toBe(c.pte + c.pmd + c.pud);
      expect(mm.rss[MM_ANONPAGES]).toBe(anonPages);
      // Every file the test maps is tmpfs, so its pages count as RssShmem (mm_counter_file).
      expect(mm.rss[MM_SHMEMPAGES]).toBe(filePages);
      expect(mm.rss[MM_FILEPAGES]).toBe(0);
    }
    for (const [key, n] of maps) expect(anon.mapcount(key), `map count of pfn ${key}`).toBe(n);
    writable.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < writable.length; i++) {
      expect(writable[i]![0] >= writable[i - 1]![1], `frame ${writable[i]![0]} writable in tasks ${writable[i - 1]![2]} and ${writable[i]![2]}`).toBe(true);
    }
  }

  /** Everyone exits; the memory comes back. */
  finish(): void {
    while (this.tasks.length) this.exitTask(this.tasks[this.tasks.length - 1]!);
    let cached = 0;
    for (const f of this.files) {
      const fd = this.observer.open(f.path, O_RDWR);
      const inode = this.observer.fget(fd).f_inode;
      this.observer.close(fd);
      const idx = [...SHMEM_I(inode).pages.keys()];
      expect(idx.every((i) => i < f.obj.sizePages), `${f.path} caches pages past EOF`).toBe(true);
      cached += idx.length;
    }
    const now = this.counters();
    const hugeZero = !this.hugeZeroAtBoot && this.host.kmem.hugeZeroPfn >= 0 ? 2048 : 0;
    expect(now).toEqual({
      MemFree: this.base.MemFree! - cached * 4 - hugeZero,
      AnonPages: this.base.AnonPages,
      Shmem: this.base.Shmem! + cached * 4,
      PageTables: this.base.PageTables,
    });
    // What the files hold is what the reference wrote through shared mappings.
    for (const f of this.files) {
      const fd = this.observer.open(f.path, O_RDWR);
      for (const [pgoff, bytes] of f.obj.pages) expect(this.observer.pread(fd, PAGE_SIZE, pgoff * PAGE_SIZE)).toEqual(bytes.slice(0, Math.max(0, Math.min(PAGE_SIZE, this.observer.fstat(fd).size - pgoff * PAGE_SIZE))));
      this.observer.close(fd);
    }
  }
}

describe('mm core against a reference', () => {
  it('random mmap/munmap/mprotect/madvise/mremap/load/store/fork/exit sequences', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.integer({ min: 1, max: 40 * PAGE_SIZE }), { minLength: 1, maxLength: 3 }),
        fc.array(op, { minLength: 1, maxLength: 80 }),
        (nTasks, fileSizes, ops) => {
          const w = new World(nTasks, fileSizes);
          let i = 0;
          try {
            for (const o of ops) {
              w.run(o);
              w.check(i++);
            }
            w.finish();
          } catch (e) {
            throw new Error(`${(e as Error).message}\nafter:\n${w.log.slice(-12).join('\n')}`, { cause: e });
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

/**
 * Property: random guest reads and writes, VMM stores, slot operations,
 * munmap, MADV_DONTNEED, truncate and poison, checked against a reference after
 * every step: every guest read returns what was last written (by the guest or
 * the VMM), no EPT leaf maps a frame the VMM's page table does not map at that
 * hva, and a guest access to unmapped or poisoned memory fails as Linux does.
 *
 *   gpa pages  0 .......... 31 | 32 .......... 63
 *              anon (private)  |  memfd (shared)
 *              slot 0          |  slot 1
 *   page 0 holds the guest program.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { Errno } from '../../src/lib/errno.ts';
import { follow_page } from '../../src/kernel/mm/gup.ts';
import { O_RDWR } from '../../src/uapi/fcntl.ts';
import { GUEST_FLAG_CHECKSUM, GUEST_FLAG_WRITE, KVM_EXIT_IO, KVM_MEM_LOG_DIRTY_PAGES, KVM_RUN, encode_guest_program, new_kvm_run } from '../../src/uapi/kvm.ts';
import { MADV_DONTNEED, MADV_NOHUGEPAGE, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { BUS_MCEERR_AR, Signal } from '../../src/uapi/signal.ts';
import { bootKvm, createVcpu, createVm, setRegion } from './helpers.ts';
import { checkEpt } from './invariants.ts';

const P = PAGE_SIZE;
const N = 32;
const ANON = GiB;
const FILE = GiB + 64 * P;

type Op =
  | { k: 'gwrite' | 'gread'; a: number; n: number }
  | { k: 'vstore'; p: number; v: number }
  | { k: 'munmap' | 'dontneed'; a: number; n: number }
  | { k: 'truncate'; to: number }
  | { k: 'poison'; p: number }
  | { k: 'reslot'; s: 0 | 1; log: boolean };

const range = (lo: number, hi: number) => fc.tuple(fc.integer({ min: lo, max: hi - 1 }), fc.integer({ min: 1, max: 6 })).map(([a, n]) => ({ a, n: Math.min(n, hi - a) }));
const op: fc.Arbitrary<Op> = fc.oneof(
  range(1, 2 * N).map((r) => ({ k: 'gwrite' as const, ...r })),
  range(1, 2 * N).map((r) => ({ k: 'gread' as const, ...r })),
  fc.record({ k: fc.constant('vstore' as const), p: fc.integer({ min: 1, max: 2 * N - 1 }), v: fc.integer({ min: 1, max: 0x7fffffff }) }),
  range(1, 2 * N).map((r) => ({ k: 'munmap' as const, ...r })),
  range(1, 2 * N).map((r) => ({ k: 'dontneed' as const, ...r })),
  fc.record({ k: fc.constant('truncate' as const), to: fc.integer({ min: 0, max: N - 1 }) }),
  fc.record({ k: fc.constant('poison' as const), p: fc.integer({ min: 1, max: N - 1 }) }),
  fc.record({ k: fc.constant('reslot' as const), s: fc.constantFrom(0 as const, 1 as const), log: fc.boolean() }),
);

function run(ops: Op[]): void {
  const { task } = bootKvm({ mem: 4 * GiB });
  task.mmap(ANON, N * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  task.madvise(ANON, N * P, MADV_NOHUGEPAGE);
  const fd = task.memfd_create('guest', 0);
  task.ftruncate(fd, N * P);
  task.mmap(FILE, N * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
  const vm = createVm(task);
  const flags = [0, 0];
  const slot = (s: 0 | 1) => setRegion(task, vm.vmFd, s, s * N * P, N * P, s === 0 ? ANON : FILE, flags[s]);
  slot(0);
  slot(1);
  const vcpu = createVcpu(task, vm.vmFd);
  /** Reference: the u64 at the start of each page (as a number), mapped-ness and poison. */
  const val = new Float64Array(2 * N);
  const mapped = new Array<boolean>(2 * N).fill(true);
  const poisoned = new Set<number>();
  const hvaOf = (p: number) => (p < N ? ANON + p * P : FILE + (p - N) * P);

  /** Repair what made page p fault: a fresh anonymous mapping (zeros), or the file mapped again. */
  const repair = (p: number): void => {
    if (p < N) {
      task.mmap(ANON + P, (N - 1) * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      task.madvise(ANON + P, (N - 1) * P, MADV_NOHUGEPAGE);
      for (let i = 1; i < N; i++) {
        val[i] = 0;
        mapped[i] = true;
        poisoned.delete(i);
      }
    } else {
      task.mmap(FILE, N * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
      for (let i = N; i < 2 * N; i++) mapped[i] = true;
    }
  };

  /** A guest program over [a, a+n); faults are expected exactly where the reference says, then repaired. */
  const guest = (a: number, n: number, write: boolean): void => {
    task.store(ANON, encode_guest_program({ pattern: 0, flags: write ? GUEST_FLAG_WRITE : GUEST_FLAG_CHECKSUM, start_gpa: a * P, bytes: n * P, seed: 0, hot_percent: 0, iterations: 1 }));
    const kr = new_kvm_run();
    let lo = 0;
    let hi = 0;
    for (let p = a; p < a + n; p++) {
      if (!mapped[p] || poisoned.has(p)) {
        let err: unknown = null;
        try {
          task.ioctl(vcpu, KVM_RUN, kr);
        } catch (e) {
          err = e;
        }
        if (poisoned.has(p) && mapped[p]) {
          expect(err instanceof Signal && err.code === BUS_MCEERR_AR && err.addr === hvaOf(p), `SIGBUS at page ${p}`).toBe(true);
        } else {
          expect(err instanceof Errno && err.code === 'EFAULT', `EFAULT at page ${p}, got ${String(err)}`).toBe(true);
        }
        repair(p);
      }
      if (write) val[p] = p * P;
      else {
        lo = (lo ^ val[p]! % 2 ** 32) >>> 0;
        hi = (hi ^ Math.floor(val[p]! / 2 ** 32)) >>> 0;
      }
    }
    task.ioctl(vcpu, KVM_RUN, kr);
    expect(kr.exit_reason).toBe(KVM_EXIT_IO);
    if (!write) expect(new DataView(task.load(ANON + 48, 8).buffer).getUint32(0, true)).toBe(lo);
    void hi;
  };

  for (const o of ops) {
    switch (o.k) {
      case 'gwrite':
      case 'gread':
        guest(o.a, o.n, o.k === 'gwrite');
        break;
      case 'vstore':
        if (!mapped[o.p] || poisoned.has(o.p)) break;
        task.store(hvaOf(o.p), new Uint8Array(new Uint32Array([o.v, 0]).buffer));
        val[o.p] = o.v;
        break;
      case 'munmap':
        task.munmap(hvaOf(o.a), o.n * P);
        for (let p = o.a; p < o.a + o.n; p++) mapped[p] = false;
        break;
      case 'dontneed':
        task.madvise(hvaOf(o.a), o.n * P, MADV_DONTNEED);
        // Private anonymous pages are gone; shared file pages stay in the page cache.
        for (let p = o.a; p < o.a + o.n; p++) {
          if (p >= N || !mapped[p]) continue;
          val[p] = 0;
          poisoned.delete(p);
        }
        break;
      case 'truncate':
        task.ftruncate(fd, o.to * P);
        checkEpt(vm.kvm, task.mm);
        task.ftruncate(fd, N * P);
        for (let p = N + o.to; p < 2 * N; p++) val[p] = 0;
        break;
      case 'poison': {
        const t = mapped[o.p] && !poisoned.has(o.p) ? follow_page(task.mm, hvaOf(o.p)) : null;
        if (!t || t.pfn === task.host.kmem.zeroPfn) break;
        const inj = task.open('/sys/kernel/debug/hwpoison/corrupt-pfn', O_RDWR);
        task.write(inj, `0x${t.pfn.toString(16)}\n`);
        task.close(inj);
        poisoned.add(o.p);
        break;
      }
      case 'reslot':
        setRegion(task, vm.vmFd, o.s, 0, 0, 0);
        flags[o.s] = o.log ? KVM_MEM_LOG_DIRTY_PAGES : 0;
        slot(o.s);
        break;
    }
    checkEpt(vm.kvm, task.mm);
  }
}

describe('KVM against a reference', () => {
  it('random slot operations, host changes and guest accesses', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 30 }), (ops) => run(ops)),
      { numRuns: 60, seed: 4242 },
    );
  });
});

/**
 * dmemfs verify against this machine's kernel. Skipped with the reason where a
 * case cannot run here (no koffi, not Linux, not root, no /dev/kvm). Figures
 * that are exact on any host (HugePages_* through the sequence, memtouch's
 * faults) must match the model; KVM page counts depend on the host's paging
 * (EPT vs shadow), so only the level the guest's memory is mapped at is
 * checked. Host state (pool sizes, mounts) is checked to be as before.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CASES } from '../../src/scenario/verify/cases.ts';
import { caseUnavailable } from '../../src/scenario/verify/linux_side.ts';
import { verify } from '../../src/scenario/verify/runner.ts';
import type { VerifyCaseResult } from '../../src/scenario/verify/table.ts';
import { noLinux, withHugetlbLock } from './env.ts';

const POOLS = ['/proc/sys/vm/nr_hugepages', '/proc/sys/vm/nr_overcommit_hugepages', '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages'];
const hostState = (): string => POOLS.map((p) => readFileSync(p, 'utf8')).join(' ') + readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes('dmemfs-verify')).join('\n');

const linux = noLinux();
/** Why a case cannot run here (printed once per case), or null. */
function why(name: string): string | null {
  if (linux) return linux;
  const r = caseUnavailable(CASES.find((c) => c.name === name)!);
  if (r) console.info(`test/linux: verify ${name} skipped: ${r}`);
  return r;
}
const run = (name: string): VerifyCaseResult => verify({ only: name }).cases[0]!;
const kernel = (r: VerifyCaseResult, fig: string): number | null => r.rows.find((x) => x.figure === fig)?.kernel ?? null;
const thp = linux ? 'never' : (/\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? 'never');

describe.skipIf(linux !== null)(`dmemfs verify on this kernel${linux ? ` (skipped: ${linux})` : ''}`, () => {
  it.skipIf(why('memtouch') !== null)('memtouch faults by level are the model\'s', () => withHugetlbLock(() => {
    const r = run('memtouch');
    expect(r.kernel).toBeNull();
    const rows = r.rows.filter((x) => thp !== 'never' || x.figure.startsWith('no-thp'));
    expect(rows.length).toBeGreaterThan(0);
    for (const x of rows) expect([x.figure, x.kernel]).toEqual([x.figure, x.model]);
  }));

  it.skipIf(why('hugetlb-counters') !== null)('HugePages_* through reserve/touch/resize/surplus are the model\'s, and the pool is put back', () => withHugetlbLock(() => {
    const before = hostState();
    let r = run('hugetlb-counters');
    // Another test file may size the pool at the same moment: the deltas are then off; once more.
    if (r.rows.some((x) => x.verdict !== 'same')) r = run('hugetlb-counters');
    expect(r.kernel).toBeNull();
    expect(r.rows.length).toBe(32);
    for (const x of r.rows) expect([x.figure, x.kernel]).toEqual([x.figure, x.model]);
    expect(hostState()).toBe(before);
  }));

  it.skipIf(why('hugetlb-counters') !== null)('the same with free pages already in the pool (the model starts with them too)', () => withHugetlbLock(async () => {
    const { LinuxSession } = await import('../../src/linux/session.ts');
    const before = hostState();
    const session = new LinuxSession();
    try {
      if (session.reserveHugepages(2 * 1024 * 1024, 5) < 5) return void console.info('test/linux: verify: the kernel could not allocate 5 2M pages now');
      let r = run('hugetlb-counters');
      if (r.rows.some((x) => x.verdict !== 'same')) r = run('hugetlb-counters');
      expect(r.rows.find((x) => x.figure === 'shrink1.Surp')?.kernel).toBe(0);
      for (const x of r.rows) expect([x.figure, x.kernel]).toEqual([x.figure, x.model]);
    } finally {
      session.release();
    }
    expect(hostState()).toBe(before);
  }));

  it.skipIf(why('kvm-4k') !== null)('a guest on memfd is mapped with 4K pages', () => withHugetlbLock(() => {
    const r = run('kvm-4k');
    expect(r.kernel).toBeNull();
    expect(kernel(r, 'memfd.pages_4k')).toBeGreaterThan(0);
    expect(kernel(r, 'memfd.pages_1g')).toBe(0);
  }));

  it.skipIf(why('kvm-thp') !== null || thp === 'never')('a guest on anonymous memory with MADV_HUGEPAGE gets 2M pages', () => withHugetlbLock(() => {
    const r = run('kvm-thp');
    expect(r.kernel).toBeNull();
    expect(kernel(r, 'ram.pages_2m')).toBeGreaterThan(0);
  }));

  it.skipIf(why('kvm-hugetlb-2m') !== null)('a guest on hugetlb 2M gets 2M pages; the pool is put back', () => withHugetlbLock(() => {
    const before = hostState();
    const r = run('kvm-hugetlb-2m');
    if (r.kernel?.startsWith('skipped')) return void console.info(`test/linux: verify kvm-hugetlb-2m: ${r.kernel}`);
    expect(r.kernel).toBeNull();
    expect(kernel(r, 'hugetlb2M.pages_2m')).toBeGreaterThan(0);
    expect(kernel(r, 'hugetlb2M.pages_1g')).toBe(0);
    expect(hostState()).toBe(before);
  }));

  it.skipIf(why('kvm-hugetlb-1g') !== null)('1G: runs, or says why not; the pool is put back', () => withHugetlbLock(() => {
    const before = hostState();
    const r = run('kvm-hugetlb-1g');
    if (r.kernel) expect(r.kernel).toMatch(/^skipped: /);
    else expect((kernel(r, 'hugetlb1G.pages_1g') ?? 0) + (kernel(r, 'hugetlb1G.pages_2m') ?? 0)).toBeGreaterThan(0);
    expect(hostState()).toBe(before);
  }));

  it.skipIf(why('kvm-dmemfs') !== null)('dmemfs: a guest on a user-space dmemfs file (where there is one) is mapped; nothing is left behind', () => withHugetlbLock(() => {
    const before = hostState();
    const r = run('kvm-dmemfs');
    if (r.kernel?.startsWith('skipped')) return void console.info(`test/linux: verify kvm-dmemfs: ${r.kernel}`);
    expect(r.kernel).toBeNull();
    expect((kernel(r, 'dmemfs.pages_2m') ?? 0) + (kernel(r, 'dmemfs.pages_4k') ?? 0)).toBeGreaterThan(0);
    expect(hostState()).toBe(before);
  }));
});

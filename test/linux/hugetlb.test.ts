/**
 * Real hugetlb pages under --linux: the session sizes the pool (root), a
 * MAP_HUGETLB mapping faults at 2M, and the pool is put back as it was.
 * Uses 2 huge pages (4 MiB).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { runSh } from '../../src/cli/main.ts';
import { noHugetlb, withHugetlbLock } from './env.ts';

const reason = noHugetlb();
const NR = '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages';

describe.skipIf(reason !== null)(`hugetlb under --linux${reason ? ` (skipped: ${reason})` : ''}`, async () => {
  const { LinuxSession } = await import('../../src/linux/session.ts');
  const { LinuxSyscalls } = await import('../../src/linux/syscalls.ts');
  const { MAP_ANONYMOUS, MAP_HUGETLB, MAP_HUGE_2MB, MAP_PRIVATE, PROT_READ, PROT_WRITE } = await import('../../src/uapi/mman.ts');

  it('reserves pages for the session, faults at 2M, restores the pool', () => withHugetlbLock(() => {
    const before = readFileSync(NR, 'utf8');
    const session = new LinuxSession();
    try {
      const sys = LinuxSyscalls.console(session, { stdout: () => {}, stderr: () => {} });
      const got = session.reserveHugepages(2 * 1024 * 1024, 2);
      if (got < 1) return void console.info('test/linux: hugetlb: the kernel could not allocate a 2M page now');
      const a = sys.mmap(0, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
      expect(a % (2 << 20)).toBe(0);
      sys.store(a + 12345, new Uint8Array([9]));
      sys.store(a + (1 << 20), new Uint8Array([9]));
      expect(sys.load(a + 12345, 1)[0]).toBe(9);
      expect(sys.space.faults).toEqual([0, 1, 0]);
    } finally {
      session.release();
    }
    expect(readFileSync(NR, 'utf8')).toBe(before);
  }));

  it('sh --linux --hugepages: memtouch on hugetlbfs, pool and mount given back', () => withHugetlbLock(() => {
    const before = readFileSync(NR, 'utf8');
    const dir = `/tmp/dmemfs-linux-htlb-${process.pid}`;
    let out = '';
    runSh(['--linux', '--hugepages', '2:2M'], {
      stdout: (s) => (out += s),
      stderr: () => {},
      script: `mkdir ${dir}\nmount -t hugetlbfs -o pagesize=2M none ${dir}\nmemtouch --file ${dir}/f --create --size 2M\n`,
    });
    expect(out).toMatch(/faults 4K=0 2M=1 1G=0/);
    expect(readFileSync(NR, 'utf8')).toBe(before);
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(dir);
    runSh(['--linux'], { stdout: () => {}, stderr: () => {}, script: `rmdir ${dir}\n` });
  }));
});

/**
 * The user-space dmemfs under --linux (src/linux/dmemfs) on its memfd fallback
 * (pool=memfd: needs neither root nor hugetlb): mount message and /proc/mounts,
 * statfs, the model's truncate/write/read rules, mmap assembled from the pool's
 * extents into one contiguous range, its errno rules, SIGBUS past EOF and after a
 * truncate, and everything released at umount and at the session's end.
 * Pools of 8 MiB.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noLinux } from './env.ts';

const reason = noLinux();
const M = 1024 * 1024;

/** Lines of our /proc/self/maps naming the pool's memfd. */
const poolMaps = (): string[] => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('dmemfs-pool'));

describe.skipIf(reason !== null)(`user-space dmemfs, memfd pool${reason ? ` (skipped: ${reason})` : ''}`, async () => {
  const { LinuxSession } = await import('../../src/linux/session.ts');
  const { LinuxSyscalls } = await import('../../src/linux/syscalls.ts');
  const { O_CREAT, O_RDONLY, O_RDWR, O_DIRECTORY } = await import('../../src/uapi/fcntl.ts');
  const { MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } = await import('../../src/uapi/mman.ts');
  const { Signal } = await import('../../src/uapi/signal.ts');
  const { Errno } = await import('../../src/lib/errno.ts');

  /** A session with one 8M (4 × 2M dpage) memfd-backed mount at a fresh directory. */
  function withMount(fn: (sys: InstanceType<typeof LinuxSyscalls>, dir: string, err: () => string) => void): void {
    const dir = mkdtempSync(join(tmpdir(), 'udmemfs-'));
    const session = new LinuxSession();
    let err = '';
    try {
      const sys = LinuxSyscalls.console(session, { stdout: () => {}, stderr: (s) => (err += s) });
      sys.mount('none', dir, 'dmemfs', 0, 'pagesize=2M,size=8M,pool=memfd');
      fn(sys, dir, () => err);
    } finally {
      session.release();
      rmdirSync(dir);
    }
  }
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      if (e instanceof Errno) return e.code;
      if (e instanceof Signal) return `SIG${e.signo}`;
      throw e;
    }
    return 'ok';
  };
  const text = (u: Uint8Array): string => new TextDecoder().decode(u);

  it('says what it reserved; /proc/mounts and statfs show it', () => {
    withMount((sys, dir, err) => {
      expect(err()).toMatch(/user-space dmemfs, 4 dpages of 2M \(8M\) reserved from an ordinary memfd, 4K pages \(pool=memfd asked for\)/);
      const fd = sys.open('/proc/mounts', O_RDONLY);
      const mounts = text(sys.read(fd, 1 << 20));
      expect(mounts).toContain(`memfd ${dir} dmemfs rw,relatime,pagesize=2M,size=8M,pool=memfd 0 0\n`);
      const st = sys.statfs(dir);
      expect(st).toMatchObject({ type: 0x2ace90c6, bsize: 2 * M, blocks: 4, bfree: 4, bavail: 4 });
      expect(poolMaps().length).toBe(1);
    });
    expect(poolMaps()).toEqual([]);
  });

  it('truncate in whole dpages allocates nothing; write allocates zeroed dpages; holes read as zeros', () => {
    withMount((sys, dir) => {
      const fd = sys.open(`${dir}/f`, O_RDWR | O_CREAT, 0o600);
      expect(code(() => sys.ftruncate(fd, M))).toBe('EINVAL');
      sys.ftruncate(fd, 6 * M);
      expect(sys.fstat(fd).size).toBe(6 * M);
      expect(sys.fstatfs(fd).bfree).toBe(4);
      expect(sys.pwrite(fd, 'hello', 2 * M - 2)).toBe(5);
      expect(sys.fstatfs(fd).bfree).toBe(2); // the write straddles dpages 0 and 1
      expect(sys.fstat(fd).blocks).toBe((4 * M) / 512);
      expect(text(sys.pread(fd, 5, 2 * M - 2))).toBe('hello');
      expect(sys.pread(fd, 4, 4 * M - 4)).toEqual(new Uint8Array(4)); // zeroed at allocation
      expect(sys.pread(fd, 4, 5 * M)).toEqual(new Uint8Array(4)); // a hole
      expect(sys.pread(fd, 10, 6 * M)).toEqual(new Uint8Array(0)); // EOF
      expect(sys.pwrite(fd, new Uint8Array(3 * M), 6 * M)).toBe(3 * M); // dpages 3 and 4
      expect(sys.fstatfs(fd).bfree).toBe(0);
      expect(code(() => sys.pwrite(fd, 'x', 10 * M))).toBe('ENOSPC');
      sys.ftruncate(fd, 2 * M);
      expect(sys.fstatfs(fd).bfree).toBe(3);
      sys.ftruncate(fd, 0);
      sys.fallocate(fd, 0, 0, 3 * M);
      expect(sys.fstat(fd).size).toBe(3 * M);
      expect(sys.fstatfs(fd).bfree).toBe(2);
      sys.unlink(`${dir}/f`);
      expect(sys.fstatfs(fd).bfree).toBe(2); // still open
      expect(code(() => sys.umount2(dir, 0))).toBe('EBUSY');
      sys.close(fd);
      expect(sys.statfs(dir).bfree).toBe(4);
      const d = sys.open(dir, O_RDONLY | O_DIRECTORY);
      expect(sys.getdents(d).map((e) => e.name)).toEqual(['.', '..']);
      sys.close(d);
      sys.umount2(dir, 0);
      expect(poolMaps()).toEqual([]);
      expect(code(() => sys.statfs(dir))).toBe('ok'); // the host directory again
      expect(sys.statfs(dir).type).not.toBe(0x2ace90c6);
    });
  });

  it('mmap: the extents become one contiguous range; the model errno rules; SIGBUS past EOF', () => {
    withMount((sys, dir) => {
      // Fragment the pool: a at dpage 0, b at 1; a goes, so c gets 0 then 2-3.
      const a = sys.open(`${dir}/a`, O_RDWR | O_CREAT, 0o600);
      sys.fallocate(a, 0, 0, 2 * M);
      const b = sys.open(`${dir}/b`, O_RDWR | O_CREAT, 0o600);
      sys.fallocate(b, 0, 0, 2 * M);
      sys.close(a);
      sys.unlink(`${dir}/a`);
      const c = sys.open(`${dir}/c`, O_RDWR | O_CREAT, 0o600);
      sys.ftruncate(c, 6 * M);
      for (let i = 0; i < 3; i++) sys.pwrite(c, `dpage${i}`, i * 2 * M + 100);
      // The model's rules: whole dpages, aligned offset, MAP_SHARED, a writable file.
      expect(code(() => sys.mmap(0, M, PROT_READ, MAP_SHARED, c, 0))).toBe('EINVAL');
      expect(code(() => sys.mmap(0, 2 * M, PROT_READ, MAP_SHARED, c, M))).toBe('EINVAL');
      expect(code(() => sys.mmap(0, 2 * M, PROT_READ, MAP_PRIVATE, c, 0))).toBe('EINVAL');
      const ro = sys.open(`${dir}/c`, O_RDONLY);
      expect(code(() => sys.mmap(0, 2 * M, PROT_READ, MAP_SHARED, ro, 0))).toBe('EINVAL');
      expect(code(() => sys.mmap(0, 2 * M, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0))).toBe('EACCES');
      // 8M over a 6M file: the last dpage is past EOF.
      const p = sys.mmap(0, 8 * M, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
      expect(p % (2 * M)).toBe(0);
      const ranges = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('dmemfs-pool') && parseInt(l, 16) >= p && parseInt(l, 16) < p + 8 * M);
      expect(ranges.length).toBe(2); // two runs of the backing fd: dpage 0, dpages 2-3
      for (let i = 0; i < 3; i++) expect(text(sys.load(p + i * 2 * M + 100, 6))).toBe(`dpage${i}`);
      sys.store(p + 5 * M, new TextEncoder().encode('via-map'));
      expect(text(sys.pread(c, 7, 5 * M))).toBe('via-map');
      expect(code(() => sys.load(p + 6 * M, 1))).toBe(`SIG7`); // SIGBUS past EOF
      sys.ftruncate(c, 2 * M);
      expect(code(() => sys.load(p + 2 * M, 1))).toBe('SIG7'); // truncated away
      expect(text(sys.load(p + 100, 6))).toBe('dpage0');
      expect(code(() => sys.mremap(p, 8 * M, 10 * M, 1 /* MREMAP_MAYMOVE */))).toBe('EINVAL'); // VM_DMEM
      // MAP_FIXED over the mapping replaces it: the first mapping no longer holds the mount.
      const q = sys.mmap(p, 2 * M, PROT_READ, MAP_SHARED | MAP_FIXED, b, 0);
      expect(q).toBe(p);
      expect(sys.load(q, 4)).toEqual(new Uint8Array(4));
      expect(code(() => sys.umount2(dir, 0))).toBe('EBUSY');
      sys.munmap(p, 8 * M);
      for (const fd of [b, c, ro]) sys.close(fd);
      sys.umount2(dir, 0);
      expect(poolMaps()).toEqual([]);
    });
  });

  it('rejects bad options and a missing mount point', () => {
    const session = new LinuxSession();
    try {
      const sys = LinuxSyscalls.console(session, { stdout: () => {}, stderr: () => {} });
      expect(code(() => sys.mount('none', '/nonexistent-udmemfs', 'dmemfs', 0, 'pagesize=2M,pool=memfd'))).toBe('ENOENT');
      expect(code(() => sys.mount('none', tmpdir(), 'dmemfs', 0, 'pagesize=3M,pool=memfd'))).toBe('EINVAL');
      expect(code(() => sys.mount('none', tmpdir(), 'dmemfs', 0, 'pagesize=2M,size=1M,pool=memfd'))).toBe('EINVAL');
      expect(code(() => sys.mount('none', tmpdir(), 'dmemfs', 0, 'pagesize=2M,pool=other'))).toBe('EINVAL');
    } finally {
      session.release();
    }
  });
});

/**
 * LinuxSyscalls on the real kernel: errnos as the kernel returns them, loads and
 * stores through process_vm_readv/writev, and faults reported as the model's
 * Signals instead of killing Node. Memory used: a few MiB, all unmapped after.
 *
 *   mapping used for SIGBUS (file of 4K, mapped 16K):
 *   |--page 0: file data--|--page 1..3: beyond EOF → SIGBUS BUS_ADRERR--|
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Errno } from '../../src/lib/errno.ts';
import { O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR } from '../../src/uapi/fcntl.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_NONE, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { BUS_ADRERR, SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGKILL, SIGSEGV, Signal } from '../../src/uapi/signal.ts';
import { wifsignaled, wtermsig, wexitstatus } from '../../src/uapi/syscalls.ts';
import { noLinux } from './env.ts';

const reason = noLinux();

describe.skipIf(reason !== null)(`LinuxSyscalls${reason ? ` (skipped: ${reason})` : ''}`, async () => {
  const { LinuxSession } = await import('../../src/linux/session.ts');
  const { LinuxSyscalls } = await import('../../src/linux/syscalls.ts');
  let session: InstanceType<typeof LinuxSession>;
  let sys: InstanceType<typeof LinuxSyscalls>;
  let out = '';

  beforeEach(() => {
    session = new LinuxSession();
    out = '';
    sys = LinuxSyscalls.console(session, { stdout: (s) => (out += s), stderr: (s) => (out += s) });
  });
  afterEach(() => session.release());

  const errnoOf = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      if (e instanceof Errno) return e.code;
      throw e;
    }
    return 'ok';
  };
  const signalOf = (f: () => unknown): Signal => {
    try {
      f();
    } catch (e) {
      if (e instanceof Signal) return e;
      throw e;
    }
    throw new Error('no signal');
  };

  it('returns the kernel errno as the project Errno', () => {
    expect(errnoOf(() => sys.open('/nonexistent-dmemfs-test', O_RDONLY))).toBe('ENOENT');
    expect(errnoOf(() => sys.mmap(0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))).toBe('EINVAL');
    expect(errnoOf(() => sys.mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 123))).toBe('EINVAL');
    expect(errnoOf(() => sys.close(77))).toBe('EBADF');
    expect(errnoOf(() => sys.open('/proc/self/status/x', O_RDONLY))).toBe('ENOTDIR');
  });

  it('reads /proc files and directories', () => {
    const fd = sys.open('/proc/self/status', O_RDONLY);
    expect(new TextDecoder().decode(sys.read(fd, 4096))).toMatch(/^Name:/);
    sys.close(fd);
    const d = sys.open('/proc/self', O_RDONLY | O_DIRECTORY);
    expect(sys.getdents(d).map((e) => e.name)).toContain('maps');
    sys.close(d);
    expect(sys.statfs('/proc').type).toBe(0x9fa0);
  });

  it('stores and loads bytes on a real mapping, across pages', () => {
    const a = sys.mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const data = new Uint8Array(6000).map((_, i) => i % 251);
    sys.store(a + 4000, data);
    expect(sys.load(a + 4000, 6000)).toEqual(data);
    expect(sys.load(a, 4)).toEqual(new Uint8Array(4));
    sys.munmap(a, 3 * 4096);
    expect(signalOf(() => sys.load(a, 1))).toMatchObject({ signo: SIGSEGV, code: SEGV_MAPERR, addr: a });
  });

  it('a memfd round trip: write through the mapping, read through the fd', () => {
    const fd = sys.memfd_create('dmemfs-test', 0);
    sys.ftruncate(fd, 8192);
    const a = sys.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    sys.store(a + 4096, new TextEncoder().encode('hello'));
    expect(new TextDecoder().decode(sys.pread(fd, 5, 4096))).toBe('hello');
    expect(sys.fstat(fd).size).toBe(8192);
    sys.close(fd);
  });

  it('SIGBUS BUS_ADRERR beyond the end of a mapped file, not a crash of Node', () => {
    const path = `/dev/shm/dmemfs-linux-test-${process.pid}`;
    const fd = sys.open(path, O_RDWR | O_CREAT, 0o600);
    try {
      sys.ftruncate(fd, 4096);
      const a = sys.mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      sys.store(a, new Uint8Array([1]));
      expect(signalOf(() => sys.load(a + 2 * 4096, 8))).toMatchObject({ signo: SIGBUS, code: BUS_ADRERR, addr: a + 2 * 4096 });
      // An access straddling EOF faults at the first byte past it.
      expect(signalOf(() => sys.store(a + 4090, new Uint8Array(16)))).toMatchObject({ signo: SIGBUS, addr: a + 4096 });
    } finally {
      sys.close(fd);
      sys.unlink(path);
    }
  });

  it('SIGSEGV: protections and addresses the session did not map', () => {
    const a = sys.mmap(0, 2 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect(signalOf(() => sys.store(a, new Uint8Array(1)))).toMatchObject({ signo: SIGSEGV, code: SEGV_ACCERR });
    sys.mprotect(a + 4096, 4096, PROT_NONE);
    expect(sys.load(a, 1)).toEqual(new Uint8Array(1));
    expect(signalOf(() => sys.load(a + 4096, 1))).toMatchObject({ signo: SIGSEGV, code: SEGV_ACCERR, addr: a + 4096 });
    // Memory Node owns is neither touched nor replaced.
    expect(signalOf(() => sys.load(0x10000, 1)).code).toBe(SEGV_MAPERR);
    expect(errnoOf(() => sys.mprotect(0x10000, 4096, PROT_READ))).toBe('ENOMEM');
    const b = sys.mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sys.munmap(b, 4096);
    const c = sys.mmap(0, 3 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect(errnoOf(() => sys.mmap(c + 4096, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0))).toBe('ok');
  });

  it('counts first touches from the page tables', () => {
    const size = 1 << 20;
    const a = sys.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sys.madvise(a, size, 15 /* MADV_NOHUGEPAGE */);
    for (let off = 0; off < size; off += 4096) sys.store(a + off, new Uint8Array([7]));
    for (let off = 0; off < size; off += 4096) sys.store(a + off, new Uint8Array([8]));
    const fd = sys.open('/proc/self/model_faults', O_RDONLY);
    expect(new TextDecoder().decode(sys.read(fd, 100))).toBe('4K 256\n2M 0\n1G 0\n');
  });

  it('pseudo-processes: fork, pipe, exit, wait4, kill', () => {
    const [r, w] = sys.pipe();
    const child = sys.fork();
    expect(child.getpid()).toBeGreaterThan(4 * 1024 * 1024);
    child.close(r);
    child.write(w, 'from child');
    child.exit(3);
    sys.close(w);
    expect(new TextDecoder().decode(sys.read(r, 100))).toBe('from child');
    expect(wexitstatus(sys.wait4(child.getpid(), 0).status)).toBe(3);
    const c2 = sys.fork();
    const m = c2.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sys.kill(c2.getpid(), SIGKILL);
    const st = sys.wait4(-1, 0).status;
    expect(wifsignaled(st) && wtermsig(st)).toBe(SIGKILL);
    expect(signalOf(() => sys.load(m, 1)).code).toBe(SEGV_MAPERR);
    expect(errnoOf(() => sys.kill(1, 0))).toBe('EPERM');
  });
});

/**
 * The fork row: a test program maps guest memory the way the VMM does (without
 * QEMU's MADV_DONTFORK), writes to it, forks, and checks what the child sees
 * and whether the child's write reaches the parent. It runs as a process on the
 * probe host and uses only system calls.
 */
import { Errno } from '../lib/errno.ts';
import { O_CREAT, O_RDWR } from '../uapi/fcntl.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, PROT_NONE, PROT_READ, PROT_WRITE } from '../uapi/mman.ts';
import { SIGBUS, SIGSEGV, Signal } from '../uapi/signal.ts';
import type { Syscalls } from '../uapi/syscalls.ts';

function why(e: unknown): string {
  if (e instanceof Errno) return e.strerror;
  if (e instanceof Signal) return e.signo === SIGBUS ? 'SIGBUS' : e.signo === SIGSEGV ? 'SIGSEGV' : `signal ${e.signo}`;
  throw e;
}

/** Map `size` bytes of `path` (shared) or anonymous memory (private), fork, and report. */
export function forkProbe(sys: Syscalls, path: string | null, size: number, align: number): string {
  let addr: number;
  try {
    const fd = path === null ? -1 : sys.open(path, O_RDWR | O_CREAT, 0o600);
    if (fd >= 0 && !path!.startsWith('/dev/') && sys.fstat(fd).size < size) sys.ftruncate(fd, size);
    // Placed at an `align` boundary, as the VMM places guest RAM (device-dax requires it).
    const hole = sys.mmap(0, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    const at = Math.ceil(hole / align) * align;
    addr = sys.mmap(at, size, PROT_READ | PROT_WRITE, MAP_FIXED | (fd < 0 ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED), fd, 0);
    sys.store(addr, new Uint8Array([0x5a]));
  } catch (e) {
    return `not measured (mapping failed: ${why(e)})`;
  }
  let child: Syscalls;
  try {
    child = sys.fork();
  } catch (e) {
    return `no: fork failed: ${why(e)}`;
  }
  let seen: number;
  try {
    seen = child.load(addr, 1)[0]!;
    child.store(addr + 4096, new Uint8Array([0xa5]));
  } catch (e) {
    if (e instanceof Signal && e.signo === SIGSEGV) return 'no: not inherited (the child got SIGSEGV)';
    return `no: the child ${e instanceof Signal ? 'got' : 'failed with'} ${why(e)} touching it`;
  } finally {
    try {
      child.exit(0);
    } catch {
      // already gone
    }
  }
  if (seen !== 0x5a) return `no: the child read 0x${seen.toString(16)}, not the parent's data`;
  const back = sys.load(addr + 4096, 1)[0]!;
  return back === 0xa5 ? 'yes (the child shares the memory)' : 'yes (copy-on-write)';
}

/**
 * When the real-Linux tests can run, and why not. Each suite skips with the
 * one-line reason (printed once) where koffi cannot load, /proc is not Linux's,
 * or root/hugetlb is missing.
 */
import { linuxUnavailable } from '../../src/cli/sh_linux.ts';
import { kvmUnavailable } from '../../src/linux/kvm/index.ts';
import { readHugetlbInfo } from '../../src/linux/session.ts';

const printed = new Set<string>();
function note(what: string, reason: string | null): string | null {
  if (reason && !printed.has(what)) {
    printed.add(what);
    console.info(`test/linux: ${what} skipped: ${reason}`);
  }
  return reason;
}

/** Why the Linux backend cannot run here, or null. */
export function noLinux(): string | null {
  return note('linux backend', linuxUnavailable());
}

/** Why real-KVM tests cannot run here (no backend, not root, no usable /dev/kvm), or null. */
export function noKvm(): string | null {
  const why = linuxUnavailable();
  if (why) return note('kvm', why);
  if (process.getuid?.() !== 0) return note('kvm', 'not root');
  return note('kvm', kvmUnavailable());
}

/** Why hugetlb tests cannot run here (no backend, not root, no 2M hugetlb), or null. */
export function noHugetlb(): string | null {
  const why = linuxUnavailable();
  if (why) return note('hugetlb', why);
  if (process.getuid?.() !== 0) return note('hugetlb', 'not root: cannot size the hugetlb pool');
  const h = readHugetlbInfo();
  if (!h.sizes.includes(2 * 1024 * 1024)) return note('hugetlb', 'the kernel has no 2M hugetlb pool');
  return null;
}

/**
 * Hold the host's hugetlb pool for the duration of `fn`, across test files (vitest runs files
 * in parallel processes): tests that size the pool and then check it is put back take this
 * lock, so another file's changes do not land between their before and after. A lock left
 * by a dead process is taken over.
 */
export async function withHugetlbLock<T>(fn: () => T | Promise<T>): Promise<T> {
  const { mkdirSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const dir = '/tmp/dmemfs-test-hugetlb.lock';
  for (let i = 0; ; i++) {
    try {
      mkdirSync(dir);
      writeFileSync(`${dir}/pid`, String(process.pid));
      break;
    } catch {
      let owner = 0;
      try {
        owner = Number(readFileSync(`${dir}/pid`, 'utf8'));
      } catch {
        // being created or removed right now
      }
      let alive = true;
      try {
        if (owner) process.kill(owner, 0);
      } catch {
        alive = false;
      }
      if (!alive || i > 1200) rmSync(dir, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * When the real-Linux tests can run, and why not. Each suite skips with the
 * one-line reason (printed once) where koffi cannot load, /proc is not Linux's,
 * or root/hugetlb is missing.
 */
import { linuxUnavailable } from '../../src/cli/sh_linux.ts';
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

/** Why hugetlb tests cannot run here (no backend, not root, no 2M hugetlb), or null. */
export function noHugetlb(): string | null {
  const why = linuxUnavailable();
  if (why) return note('hugetlb', why);
  if (process.getuid?.() !== 0) return note('hugetlb', 'not root: cannot size the hugetlb pool');
  const h = readHugetlbInfo();
  if (!h.sizes.includes(2 * 1024 * 1024)) return note('hugetlb', 'the kernel has no 2M hugetlb pool');
  return null;
}

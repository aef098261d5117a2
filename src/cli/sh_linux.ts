/**
 * `dmemfs sh --linux`: the same shell and programs on this machine's kernel
 * (src/linux). Says plainly what the host offers (hugetlb pool, root), sizes the
 * pool for the session when asked (--hugepages), and releases everything —
 * mappings, descriptors, mounts, pool sizes — when the session ends however it
 * ends (see src/linux/session.ts for Ctrl-C and kills).
 */
import { formatSizeSuffix } from '../lib/size.ts';
import { libcUnavailable } from '../linux/libc.ts';
import { LinuxSession, readHugetlbInfo, readText } from '../linux/session.ts';
import { LinuxSyscalls } from '../linux/syscalls.ts';
import { installLinuxKvm } from '../linux/kvm/index.ts';
import { runShell } from '../user/sh/index.ts';

/** What `sh --linux` needs from the command line. */
export interface LinuxShOptions {
  /** Extra hugetlb pages to make available for the session: count and page size in bytes. */
  hugepages: { count: number; size: number } | null;
  script: string | null;
  interactive: boolean;
  readLine?: (() => string | null) | undefined;
  stdout(s: string): void;
  stderr(s: string): void;
}

/** Why `--linux` cannot run here, or null. */
export function linuxUnavailable(): string | null {
  const why = libcUnavailable();
  if (why) return why;
  try {
    readText('/proc/self/stat');
  } catch {
    return '/proc is not a Linux procfs';
  }
  return null;
}

/** Run a shell session on the real kernel; returns its exit status. */
export function runShLinux(o: LinuxShOptions): number {
  const session = new LinuxSession();
  installLinuxKvm(); // vmm's KVM ioctls → real structs (src/linux/kvm)
  const onExit = (): void => session.release();
  process.once('exit', onExit);
  try {
    const release = readText('/proc/sys/kernel/osrelease').trim();
    const root = process.getuid?.() === 0;
    o.stderr(`dmemfs: --linux: programs run on this machine's kernel (Linux ${release}, pid ${session.realPid}${root ? ', root' : ''})\n`);
    if (o.hugepages) {
      const count = o.hugepages.count;
      const size = o.hugepages.size || readHugetlbInfo().defaultSize;
      const sizes = readHugetlbInfo().sizes;
      if (!root) o.stderr(`dmemfs: --hugepages needs root; the hugetlb pool is left as it is\n`);
      else if (!sizes.includes(size))
        o.stderr(`dmemfs: --hugepages: this kernel has no ${formatSizeSuffix(size)} hugetlb pool (sizes: ${sizes.map(formatSizeSuffix).join(' ') || 'none'})\n`);
      else {
        const got = session.reserveHugepages(size, count);
        o.stderr(`dmemfs: hugetlb: ${got} of ${count} ${formatSizeSuffix(size)} pages added to the pool for this session (restored at exit)\n`);
      }
    }
    const h = readHugetlbInfo();
    if (h.sizes.length === 0) o.stderr('dmemfs: hugetlb: this kernel has no hugetlb; MAP_HUGETLB fails, programs use anonymous and memfd memory\n');
    else if (h.free === 0)
      o.stderr(
        `dmemfs: hugetlb: the ${formatSizeSuffix(h.defaultSize)} pool has no free pages (HugePages_Total ${h.total}); MAP_HUGETLB and MFD_HUGETLB fail with ENOMEM, ` +
          `programs use anonymous and memfd memory${root ? '; size the pool with --hugepages N[:SIZE]' : ''}\n`,
      );
    else o.stderr(`dmemfs: hugetlb: ${h.free} free ${formatSizeSuffix(h.defaultSize)} pages (sizes ${h.sizes.map((s) => formatSizeSuffix(s)).join(' ')})\n`);
    const shell = LinuxSyscalls.console(session, { stdout: o.stdout, stderr: o.stderr });
    return runShell(shell, { script: o.script ?? undefined, interactive: o.interactive, readLine: o.readLine });
  } finally {
    process.off('exit', onExit);
    session.release();
  }
}

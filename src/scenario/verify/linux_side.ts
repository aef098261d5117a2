/**
 * The kernel side of `dmemfs verify`: a case's steps through the shell on this
 * machine's kernel (src/linux, as `dmemfs sh --linux` runs them), one
 * LinuxSession per case. Hugetlb pages a case needs are added to the pool for
 * the case and taken back at its end (LinuxSession.reserveHugepages/release);
 * a case that writes nr_hugepages or nr_overcommit_hugepages itself has both put
 * back to what they were before it. Says why where a case cannot run here.
 */
import { mkdirSync, rmdirSync } from 'node:fs';
import { formatSizeSuffix } from '../../lib/size.ts';
import { kvmUnavailable, installLinuxKvm } from '../../linux/kvm/index.ts';
import { libcUnavailable } from '../../linux/libc.ts';
import { LinuxSession, readHugetlbInfo, readText, writeText } from '../../linux/session.ts';
import { LinuxSyscalls } from '../../linux/syscalls.ts';
import { runShell } from '../../user/sh/index.ts';
import type { Need, VerifyCase } from './cases.ts';
import { runSteps, type SideResult } from './side.ts';

const NR = '/proc/sys/vm/nr_hugepages';
const OC = '/proc/sys/vm/nr_overcommit_hugepages';

/** Why nothing can run on the real kernel here (not Linux x86-64, no koffi), or null. */
export function linuxSideUnavailable(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `needs Linux x86-64 (this is ${process.platform}-${process.arch})`;
  return libcUnavailable();
}

/** Why a need is not met here, or null. */
function unmet(n: Need): string | null {
  if (n === 'kvm') return kvmUnavailable();
  if (n === 'root') return process.getuid?.() === 0 ? null : 'not root';
  const h = readHugetlbInfo();
  return h.defaultSize === 2 * 1024 * 1024 ? null : `the default hugetlb page size is ${h.defaultSize ? formatSizeSuffix(h.defaultSize) : 'absent'}, not 2M`;
}

/** Why this case cannot run on the real kernel here, or null (checked before anything is changed). */
export function caseUnavailable(c: VerifyCase): string | null {
  const why = linuxSideUnavailable();
  if (why) return why;
  for (const n of c.needs) {
    const w = unmet(n);
    if (w) return w;
  }
  if (c.pool && !readHugetlbInfo().sizes.includes(c.pool.size)) return `this kernel has no ${formatSizeSuffix(c.pool.size)} hugetlb pool`;
  return null;
}

/** How KVM maps guest memory here: two-dimensional paging (EPT/NPT) or shadow paging, and the module. */
export function kvmMmuMode(): string {
  const read = (p: string): string | null => {
    try {
      return readText(p).trim();
    } catch {
      return null;
    }
  };
  if (read('/sys/module/kvm_pvm/initstate') !== null || read('/sys/module/kvm_pvm/parameters/pvm_native') !== null) return 'kvm_pvm, shadow paging';
  const ept = read('/sys/module/kvm_intel/parameters/ept');
  if (ept !== null) return ept === 'Y' ? 'kvm_intel, EPT' : 'kvm_intel, shadow paging (ept=N)';
  const npt = read('/sys/module/kvm_amd/parameters/npt');
  if (npt !== null) return npt === 'Y' || npt === '1' ? 'kvm_amd, NPT' : 'kvm_amd, shadow paging (npt=0)';
  return 'no KVM module';
}

/** One line about the real side: the kernel release and KVM's paging mode. */
export function describeKernel(): string {
  const why = linuxSideUnavailable();
  if (why) return `unavailable: ${why}`;
  return `Linux ${readText('/proc/sys/kernel/osrelease').trim()}, ${process.getuid?.() === 0 ? 'root' : 'not root'}, KVM: ${kvmMmuMode()}`;
}

const num = (path: string): number => Number(readText(path).trim());

/** Run a case on this machine's kernel. */
export function runLinux(c: VerifyCase): SideResult {
  const why = caseUnavailable(c);
  if (why) return { figures: new Map(), skipped: why, transcript: '' };
  installLinuxKvm();
  const dir = `/tmp/dmemfs-verify-${process.pid}-${c.name}`;
  const writesPool = c.steps.some((s) => /\{(NR|OC)/.test(s.cmd));
  const before = { nr: num(NR), oc: num(OC) };
  const session = new LinuxSession();
  const onExit = (): void => session.release();
  process.once('exit', onExit);
  mkdirSync(dir, { recursive: true });
  let clean = false;
  try {
    if (c.pool) {
      const got = session.reserveHugepages(c.pool.size, c.pool.count);
      if (got < c.pool.count)
        return { figures: new Map(), skipped: `the kernel could allocate ${got} of ${c.pool.count} ${formatSizeSuffix(c.pool.size)} hugetlb pages now`, transcript: '' };
    }
    let out = '';
    let err = '';
    const shell = LinuxSyscalls.console(session, { stdout: (s) => (out += s), stderr: (s) => (err += s) }, 'sh');
    const exec = (cmd: string): { out: string; err: string; status: number } => {
      out = '';
      err = '';
      const status = runShell(shell, { script: cmd });
      return { out, err, status };
    };
    const r = runSteps(exec, c, { dir, nr: num(NR), oc: num(OC) });
    clean = !r.error;
    return r;
  } finally {
    process.off('exit', onExit);
    try {
      session.release();
    } finally {
      // A case that sizes the pool itself ends by putting it back; only a failed one needs this
      // (an absolute write, so not done when all went well: a concurrent session may have grown the pool).
      if (writesPool && !clean) {
        if (num(OC) !== before.oc) writeText(OC, String(before.oc));
        if (num(NR) !== before.nr) writeText(NR, String(before.nr));
      }
      try {
        rmdirSync(dir);
      } catch {
        // still busy (a lazy unmount): left in /tmp
      }
    }
  }
}

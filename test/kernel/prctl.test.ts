/**
 * prctl(PR_MCE_KILL / PR_MCE_KILL_GET) (kernel/prctl.ts) and the early-kill
 * policy it sets (kernel/mf_kill.ts): the same calls give the same answers and
 * errnos on the model and on this machine's kernel; a memory error in anonymous
 * memory is told at once only to a process that asked.
 *
 *   prctl SET EARLY → GET 1 │ SET LATE → GET 0 │ SET DEFAULT → GET 2 │ bad → EINVAL
 *   anon page poisoned:  early-kill mapper → SIGBUS BUS_MCEERR_AO now; the others → on their next touch
 */
import { describe, expect, it } from 'vitest';
import { Errno } from '../../src/lib/errno.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { PR_MCE_KILL, PR_MCE_KILL_CLEAR, PR_MCE_KILL_DEFAULT, PR_MCE_KILL_EARLY, PR_MCE_KILL_GET, PR_MCE_KILL_LATE, PR_MCE_KILL_SET } from '../../src/uapi/prctl.ts';
import { BUS_MCEERR_AO, BUS_MCEERR_AR, SIGBUS } from '../../src/uapi/signal.ts';
import type { Syscalls } from '../../src/uapi/syscalls.ts';
import { pte_pfn } from '../../src/kernel/mm/pgtable.ts';
import { noLinux } from '../linux/env.ts';
import { boot, readFile, signal } from './helpers.ts';

function res(f: () => number): string {
  try {
    return String(f());
  } catch (e) {
    if (e instanceof Errno) return e.code;
    throw e;
  }
}

/** The calls, each answer or errno; the policy is put back to the default at the end. */
function sequence(sys: Syscalls): string[] {
  const get = (): string => res(() => sys.prctl(PR_MCE_KILL_GET));
  const out = [`start ${get()}`];
  out.push(`set early ${res(() => sys.prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY))} → ${get()}`);
  out.push(`set late ${res(() => sys.prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_LATE))} → ${get()}`);
  out.push(`clear ${res(() => sys.prctl(PR_MCE_KILL, PR_MCE_KILL_CLEAR))} → ${get()}`);
  out.push(`clear with arg3 ${res(() => sys.prctl(PR_MCE_KILL, PR_MCE_KILL_CLEAR, 1))}`);
  out.push(`set 7 ${res(() => sys.prctl(PR_MCE_KILL, PR_MCE_KILL_SET, 7))} → ${get()}`); // PF_MCE_PROCESS stays set, as in Linux
  out.push(`arg2 5 ${res(() => sys.prctl(PR_MCE_KILL, 5, 0))}`);
  out.push(`arg4 ${res(() => sys.prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 1))}`);
  out.push(`get with arg2 ${res(() => sys.prctl(PR_MCE_KILL_GET, 1))}`);
  out.push(`set default ${res(() => sys.prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_DEFAULT))} → ${get()}`);
  return out;
}

const EXPECTED = [
  'start 2',
  'set early 0 → 1',
  'set late 0 → 0',
  'clear 0 → 2',
  'clear with arg3 EINVAL',
  'set 7 EINVAL → 0',
  'arg2 5 EINVAL',
  'arg4 EINVAL',
  'get with arg2 EINVAL',
  'set default 0 → 2',
];

describe('prctl(PR_MCE_KILL) and early kill (model)', () => {
  it('answers and errnos as kernel/sys.c gives them; fork keeps the policy', () => {
    const { task } = boot();
    expect(sequence(task)).toEqual(EXPECTED);
    task.prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY);
    expect(task.fork().prctl(PR_MCE_KILL_GET)).toBe(PR_MCE_KILL_EARLY);
    expect(res(() => task.prctl(99))).toBe('EINVAL');
  });

  it('an anonymous page poisoned: the early-kill mapper hears now (AO), the late one at its next touch (AR); the sysctl makes default processes early', () => {
    const { host, task } = boot();
    const a = task.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    task.store(a, new Uint8Array([1]));
    const early = task.fork();
    const late = task.fork();
    early.prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY);
    late.prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_LATE);
    for (const t of [early, late, task]) t.sigaction(SIGBUS, () => {});
    host.mf.memory_failure(pte_pfn(task.mm.pgtables.walk(a)));
    expect(early.lastSiginfo).toMatchObject({ signo: SIGBUS, code: BUS_MCEERR_AO, addr: a, lsb: 12 });
    expect(late.lastSiginfo).toBeNull();
    expect(task.lastSiginfo).toBeNull(); // default policy, vm.memory_failure_early_kill = 0
    expect(signal(() => late.load(a, 1))).toBe(`SIGBUS/${BUS_MCEERR_AR}`);
    expect(readFile(task, '/proc/sys/vm/memory_failure_early_kill')).toBe('0\n');
  });

  it('vm.memory_failure_early_kill: 0 or 1, else EINVAL; at 1 a process with no policy of its own hears at once', () => {
    const { host, task } = boot();
    const w = (v: string): string => {
      try {
        const fd = task.open('/proc/sys/vm/memory_failure_early_kill', 1);
        task.write(fd, v);
        task.close(fd);
        return 'ok';
      } catch (e) {
        return (e as Errno).code;
      }
    };
    expect([w('2\n'), w('x'), w('1\n')]).toEqual(['EINVAL', 'EINVAL', 'ok']);
    const a = task.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    task.store(a, new Uint8Array([1]));
    task.sigaction(SIGBUS, () => {});
    host.mf.memory_failure(pte_pfn(task.mm.pgtables.walk(a)));
    expect(task.lastSiginfo).toMatchObject({ code: BUS_MCEERR_AO });
  });
});

const reason = noLinux();
describe.skipIf(reason !== null)(`prctl(PR_MCE_KILL): the model against this kernel${reason ? ` (skipped: ${reason})` : ''}`, async () => {
  const { LinuxSession } = await import('../../src/linux/session.ts');
  const { LinuxSyscalls } = await import('../../src/linux/syscalls.ts');
  it('the same calls give the same answers and errnos', () => {
    const session = new LinuxSession();
    try {
      expect(sequence(LinuxSyscalls.console(session, { stdout: () => {}, stderr: () => {} }))).toEqual(EXPECTED);
    } finally {
      session.release();
    }
  });
});

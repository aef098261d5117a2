/**
 * Who hears of a memory error found in a page it maps (mm/memory-failure.c:
 * collect_procs → task_early_kill / find_early_kill_thread, kill_procs →
 * kill_proc; the vm.memory_failure_early_kill sysctl).
 *
 * A process is told at once — SIGBUS BUS_MCEERR_AO at its address of the page
 * — only if it asked for early kill: prctl(PR_MCE_KILL, PR_MCE_KILL_SET,
 * PR_MCE_KILL_EARLY) (kernel/prctl.ts), or vm.memory_failure_early_kill = 1
 * when it set no policy of its own. QEMU asks (qemu_init_sigbus), so a VMM
 * hears of errors in guest memory and passes them on to the guest; other
 * processes learn of the error only when they touch the page again (a hwpoison
 * entry, or the machine check, kernel/mce.ts). With force_early (an
 * action-required error) current is told whatever its policy.
 */
import { Errno } from '../lib/errno.ts';
import { BUS_MCEERR_AO, SIGBUS } from '../uapi/signal.ts';
import type { PseudoDir } from './fs/pseudo/index.ts';
import type { Host } from './host.ts';
import type { ToKill } from './mm/memory_failure.ts';
import type { Task } from './process.ts';
import { PF_MCE_EARLY, PF_MCE_PROCESS } from './prctl.ts';

export type { ToKill } from './mm/memory_failure.ts';

/** The memory-failure sysctls (/proc/sys/vm/memory_failure_early_kill). */
export class EarlyKillPolicy {
  /** sysctl_memory_failure_early_kill: 0 by default. */
  early_kill = 0;

  /** find_early_kill_thread(): does t want to hear of an error now? */
  wants(t: Task): boolean {
    return t.mceFlags & PF_MCE_PROCESS ? (t.mceFlags & PF_MCE_EARLY) !== 0 : this.early_kill !== 0;
  }

  /** vm.memory_failure_early_kill: 0 or 1 (proc_dointvec_minmax), else EINVAL. */
  register(proc: PseudoDir): void {
    proc.dir('sys/vm').file('memory_failure_early_kill', {
      show: () => `${this.early_kill}\n`,
      store: (text) => {
        const s = text.trim();
        if (s !== '0' && s !== '1') throw new Errno('EINVAL');
        this.early_kill = Number(s);
      },
    });
  }
}

/**
 * kill_procs(): SIGBUS BUS_MCEERR_AO to each live task of each mapping that
 * wants early kill (or is current, with force_early), with the kernel's line;
 * the number of tasks signalled.
 */
export function kill_procs(host: Host, tokill: readonly ToKill[], pfn: number, force_early: boolean): number {
  let n = 0;
  for (const tk of tokill) {
    for (const t of host.tasks.values()) {
      if (t.mm !== tk.mm || t.state === 'Z') continue;
      if (!(force_early && t === host.current) && !host.earlyKill.wants(t)) continue;
      host.log.err(`Memory failure: 0x${pfn.toString(16)}: Sending SIGBUS to ${t.comm}:${t.pid} due to hardware memory corruption`);
      host.send_signal(t, SIGBUS, { code: BUS_MCEERR_AO, addr: tk.addr, lsb: tk.lsb });
      n++;
    }
  }
  return n;
}

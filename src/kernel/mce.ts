/**
 * Consuming a poisoned frame (arch/x86/kernel/cpu/mce/core.c do_machine_check's
 * user-mode path: queue_task_work → kill_me_maybe; mm/memory-failure.c
 * memory_failure with MF_ACTION_REQUIRED on an already poisoned page →
 * kill_accessing_process → kill_proc → force_sig_mceerr(BUS_MCEERR_AR)).
 *
 * memory_failure usually takes a bad frame out of every mapping, so the next
 * access faults on a hwpoison entry instead of reading it. Where a mapping
 * survives — device-dax with map=0 (no struct pages to unmap through), a page
 * memory_failure ignored — the access reaches the frame and the CPU raises a
 * machine check. A guest's access is the same: KVM's kvm_machine_check runs
 * do_machine_check as if from user mode ("fake ring 3"), so the vCPU thread
 * gets the SIGBUS at the host address mapping the frame, which the VMM turns
 * into a guest #MC (user/vmm/mce.ts).
 *
 *   mce: Uncorrected hardware memory error in user-access at 1234000
 *   Memory failure: 0x1234: already hardware poisoned
 *   Memory failure: 0x1234: Sending SIGBUS to vmm:42 due to hardware memory corruption
 *
 * Knowingly different: the model's poison is the kernel's record
 * (memory_failure, e.g. from debugfs corrupt-pfn), and the CPU treats a
 * recorded frame as bad. On real hardware a software injection leaves the
 * frame readable; here it stands for a real uncorrected error. The SIGBUS
 * address is the accessing address (Linux walks current's page tables for a
 * mapping of the frame: the same address unless it is mapped twice), with
 * si_addr_lsb PAGE_SHIFT.
 */
import { PAGE_SHIFT, PAGE_SIZE, alignDown } from '../lib/size.ts';
import { BUS_MCEERR_AR, SIGBUS, SI_KERNEL, Signal } from '../uapi/signal.ts';
import type { HwPoison } from './mm/kmem.ts';
import { MF_ACTION_REQUIRED, type MemoryFailure } from './mm/memory_failure.ts';
import type { KernelLog } from './printk.ts';

/** -EHWPOISON: memory_failure found the frame already poisoned. */
const EHWPOISON = 133;

/** The host's machine-check handling of consumed poison. */
export class MachineCheck implements HwPoison {
  constructor(
    private readonly mf: MemoryFailure,
    private readonly log: KernelLog,
    /** current: who made the access. */
    private readonly current: () => { comm: string; pid: number } | null,
  ) {}

  get count(): number {
    return this.mf.num_poisoned_pages;
  }

  has(pfn: number): boolean {
    return this.mf.is_poisoned(pfn);
  }

  consume(pfn: number, va: number): Signal {
    const phys = pfn * PAGE_SIZE + (va % PAGE_SIZE);
    // do_machine_check → kill_me_maybe (task work, before current returns to user space).
    this.log.err(`mce: Uncorrected hardware memory error in user-access at ${phys.toString(16)}`);
    const ret = this.mf.memory_failure(pfn, MF_ACTION_REQUIRED);
    const t = this.current();
    if (ret === -EHWPOISON && t) {
      // kill_accessing_process(current) → kill_proc.
      this.log.err(`Memory failure: 0x${pfn.toString(16)}: Sending SIGBUS to ${t.comm}:${t.pid} due to hardware memory corruption`);
      return new Signal(SIGBUS, BUS_MCEERR_AR, alignDown(va, PAGE_SIZE), PAGE_SHIFT);
    }
    // "Memory error not recovered": kill_me_now's force_sig(SIGBUS), SI_KERNEL.
    this.log.err('mce: Memory error not recovered');
    return new Signal(SIGBUS, SI_KERNEL, 0);
  }
}

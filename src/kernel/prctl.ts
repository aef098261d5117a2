/**
 * prctl(2) (kernel/sys.c SYSCALL_DEFINE5(prctl)): the options the model has —
 * PR_MCE_KILL and PR_MCE_KILL_GET, a process's policy for memory errors found
 * in pages it maps (PF_MCE_PROCESS, PF_MCE_EARLY; used by memory_failure's
 * task_early_kill, kernel/mf_kill.ts). Any other option is EINVAL, as an
 * unknown one is in Linux.
 */
import { Errno } from '../lib/errno.ts';
import {
  PR_MCE_KILL,
  PR_MCE_KILL_CLEAR,
  PR_MCE_KILL_DEFAULT,
  PR_MCE_KILL_EARLY,
  PR_MCE_KILL_GET,
  PR_MCE_KILL_LATE,
  PR_MCE_KILL_SET,
} from '../uapi/prctl.ts';

/** task->flags' memory-error bits. */
export const PF_MCE_PROCESS = 0x00000080;
export const PF_MCE_EARLY = 0x08000000;

/** What prctl needs of the calling task. */
export interface PrctlTask {
  mceFlags: number;
}

/** prctl(option, arg2, arg3, arg4, arg5): its return value, or EINVAL. */
export function sys_prctl(t: PrctlTask, option: number, arg2 = 0, arg3 = 0, arg4 = 0, arg5 = 0): number {
  switch (option) {
    case PR_MCE_KILL:
      if (arg4 || arg5) throw new Errno('EINVAL');
      switch (arg2) {
        case PR_MCE_KILL_CLEAR:
          if (arg3 !== 0) throw new Errno('EINVAL');
          t.mceFlags &= ~PF_MCE_PROCESS;
          break;
        case PR_MCE_KILL_SET:
          // As Linux: PF_MCE_PROCESS is set before arg3 is looked at, so a bad arg3 leaves it set (and fails).
          t.mceFlags |= PF_MCE_PROCESS;
          if (arg3 === PR_MCE_KILL_EARLY) t.mceFlags |= PF_MCE_EARLY;
          else if (arg3 === PR_MCE_KILL_LATE) t.mceFlags &= ~PF_MCE_EARLY;
          else if (arg3 === PR_MCE_KILL_DEFAULT) t.mceFlags &= ~(PF_MCE_EARLY | PF_MCE_PROCESS);
          else throw new Errno('EINVAL');
          break;
        default:
          throw new Errno('EINVAL');
      }
      return 0;
    case PR_MCE_KILL_GET:
      if (arg2 || arg3 || arg4 || arg5) throw new Errno('EINVAL');
      if (t.mceFlags & PF_MCE_PROCESS) return t.mceFlags & PF_MCE_EARLY ? PR_MCE_KILL_EARLY : PR_MCE_KILL_LATE;
      return PR_MCE_KILL_DEFAULT;
    default:
      throw new Errno('EINVAL');
  }
}

/**
 * prctl(2) options the model implements (include/uapi/linux/prctl.h): the
 * memory-error kill policy of the calling process.
 */
export const PR_MCE_KILL = 33;
export const PR_MCE_KILL_GET = 34;
/** PR_MCE_KILL's arg2. */
export const PR_MCE_KILL_CLEAR = 0;
export const PR_MCE_KILL_SET = 1;
/** PR_MCE_KILL_SET's arg3 (and PR_MCE_KILL_GET's answer). */
export const PR_MCE_KILL_LATE = 0;
export const PR_MCE_KILL_EARLY = 1;
export const PR_MCE_KILL_DEFAULT = 2;

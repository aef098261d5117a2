/** sleep(1): NUMBER[smhd]..., summed, fractional allowed; waits with nanosleep on the virtual clock. */
import type { Program } from '../program.ts';
import { quote, usage, warn } from './common.ts';

const UNIT: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

/** sleep NUMBER[SUFFIX]... */
export const sleep: Program = ({ sys, argv }) => {
  const args = argv.slice(1).filter((a) => a !== '--');
  if (args.length === 0) return usage(sys, 'sleep', 'missing operand');
  let seconds = 0;
  let bad = false;
  for (const a of args) {
    const m = /^\+?(\d+\.?\d*|\.\d+)([smhd]?)$/.exec(a);
    if (!m) {
      warn(sys, 'sleep', `invalid time interval ${quote(a)}`);
      bad = true;
      continue;
    }
    seconds += Number(m[1]) * UNIT[m[2]!]!;
  }
  if (bad) return usage(sys, 'sleep', '');
  sys.nanosleep(Math.round(seconds * 1e9));
  return 0;
};

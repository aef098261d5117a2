/** kill(1): send a signal (default SIGTERM) to processes; messages as bash's kill. */
import { Errno } from '../../lib/errno.ts';
import { parseSignal, signame, SIGTERM } from '../../uapi/signal.ts';
import type { Program } from '../program.ts';
import { attempt, out, warn } from './common.ts';

const USAGE = 'usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec ... or kill -l [sigspec]';

/** kill [-s SIG | -n NUM | -SIG] PID... | kill -l [SIG] */
export const kill: Program = ({ sys, argv }) => {
  let sig = SIGTERM;
  let i = 1;
  const a = argv[1];
  if (a === '-l' || a === '-L') {
    const want = argv[2];
    if (want === undefined) {
      const names: string[] = [];
      for (let n = 1; n < 32; n++) {
        const s = signame(n);
        if (s) names.push(s.slice(3));
      }
      out(sys, names.join(' ') + '\n');
      return 0;
    }
    const n = /^\d+$/.test(want) ? Number(want) % 128 : parseSignal(want);
    const name = n === undefined ? undefined : /^\d+$/.test(want) ? signame(n)?.slice(3) : String(n);
    if (name === undefined) {
      warn(sys, 'kill', `${want}: invalid signal specification`);
      return 1;
    }
    out(sys, `${name}\n`);
    return 0;
  }
  if (a === '-s' || a === '-n') {
    const spec = argv[2];
    const n = spec === undefined ? undefined : parseSignal(spec);
    if (n === undefined) {
      warn(sys, 'kill', `${spec ?? ''}: invalid signal specification`);
      return 1;
    }
    sig = n;
    i = 3;
  } else if (a !== undefined && /^-[A-Za-z0-9]+$/.test(a)) {
    const n = parseSignal(a.slice(1));
    if (n === undefined) {
      warn(sys, 'kill', `${a.slice(1)}: invalid signal specification`);
      return 1;
    }
    sig = n;
    i = 2;
  } else if (a === '--') i = 2;
  if (i >= argv.length) {
    warn(sys, 'kill', USAGE);
    return 2;
  }
  let status = 0;
  for (const t of argv.slice(i)) {
    if (!/^-?\d+$/.test(t)) {
      warn(sys, 'kill', `${t}: arguments must be process or job IDs`);
      status = 1;
      continue;
    }
    const r = attempt(() => sys.kill(Number(t), sig));
    if (r instanceof Errno) {
      warn(sys, 'kill', `(${t}) - ${r.strerror}`);
      status = 1;
    }
  }
  return status;
};

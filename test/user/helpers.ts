/** Running the shell on the fake kernel for tests. */
import { Signal, SIGBUS, SIGSEGV, BUS_MCEERR_AR, SEGV_MAPERR } from '../../src/uapi/signal.ts';
import { BIN } from '../../src/user/bin.ts';
import { HOLD, type Program } from '../../src/user/program.ts';
import { runShell } from '../../src/user/sh/index.ts';
import { FakeKernel } from './fake_sys.ts';

/** Test-only programs: ones that fault, and one that parks itself like memtouch --hold. */
const EXTRA: [string, Program][] = [
  ['segv', () => {
    throw new Signal(SIGSEGV, SEGV_MAPERR, 0x1000);
  }],
  ['buserr', () => {
    throw new Signal(SIGBUS, BUS_MCEERR_AR, 0x7f0000000000, 12);
  }],
  ['hold', ({ sys }) => {
    sys.pause();
    return HOLD;
  }],
  ['args', ({ sys, argv }) => {
    sys.write(1, argv.slice(1).map((a) => `<${a}>`).join('') + '\n');
    return 0;
  }],
  ['exitwith', ({ argv }) => Number(argv[1])],
  ['printenv', ({ sys, argv, env }) => {
    sys.write(1, `${env.get(argv[1]!) ?? ''}\n`);
    return 0;
  }],
];

/** The standard programs plus the test ones. */
export const TEST_BIN = new Map<string, Program>([...BIN, ...EXTRA]);

/** Result of running a script. */
export interface ShResult {
  status: number;
  out: string;
  err: string;
  tty: string;
  k: FakeKernel;
}

/** Run `script` non-interactively on a fresh (or given) fake kernel. */
export function sh(script: string, k = new FakeKernel()): ShResult {
  const [o, e, t] = [k.out.length, k.err.length, k.tty.length];
  const sys = k.spawn();
  const status = runShell(sys, { script, bin: TEST_BIN });
  return { status, out: k.out.slice(o), err: k.err.slice(e), tty: k.tty.slice(t), k };
}

/** Run lines interactively. */
export function shInteractive(lines: string[], k = new FakeKernel()): ShResult {
  const sys = k.spawn();
  const queue = [...lines];
  const status = runShell(sys, { interactive: true, readLine: () => queue.shift() ?? null, bin: TEST_BIN });
  return { status, out: k.out, err: k.err, tty: k.tty, k };
}

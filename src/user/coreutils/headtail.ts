/** head(1) and tail(1): -n N (head: -N all but the last N; tail: +N from line N), -c N, -N shorthand. */
import { Errno } from '../../lib/errno.ts';
import { O_RDONLY } from '../../uapi/fcntl.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import type { Program } from '../program.ts';
import { out, quote, usage, warn } from './common.ts';

interface Spec {
  lines: boolean;
  n: number;
  /** head: negative count ("all but the last"); tail: "+N" (from N on). */
  flip: boolean;
}

function parseArgs(prog: string, argv: readonly string[]): { spec: Spec; files: string[] } | { error: string } {
  const spec: Spec = { lines: true, n: 10, flip: false };
  const files: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    let val: string | undefined;
    if (/^-\d+$/.test(a)) val = a.slice(1);
    else if (a === '-n' || a === '-c') {
      spec.lines = a === '-n';
      val = argv[++i];
      if (val === undefined) return { error: `option requires an argument -- '${a[1]}'` };
    } else if (/^-[nc]./.test(a)) {
      spec.lines = a[1] === 'n';
      val = a.slice(2);
    } else if (a === '--') {
      files.push(...argv.slice(i + 1));
      break;
    } else if (a.length > 1 && a.startsWith('-')) return { error: `invalid option -- '${a[1]}'` };
    else {
      files.push(a);
      continue;
    }
    const m = /^([+-]?)(\d+)$/.exec(val);
    if (!m) return { error: `invalid number of ${spec.lines ? 'lines' : 'bytes'}: ${quote(val)}` };
    spec.n = Number(m[2]);
    spec.flip = prog === 'head' ? m[1] === '-' : m[1] === '+';
  }
  return { spec, files };
}

function readInput(sys: Syscalls, f: string): string {
  if (f === '-') return readAllBytes(sys, 0);
  const fd = sys.open(f, O_RDONLY);
  try {
    return readAllBytes(sys, fd);
  } finally {
    sys.close(fd);
  }
}

function readAllBytes(sys: Syscalls, fd: number): string {
  let s = '';
  for (let c = sys.read(fd, 65536); c.length; c = sys.read(fd, 65536)) s += new TextDecoder().decode(c);
  return s;
}

/** Split keeping each line's newline. */
function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

function select(prog: string, text: string, s: Spec): string {
  const units = s.lines ? splitLines(text) : [...text];
  let pick: string[];
  if (prog === 'head') pick = s.flip ? units.slice(0, Math.max(0, units.length - s.n)) : units.slice(0, s.n);
  else pick = s.flip ? units.slice(Math.max(0, s.n - 1)) : s.n === 0 ? [] : units.slice(-s.n);
  return pick.join('');
}

function run(prog: 'head' | 'tail'): Program {
  return ({ sys, argv }) => {
    const r = parseArgs(prog, argv);
    if ('error' in r) return usage(sys, prog, r.error);
    const files = r.files.length ? r.files : ['-'];
    let status = 0;
    let first = true;
    for (const f of files) {
      let text: string;
      try {
        text = readInput(sys, f);
      } catch (e) {
        if (!(e instanceof Errno)) throw e;
        warn(sys, prog, `cannot open ${quote(f)} for reading: ${e.strerror}`);
        status = 1;
        continue;
      }
      if (files.length > 1) out(sys, `${first ? '' : '\n'}==> ${f === '-' ? 'standard input' : f} <==\n`);
      first = false;
      out(sys, select(prog, text, r.spec));
    }
    return status;
  };
}

/** head [-n N | -c N | -N] [FILE...] */
export const head = run('head');
/** tail [-n [+]N | -c [+]N | -N] [FILE...] */
export const tail = run('tail');

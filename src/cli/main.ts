/**
 * The `dmemfs` command line: boots a simulated host and drives it.
 *   dmemfs sh [--mem SIZE] [--nodes N] [--cpus N] [--machine FILE] [--cmdline "STRING"] [SCRIPT]
 *   dmemfs compare [SCENARIO.yaml] [--json] [--html FILE] [--backends id,id] [--seed N]
 *   dmemfs verify [--json] [--case NAME]
 */
import { readFileSync } from 'node:fs';
import { parseSize } from '../lib/size.ts';
import { machineFromFlags, parseMachineYaml, type MachineDesc } from '../kernel/boot/machine.ts';
import { Host } from '../kernel/host.ts';
import { runShell } from '../user/sh/index.ts';
import { readStdinLines } from './stdin.ts';
import { parseCompareArgs, processIo, runCompare } from './compare.ts';
import { linuxUnavailable, runShLinux } from './sh_linux.ts';
import { parseVerifyArgs, runVerify } from './verify.ts';

const HELP = `usage: dmemfs <command> [options]

commands:
  sh [--mem SIZE] [--nodes N] [--cpus N] [--machine FILE] [--cmdline "STRING"] [SCRIPT]
        Boot a simulated Linux host and run a shell on it: commands from SCRIPT,
        or from standard input (with a prompt when it is a terminal).
  sh --linux [--hugepages N[:SIZE]] [SCRIPT]
        Run the same shell and programs on this machine's real kernel (Linux
        x86-64, through koffi): real files, memory, errnos and fault counts.
        --hugepages adds N pages (default size, or 2M/1G) to the hugetlb pool
        for the session (root) and restores the pool when it ends.
  compare [SCENARIO.yaml] [--json] [--html FILE] [--backends id,id] [--seed N]
        Boot one host per memory backend, run the scenario's fleet on each and
        compare what each cost (default scenario: examples/default.yaml).
  verify [--json] [--case NAME]
        Run scripted cases (KVM pages by level, HugePages_* counters, memtouch
        faults) on a model host shaped like this machine and on this machine's
        kernel; print each figure side by side with a verdict.
  help  Show this text.

Sizes take K, M, G, T suffixes (powers of 1024). Defaults: --mem 64G --nodes 1 --cpus 4.
`;

/** Thrown for a bad command line; main prints it and exits 2. */
export class UsageError extends Error {}

interface ShOptions {
  machine: MachineDesc;
  cmdline: string;
  script: string | null;
  /** Run on the real kernel (src/linux) instead of a simulated host. */
  linux: boolean;
  hugepages: { count: number; size: number } | null;
}

/** Read a file named on the command line; a missing or unreadable one is a usage error. */
function readArgFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'No such file or directory' : err.code === 'EISDIR' ? 'Is a directory' : err.message;
    throw new UsageError(`${path}: ${why}`);
  }
}

function parseShArgs(args: string[]): ShOptions {
  let mem: number | undefined;
  let nodes: number | undefined;
  let cpus: number | undefined;
  let machineFile: string | null = null;
  let cmdline = '';
  let script: string | null = null;
  let linux = false;
  let hugepages: ShOptions['hugepages'] = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const val = (): string => {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`option '${a}' requires an argument`);
      return v;
    };
    const int = (name: string): number => {
      const v = val();
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${name}: not a positive integer: '${v}'`);
      return Number(v);
    };
    if (a === '--mem') {
      const v = val();
      mem = parseSize(v);
      if (mem === undefined) throw new UsageError(`--mem: not a size: '${v}'`);
    } else if (a === '--nodes') nodes = int('--nodes');
    else if (a === '--cpus') cpus = int('--cpus');
    else if (a === '--machine') machineFile = val();
    else if (a === '--cmdline') cmdline = val();
    else if (a === '--linux') linux = true;
    else if (a === '--hugepages') {
      const v = val();
      const m = /^(\d+)(?::(\w+))?$/.exec(v);
      const size = m?.[2] ? parseSize(m[2]) : 0;
      if (!m || size === undefined) throw new UsageError(`--hugepages: not N or N:SIZE: '${v}'`);
      hugepages = { count: Number(m[1]), size };
    }
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option '${a}'`);
    else if (script === null) script = a;
    else throw new UsageError(`unexpected argument '${a}'`);
  }
  let machine: MachineDesc;
  try {
    if (machineFile) {
      if (mem !== undefined || nodes !== undefined) throw new UsageError('--machine cannot be combined with --mem or --nodes');
      machine = parseMachineYaml(readArgFile(machineFile));
    } else {
      machine = machineFromFlags({ mem, nodes, cpus });
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
  if (hugepages && !linux) throw new UsageError('--hugepages needs --linux');
  if (linux && (mem !== undefined || nodes !== undefined || cpus !== undefined || machineFile || cmdline))
    throw new UsageError('--linux runs on this machine: --mem, --nodes, --cpus, --machine and --cmdline do not apply');
  return { machine, cmdline, script, linux, hugepages };
}

/** Where a shell session's output goes and where its commands come from. */
export interface ShIo {
  stdout(s: string): void;
  stderr(s: string): void;
  /** Script text; null reads the terminal line by line. */
  script: string | null;
  readLine?: () => string | null;
}

/** Boot a host from `dmemfs sh` arguments and run a shell session on it; returns its exit status. */
export function runSh(args: string[], io: ShIo): number {
  const o = parseShArgs(args);
  if (o.linux) {
    const why = linuxUnavailable();
    if (why) throw new UsageError(`--linux: ${why}`);
    return runShLinux({ hugepages: o.hugepages, script: io.script, interactive: io.script === null, readLine: io.readLine, stdout: io.stdout, stderr: io.stderr });
  }
  const host = Host.boot({ machine: o.machine, cmdline: o.cmdline });
  const shell = host.spawnConsoleTask('sh', { stdout: io.stdout, stderr: io.stderr });
  return runShell(shell, {
    script: io.script ?? undefined,
    interactive: io.script === null,
    readLine: io.readLine,
  });
}

/** `dmemfs sh`: a script file, all of a non-terminal standard input, or a terminal read line by line. */
function sh(args: string[]): number {
  const script = parseShArgs(args).script;
  const interactive = (script === null || script === '-') && process.stdin.isTTY === true;
  const text = interactive ? null : script && script !== '-' ? readArgFile(script) : readFileSync(0, 'utf8');
  return runSh(args, {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    script: text,
    ...(interactive ? { readLine: readStdinLines(true) } : {}),
  });
}

/** Entry point: returns the process exit status. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    // `dmemfs COMMAND --help` shows the same text as `dmemfs help`.
    if (cmd !== undefined && (rest[0] === '--help' || rest[0] === '-h')) {
      process.stdout.write(HELP);
      return 0;
    }
    switch (cmd) {
      case 'sh':
        return sh(rest);
      case 'compare':
        return runCompare(parseCompareArgs(rest, (m) => new UsageError(m)), processIo);
      case 'verify':
        return runVerify(parseVerifyArgs(rest, (m) => new UsageError(m)), processIo);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(HELP);
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${cmd}'`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`dmemfs: ${e.message}\nTry 'dmemfs help' for more information.\n`);
      return 2;
    }
    throw e;
  }
}

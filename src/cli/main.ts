/**
 * The `dmemfs` command line: boots a simulated host and drives it.
 *   dmemfs sh [--mem SIZE] [--nodes N] [--cpus N] [--machine FILE] [--cmdline "STRING"] [SCRIPT]
 */
import { readFileSync } from 'node:fs';
import { parseSize } from '../lib/size.ts';
import { machineFromFlags, parseMachineYaml, type MachineDesc } from '../kernel/boot/machine.ts';
import { Host } from '../kernel/host.ts';
import { runShell } from '../user/sh/index.ts';
import { readStdinLines } from './stdin.ts';

const HELP = `usage: dmemfs <command> [options]

commands:
  sh [--mem SIZE] [--nodes N] [--cpus N] [--machine FILE] [--cmdline "STRING"] [SCRIPT]
        Boot a simulated Linux host and run a shell on it: commands from SCRIPT,
        or from standard input (with a prompt when it is a terminal).
  help  Show this text.

Sizes take K, M, G, T suffixes (powers of 1024). Defaults: --mem 64G --nodes 1 --cpus 4.
`;

/** Thrown for a bad command line; main prints it and exits 2. */
class UsageError extends Error {}

interface ShOptions {
  machine: MachineDesc;
  cmdline: string;
  script: string | null;
}

function parseShArgs(args: string[]): ShOptions {
  let mem: number | undefined;
  let nodes: number | undefined;
  let cpus: number | undefined;
  let machineFile: string | null = null;
  let cmdline = '';
  let script: string | null = null;
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
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option '${a}'`);
    else if (script === null) script = a;
    else throw new UsageError(`unexpected argument '${a}'`);
  }
  let machine: MachineDesc;
  try {
    if (machineFile) {
      if (mem !== undefined || nodes !== undefined) throw new UsageError('--machine cannot be combined with --mem or --nodes');
      machine = parseMachineYaml(readFileSync(machineFile, 'utf8'));
    } else {
      machine = machineFromFlags({ mem, nodes, cpus });
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
  return { machine, cmdline, script };
}

/** Run `dmemfs sh`: boot, run the shell, return its exit status. */
function sh(args: string[]): number {
  const o = parseShArgs(args);
  const interactive = (o.script === null || o.script === '-') && process.stdin.isTTY === true;
  // A script file, or all of a non-terminal standard input, runs as a script; a terminal is read line by line.
  const scriptText = interactive ? null : o.script && o.script !== '-' ? readFileSync(o.script, 'utf8') : readFileSync(0, 'utf8');
  const lines = interactive ? readStdinLines(true) : null;
  const host = Host.boot({ machine: o.machine, cmdline: o.cmdline });
  const shell = host.spawnConsoleTask('sh', {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
  });
  return runShell(shell, {
    script: scriptText ?? undefined,
    interactive,
    readLine: lines ?? undefined,
  });
}

/** Entry point: returns the process exit status. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'sh':
        return sh(rest);
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
      process.stderr.write(`dmemfs: ${e.message}\n${HELP}`);
      return 2;
    }
    throw e;
  }
}

/**
 * Shell builtins: the commands that must run inside the shell's own process
 * (cd, exit, set, export, ...) plus echo/test/true/false, which bash also
 * builds in. Each takes the shell and argv and returns a status.
 */
import { Errno } from '../../lib/errno.ts';
import { echo } from '../coreutils/echo.ts';
import { writeStr } from '../program.ts';
import { ExitShell, LoopControl } from './control.ts';
import type { Shell } from './interp.ts';
import { evalTest, TestError } from './test.ts';

/** A builtin command. */
export type Builtin = (sh: Shell, argv: string[]) => number;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function cd(sh: Shell, argv: string[]): number {
  if (argv.length > 2) {
    sh.err('cd: too many arguments');
    return 1;
  }
  let dir = argv[1] ?? sh.vars.get('HOME');
  if (dir === undefined) {
    sh.err('cd: HOME not set');
    return 1;
  }
  const dash = dir === '-';
  if (dash) {
    const old = sh.vars.get('OLDPWD');
    if (old === undefined) {
      sh.err('cd: OLDPWD not set');
      return 1;
    }
    dir = old;
  }
  const old = safeCwd(sh);
  try {
    sh.sys.chdir(dir);
  } catch (e) {
    if (!(e instanceof Errno)) throw e;
    sh.err(`cd: ${dir}: ${e.strerror}`);
    return 1;
  }
  sh.vars.set('OLDPWD', old);
  sh.vars.set('PWD', safeCwd(sh));
  if (dash) writeStr(sh.sys, 1, `${sh.vars.get('PWD')}\n`);
  return 0;
}

function safeCwd(sh: Shell): string {
  try {
    return sh.sys.getcwd();
  } catch {
    return sh.vars.get('PWD') ?? '/';
  }
}

function pwd(sh: Shell): number {
  writeStr(sh.sys, 1, `${safeCwd(sh)}\n`);
  return 0;
}

function exit(sh: Shell, argv: string[]): number {
  if (sh.cfg.interactive && !sh.isSubshell) writeStr(sh.sys, 2, 'exit\n');
  if (argv.length > 2) {
    sh.err('exit: too many arguments');
    return 1;
  }
  const arg = argv[1];
  if (arg === undefined) throw new ExitShell(sh.status);
  if (!/^\s*[+-]?\d+\s*$/.test(arg)) {
    sh.err(`exit: ${arg}: numeric argument required`);
    throw new ExitShell(2);
  }
  throw new ExitShell(((Number(arg) % 256) + 256) % 256);
}

function set(sh: Shell, argv: string[]): number {
  if (argv.length === 1) {
    for (const k of [...sh.vars.keys()].sort()) writeStr(sh.sys, 1, `${k}=${quoteValue(sh.vars.get(k)!)}\n`);
    return 0;
  }
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      sh.positionalParams = argv.slice(i + 1);
      return 0;
    }
    const on = a[0] === '-';
    if ((a[0] !== '-' && a[0] !== '+') || a.length < 2) {
      sh.positionalParams = argv.slice(i);
      return 0;
    }
    if (a === '-o' || a === '+o') {
      const opt = argv[++i];
      if (opt === 'errexit') sh.errexit = on;
      else if (opt === 'xtrace') sh.xtrace = on;
      else {
        sh.err(`set: ${opt ?? ''}: invalid option name`);
        return 2;
      }
      continue;
    }
    for (const c of a.slice(1)) {
      if (c === 'e') sh.errexit = on;
      else if (c === 'x') sh.xtrace = on;
      else {
        sh.err(`set: ${a[0]}${c}: invalid option`);
        writeStr(sh.sys, 2, 'set: usage: set [-abefhkmnptuvxBCEHPT] [-o option-name] [--] [-] [arg ...]\n');
        return 2;
      }
    }
  }
  return 0;
}

function exportCmd(sh: Shell, argv: string[]): number {
  const args = argv.slice(1).filter((a) => a !== '-p');
  if (args.length === 0) {
    for (const k of [...sh.exported].sort()) {
      const v = sh.vars.get(k);
      writeStr(sh.sys, 1, v === undefined ? `declare -x ${k}\n` : `declare -x ${k}="${v.replace(/(["\\$`])/g, '\\$1')}"\n`);
    }
    return 0;
  }
  let st = 0;
  for (const a of args) {
    const eq = a.indexOf('=');
    const name = eq < 0 ? a : a.slice(0, eq);
    if (!NAME.test(name)) {
      sh.err(`export: \`${a}': not a valid identifier`);
      st = 1;
      continue;
    }
    if (eq >= 0) sh.vars.set(name, a.slice(eq + 1));
    sh.exported.add(name);
  }
  return st;
}

function unset(sh: Shell, argv: string[]): number {
  let st = 0;
  for (const a of argv.slice(1)) {
    if (a === '-v' || a === '-f') continue;
    if (!NAME.test(a)) {
      sh.err(`unset: \`${a}': not a valid identifier`);
      st = 1;
      continue;
    }
    sh.vars.delete(a);
    sh.exported.delete(a);
  }
  return st;
}

function test(sh: Shell, argv: string[]): number {
  const name = argv[0]!;
  let args = argv.slice(1);
  if (name === '[') {
    if (args[args.length - 1] !== ']') {
      sh.err("[: missing `]'");
      return 2;
    }
    args = args.slice(0, -1);
  }
  try {
    return evalTest(sh.sys, args);
  } catch (e) {
    if (!(e instanceof TestError)) throw e;
    sh.err(`${name}: ${e.message}`);
    return 2;
  }
}

function loopControl(sh: Shell, argv: string[]): number {
  const kind = argv[0] as 'break' | 'continue';
  const n = argv[1] === undefined ? 1 : Number(argv[1]);
  if (!Number.isInteger(n) || n < 1) {
    sh.err(`${kind}: ${argv[1]}: loop count out of range`);
    return 1;
  }
  if (sh.loopDepth === 0) {
    sh.err(`${kind}: only meaningful in a \`for', \`while', or \`until' loop`);
    return 0;
  }
  throw new LoopControl(kind, Math.min(n, sh.loopDepth));
}

/** `wait`: children here have already run to completion; collect them. */
function wait(sh: Shell): number {
  for (;;) {
    try {
      if (sh.sys.wait4(-1, 1).pid === 0) return 0;
    } catch {
      return 0;
    }
  }
}

function quoteValue(v: string): string {
  return /^[A-Za-z0-9_./:,+=@%-]*$/.test(v) ? v : `'${v.replace(/'/g, "'\\''")}'`;
}

/** Builtins by name. */
export const BUILTINS: ReadonlyMap<string, Builtin> = new Map<string, Builtin>([
  ['cd', cd],
  ['pwd', pwd],
  ['echo', (sh, argv) => echo({ sys: sh.sys, argv, env: new Map() }) as number],
  ['true', () => 0],
  ['false', () => 1],
  [':', () => 0],
  ['exit', exit],
  ['set', set],
  ['export', exportCmd],
  ['unset', unset],
  ['test', test],
  ['[', test],
  ['break', loopControl],
  ['continue', loopControl],
  ['wait', wait],
]);

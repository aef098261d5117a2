/** The one-liners: true, false, pwd, basename, dirname, env, dmesg. */
import { SYSLOG_ACTION_READ_ALL } from '../../uapi/syscalls.ts';
import type { Program } from '../program.ts';
import { baseName, out, usage } from './common.ts';

/** true(1). */
export const trueProgram: Program = () => 0;

/** false(1). */
export const falseProgram: Program = () => 1;

/** pwd(1). */
export const pwd: Program = ({ sys }) => {
  out(sys, `${sys.getcwd()}\n`);
  return 0;
};

/** basename NAME [SUFFIX]. */
export const basename: Program = ({ sys, argv }) => {
  if (argv.length < 2) return usage(sys, 'basename', 'missing operand');
  if (argv.length > 3) return usage(sys, 'basename', `extra operand '${argv[3]}'`);
  let b = baseName(argv[1]!);
  const suffix = argv[2];
  if (suffix && b !== suffix && b.endsWith(suffix)) b = b.slice(0, -suffix.length);
  out(sys, `${b}\n`);
  return 0;
};

/** dirname NAME... */
export const dirname: Program = ({ sys, argv }) => {
  if (argv.length < 2) return usage(sys, 'dirname', 'missing operand');
  for (const a of argv.slice(1)) {
    const t = a.replace(/\/+$/, '');
    let d: string;
    if (t === '') d = a.startsWith('/') ? '/' : '.';
    else if (!t.includes('/')) d = '.';
    else d = t.slice(0, t.lastIndexOf('/')).replace(/\/+$/, '') || '/';
    out(sys, `${d}\n`);
  }
  return 0;
};

/** env: print the environment (running a command through env is not supported). */
export const env: Program = ({ sys, argv, env: vars }) => {
  if (argv.length > 1) return usage(sys, 'env', `'${argv[1]}': running a command is not supported`, 125);
  for (const [k, v] of vars) out(sys, `${k}=${v}\n`);
  return 0;
};

/** dmesg: the kernel log as syslog(SYSLOG_ACTION_READ_ALL) returns it. */
export const dmesg: Program = ({ sys }) => {
  out(sys, sys.syslog(SYSLOG_ACTION_READ_ALL));
  return 0;
};
